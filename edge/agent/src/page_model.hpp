#pragma once
// What the gateway's local page shows beside the tickets (docs/local-ui.md): each device's newest values merged
// over its fast and slow polls, and today's energy against the clear-sky expectation. Executor only.
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/solar/expected_power.hpp"
#include "pvfleet/solar/position.hpp"
#include "pvfleet/store/gateway_store.hpp"

namespace pvfleet::agent {

class PageModel {
public:
    // `store` must outlive this; `expected` is empty when the config describes no arrays.
    PageModel(const store::GatewayStore& store, solar::Location location,
              std::optional<solar::ExpectedPowerModel> expected);

    void note_sample(const domain::Sample& s);
    // The device's merged newest reading, or nullptr before its first.
    [[nodiscard]] const domain::Sample* latest(const std::string& device_id) const;
    // {"day_start", "basis", "devices": [{id, energy_kwh, expected_kwh, expected_so_far_kwh}], totals}.
    [[nodiscard]] nlohmann::json today(TimePoint now, const std::vector<DeviceSpec>& devices) const;

private:
    // The local mean-solar day (midnight to midnight in mean solar time), as detection counts days: no time
    // zone needed, and it matches solar::ExpectedPowerModel::daily_energy_around().
    [[nodiscard]] long long solar_day(TimePoint t) const;
    [[nodiscard]] TimePoint day_start(long long day) const;

    struct DayEnergy {
        long long day = -1;
        std::optional<double> first_wh;  // the counter at the day's first sample
        std::optional<double> last_wh;
    };
    const store::GatewayStore& store_;
    solar::Location location_;
    std::map<std::string, domain::Sample> latest_;
    std::map<std::string, DayEnergy> day_energy_;
    std::optional<solar::ExpectedPowerModel> expected_;
    // The expectation for today, and so far today (an integration: once a minute is fresh enough).
    mutable long long expected_day_ = -1;
    mutable solar::DailyEnergy expected_today_;
    mutable TimePoint expected_so_far_at_{};
    mutable std::optional<solar::DailyEnergy> expected_so_far_;
};

// A ticket as the page lists it.
nlohmann::json page_ticket_json(const domain::Ticket& t);
// The page's three device states: a device not polled yet or whose map does not fit counts as offline (the raw
// acquisition state is shown beside it).
std::string_view page_state(acquisition::DeviceState s);

}  // namespace pvfleet::agent
