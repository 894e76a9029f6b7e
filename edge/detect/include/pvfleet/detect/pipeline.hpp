#pragma once
// The one detection path shared by the live agent and `replay`: samples (and "device did not answer")
// in, detectors, ticket rules, ticket events out. Pure: no I/O; time comes from the samples and a Clock.
// The rules themselves live one per file in src/rules/ (rule.hpp lists them); the pipeline keeps the bookkeeping
// they share and dispatches.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pvfleet/detect/config.hpp"
#include "pvfleet/detect/sun.hpp"
#include "pvfleet/detect/ticket_book.hpp"
#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::detect {

struct DeviceState;  // per-device detector state (src/device_state.hpp)

class DetectionPipeline {
public:
    // `sun` and `clock` must outlive the pipeline.
    DetectionPipeline(DetectionConfig config, const SunModel& sun, const Clock& clock);
    ~DetectionPipeline();
    DetectionPipeline(const DetectionPipeline&) = delete;
    DetectionPipeline& operator=(const DetectionPipeline&) = delete;

    // A decoded reading. Samples of one device must come in time order; older ones are ignored.
    std::vector<domain::TicketEvent> on_sample(const domain::Sample& sample);
    // The device did not answer a poll at time t.
    std::vector<domain::TicketEvent> on_no_answer(const std::string& device_id, TimePoint t);
    // Housekeeping at clock.now(): closes resolved tickets after their quiet period.
    std::vector<domain::TicketEvent> tick();
    // The wall clock stepped forward by `by` (NTP setting a clock that stood still or ran slow): an open gap
    // without answers moves with it, so the step is never counted as time without an answer. (A step back
    // needs nothing here: older samples are ignored, and a gap only grows when time moves past its end.)
    void clock_stepped(Millis by);

    // Technician actions, stamped with clock.now().
    Result<domain::TicketEvent> acknowledge(const std::string& id, const std::string& by, const std::string& note);
    Result<domain::TicketEvent> resolve(const std::string& id, const std::string& by);
    Result<domain::TicketEvent> close(const std::string& id);

    // Which inputs of each inverter have an array (site config); inverters left out learn their unused inputs.
    void set_wiring(InputWiring wiring) { wiring_ = std::move(wiring); }
    // What the string fault rule knows of each input of a device, for the commissioning view:
    // "wired", "unwired" (site config), "producing", "unused" (learned), "not seen producing yet".
    [[nodiscard]] std::vector<std::string> input_status(const std::string& device_id) const;

    [[nodiscard]] const TicketBook& book() const { return book_; }
    TicketBook& book() { return book_; }
    [[nodiscard]] const DetectionConfig& config() const { return config_; }

    // Detector state (debounce timers, learned baselines) as JSON, so a restart resumes where it stopped.
    [[nodiscard]] nlohmann::json save_state() const;
    Status load_state(const nlohmann::json& state);
    // Time of the newest sample seen of any device (replay resumes after it).
    [[nodiscard]] std::optional<TimePoint> last_sample_time() const;

private:
    DeviceState& device(const std::string& id);

    DetectionConfig config_;
    const SunModel& sun_;
    const Clock& clock_;
    TicketBook book_;
    InputWiring wiring_;
    std::map<std::string, std::unique_ptr<DeviceState>, std::less<>> devices_;
    struct SiteHold;
    std::unique_ptr<SiteHold> site_;
};

}  // namespace pvfleet::detect
