#pragma once
// Poll scheduler and per-device state for the devices behind one endpoint (or several: it only needs a bus
// per device). Single-threaded by design: poll_due() does the blocking Modbus reads on the calling thread.
// The agent runs one Poller per endpoint on its own thread (run()), so a silent device on one bus never
// delays another bus and nothing blocks the Asio executor. Callbacks (SampleSink, StateSink) are invoked on
// that poll thread: the agent posts them onto its executor.
//
// Device states:
//   ok         answered the last poll
//   asleep     answers with a resting state (SunSpec SLEEPING/STANDBY, vendor standby codes, off), or
//              does not answer while the sun is down — night is a state, never a fault
//   offline    no answer for `failures_before_offline` polls in a row while the sun is up; polled on a capped
//              exponential backoff forever (a snow-covered inverter can be silent for weeks)
//   map_error  the device rejected a register of its map (illegal address): reported once, then re-checked
//              at the slow interval in case firmware changes
//
// Samples: one per successful fast poll, stamped with the poll start. Values of the slow class are carried in
// every fast sample after they were read, until the next failed poll or until they are older than
// 2 x slow interval — whichever first (decision: the store and detectors want energy counters with each power
// reading; after a failure nothing read before it is republished). Once-class values are carried until a
// failure and re-read at the next successful contact. Failed polls publish no sample: values are absent, never
// stale. Every decoded value passes the plausibility layer first (plausibility.hpp: bounds from the point and
// the device's rating); what it refuses is absent in the sample and listed once, in the sample of the poll that
// read it, under `Sample::implausible`. Lifetime energy counters only move forward (MonotonicCounters); a
// dropped reading sets the event "energy_counter_glitch".
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "pvfleet/acquisition/counters.hpp"
#include "pvfleet/acquisition/device_model.hpp"
#include "pvfleet/acquisition/plausibility.hpp"
#include "pvfleet/domain/sample.hpp"
#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/modbus/sleeper.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::acquisition {

enum class DeviceState { unknown, ok, asleep, offline, map_error };
std::string_view to_string(DeviceState s);

struct PollIntervals {
    Millis fast{10'000};
    Millis slow{300'000};
    Millis asleep{120'000};          // how often a sleeping device is asked whether it woke up
    Millis offline_max{600'000};     // cap of the offline backoff (fast, 2x, 4x, ... up to this)
    int failures_before_offline = 2; // failed polls in a row before a device counts as offline
};

struct DeviceConfig {
    std::string id;                        // site-unique, e.g. "inv1"
    modbus::ModbusBus* bus = nullptr;      // shared by every device on the endpoint; must outlive the poller
    uint8_t unit = 1;
    std::unique_ptr<DeviceModel> model;
    PollIntervals intervals;
    Rating rating;                         // bounds of its values (plausibility.hpp)
};

struct DeviceStatus {
    std::string id;
    DeviceState state = DeviceState::unknown;
    std::optional<TimePoint> last_ok;      // last poll that produced a sample (the heartbeat reports it)
    std::optional<TimePoint> next_poll;
    int failures_in_row = 0;
    std::string last_error;                // empty after a success
};

using SampleSink = std::function<void(const domain::Sample&)>;
// (device id, previous state, new state, why)
using StateSink = std::function<void(const std::string&, DeviceState, DeviceState, const std::string&)>;
// True while the sun is below the horizon at the site (pvfleet::solar, wired by the agent).
using SunIsDown = std::function<bool(TimePoint)>;

class Poller {
public:
    Poller(const Clock& clock, modbus::Sleeper& sleeper, SampleSink on_sample, StateSink on_state = {},
           SunIsDown sun_is_down = {});
    ~Poller();
    Poller(const Poller&) = delete;
    Poller& operator=(const Poller&) = delete;

    // Devices are polled in the order added; the first poll of each is due at once.
    void add_device(DeviceConfig config);

    // Polls every device that is due now; returns when the next one is due.
    TimePoint poll_due();
    // poll_due() then sleep until the next is due, until stop is requested (checked at least every
    // `stop_check` of sleep).
    void run(std::stop_token stop, Millis stop_check = Millis{500});

    [[nodiscard]] std::vector<DeviceStatus> status() const;
    [[nodiscard]] std::optional<DeviceStatus> status(std::string_view id) const;

private:
    struct Device;
    void poll_device(Device& d, TimePoint now);
    void set_state(Device& d, DeviceState next, const std::string& why);
    void on_failure(Device& d, TimePoint now, const Error& error);

    const Clock& clock_;
    modbus::Sleeper& sleeper_;
    SampleSink on_sample_;
    StateSink on_state_;
    SunIsDown sun_is_down_;
    std::vector<std::unique_ptr<Device>> devices_;
};

}  // namespace pvfleet::acquisition
