#include "page_model.hpp"

#include <algorithm>
#include <cmath>

#include "pvfleet/detect/ticket_book.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::agent {
using nlohmann::json;

namespace {
constexpr long long kDayMs = 86'400'000LL;
}  // namespace

PageModel::PageModel(const store::GatewayStore& store, solar::Location location,
                     std::optional<solar::ExpectedPowerModel> expected)
    : store_(store), location_(location), expected_(std::move(expected)) {}

long long PageModel::solar_day(TimePoint t) const {
    const double solar_ms = static_cast<double>(to_epoch_ms(t)) + location_.longitude_deg / 15.0 * 3'600'000.0;
    return static_cast<long long>(std::floor(solar_ms / static_cast<double>(kDayMs)));
}

TimePoint PageModel::day_start(long long day) const {
    return TimePoint{Millis{day * kDayMs - static_cast<long long>(location_.longitude_deg / 15.0 * 3'600'000)}};
}

void PageModel::note_sample(const domain::Sample& s) {
    auto& l = latest_[s.device_id];
    // A fast poll carries power, state and events; a slow one energy and temperatures: the page shows the
    // newest of each, so a slow sample must not clear the events of the fast one before it.
    const bool fast = s.state.has_value() || s.values.contains("ac_power_w");
    l.device_id = s.device_id;
    l.t = std::max(l.t, s.t);
    for (const auto& [k, v] : s.values) l.values.insert_or_assign(k, v);
    for (const auto& [k, v] : s.arrays) l.arrays.insert_or_assign(k, v);
    if (s.state) l.state = s.state;
    if (fast) l.events = s.events;

    const auto wh = s.value("energy_total_wh");
    if (!wh) return;
    auto& d = day_energy_[s.device_id];
    const long long day = solar_day(s.t);
    if (d.day != day) {
        d = DayEnergy{day, {}, {}};
        // After a restart the day's first counter reading is in the store: one query per device and day.
        if (auto rows = store_.samples(s.device_id, day_start(day), s.t)) {
            for (const auto& row : *rows) {
                if (auto first = row.value("energy_total_wh")) {
                    d.first_wh = first;
                    break;
                }
            }
        }
        if (!d.first_wh) d.first_wh = wh;
    }
    d.last_wh = wh;
}

const domain::Sample* PageModel::latest(const std::string& device_id) const {
    auto it = latest_.find(device_id);
    return it == latest_.end() ? nullptr : &it->second;
}

json PageModel::today(TimePoint now, const std::vector<DeviceSpec>& devices) const {
    const long long day = solar_day(now);
    const TimePoint start = day_start(day);
    if (expected_ && expected_day_ != day) {
        expected_today_ = expected_->daily_energy_around(now);
        expected_day_ = day;
    }
    if (expected_ && (!expected_so_far_ || now - expected_so_far_at_ > Millis{60'000})) {
        expected_so_far_ = expected_->energy_between(start, now);
        expected_so_far_at_ = now;
    }
    json rows = json::array();
    double total = 0;
    bool any = false;
    for (const auto& d : devices) {
        json row = {{"id", d.id}, {"energy_kwh", nullptr}, {"expected_kwh", nullptr}, {"expected_so_far_kwh", nullptr}};
        if (auto it = day_energy_.find(d.id);
            it != day_energy_.end() && it->second.day == day && it->second.first_wh && it->second.last_wh) {
            const double kwh = std::max(0.0, *it->second.last_wh - *it->second.first_wh) / 1000.0;
            row["energy_kwh"] = kwh;
            total += kwh;
            any = true;
        }
        if (expected_) {
            const auto& inverters = expected_->site().inverters;
            for (size_t i = 0; i < inverters.size(); ++i) {
                if (inverters[i].id != d.id) continue;
                if (i < expected_today_.inverter_ac_wh.size())
                    row["expected_kwh"] = expected_today_.inverter_ac_wh[i] / 1000.0;
                if (expected_so_far_ && i < expected_so_far_->inverter_ac_wh.size())
                    row["expected_so_far_kwh"] = expected_so_far_->inverter_ac_wh[i] / 1000.0;
            }
        }
        rows.push_back(std::move(row));
    }
    return {{"day_start", format_iso8601(start)},
            {"basis", "mean solar day; expected = clear sky"},
            {"devices", rows},
            {"energy_kwh", any ? json(total) : json(nullptr)},
            {"expected_kwh", expected_ ? json(expected_today_.total_ac_wh / 1000.0) : json(nullptr)},
            {"expected_so_far_kwh",
             expected_ && expected_so_far_ ? json(expected_so_far_->total_ac_wh / 1000.0) : json(nullptr)}};
}

json page_ticket_json(const domain::Ticket& t) { return detect::to_page_json(t); }

std::string_view page_state(acquisition::DeviceState s) {
    switch (s) {
        case acquisition::DeviceState::ok:
            return "ok";
        case acquisition::DeviceState::asleep:
            return "asleep";
        default:
            return "offline";
    }
}

}  // namespace pvfleet::agent
