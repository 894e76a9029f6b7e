#include "pvfleet/detect/pipeline.hpp"

#include <algorithm>
#include <cmath>

#include "device_state.hpp"
#include "pvfleet/domain/points.hpp"
#include "rules/rule.hpp"

namespace pvfleet::detect {

using domain::Sample;
using domain::TicketEvent;
namespace points = domain::points;
using rules::kHour;
using rules::kMinute;

struct DetectionPipeline::SiteHold {
    Hold grid;
};

DetectionPipeline::DetectionPipeline(DetectionConfig config, const SunModel& sun, const Clock& clock)
    : config_(config), sun_(sun), clock_(clock), book_(config.tickets), site_(std::make_unique<SiteHold>()) {}

DetectionPipeline::~DetectionPipeline() = default;

DeviceState& DetectionPipeline::device(const std::string& id) {
    auto it = devices_.find(id);
    if (it == devices_.end()) it = devices_.emplace(id, std::make_unique<DeviceState>()).first;
    return *it->second;
}

namespace {

// The day's energy and shape sums that the daily rules judge at dusk.
void accumulate_day(rules::RuleContext& c, DeviceState& s, double power_w, long long now) {
    const double dt_h = std::min(static_cast<double>(now - *s.last_ms), kHour) / kHour;
    const double p = std::max(0.0, power_w);
    const double e = c.sun.expected_ac_w;
    DayAccum& d = s.today;
    d.measured_wh += p * dt_h;
    d.expected_wh += e * dt_h;
    d.saw_daylight = true;
    // Clock-drift profile over the whole sunlit day (not only judged daylight, whose edges would cut a
    // shifted day short).
    if (d.slot_p.empty()) {
        d.slot_p.assign(96, 0.0);
        d.slot_e.assign(96, 0.0);
    }
    const auto slot = static_cast<std::size_t>(std::clamp(static_cast<int>(c.solar_hour * 4), 0, 95));
    d.slot_p[slot] += p * dt_h;
    d.slot_e[slot] += e * dt_h;
    if (c.daylight) {
        d.spp += p * p;
        d.spe += p * e;
        d.see += e * e;
        d.n += 1;
        if (d.plast >= 0) d.tv += std::abs(p - d.plast);
        d.plast = p;
        d.pmax = std::max(d.pmax, p);
    }
}

// Down with no AC voltage on any phase: this device's part of the site-wide grid outage rule.
bool down_without_grid(const DetectionConfig& cfg, const Sample& x, double near_zero_w) {
    const auto power = x.value(points::ac_power_w);
    bool low_voltage = false;
    if (auto it = x.arrays.find(points::ac_voltage_v); it != x.arrays.end() && !it->second.empty()) {
        low_voltage = true;
        for (const auto& v : it->second) low_voltage = low_voltage && v && *v < cfg.grid_outage.max_ac_voltage_v;
    }
    return power && *power <= near_zero_w && low_voltage;
}

}  // namespace

std::vector<TicketEvent> DetectionPipeline::on_sample(const Sample& x) {
    std::vector<TicketEvent> out;
    DeviceState& s = device(x.device_id);
    const long long now = to_epoch_ms(x.t);
    if (s.last_ms && now <= *s.last_ms) return out;
    const SunConditions sun = sun_.at(x.device_id, x.t);
    rules::RuleContext c{config_, book_, out, x.device_id, x.t, sun, rules::near_zero(config_, sun),
                         rules::judged_daylight(config_, sun)};
    const auto power = x.value(points::ac_power_w);
    const auto energy = rules::generation_energy(s, x);
    rules::comm_lost_answered(c, s, x);

    // Daily bookkeeping on the local solar day.
    const double solar_ms = static_cast<double>(now) + sun_.longitude_deg() / 15.0 * kHour;
    const long long day = static_cast<long long>(std::floor(solar_ms / (24 * kHour)));
    c.solar_hour = (solar_ms - static_cast<double>(day) * 24 * kHour) / kHour;
    if (s.today.day != day) {
        if (s.today.day >= 0 && !s.today.evaluated) rules::day_end(c, s);
        if (s.today.day >= 0) {
            const long long days = std::min<long long>(7, day - s.today.day);
            for (auto& b : s.slots) b = (b << days) & 0x7f;
        }
        s.today = DayAccum{};
        s.today.day = day;
    }
    c.slot = std::clamp(static_cast<int>(c.solar_hour * 4), 0, 95);
    if (auto amb = x.value(points::ambient_temperature_c)) s.ambient_c = amb;
    if (power && *power > c.near_zero_w && c.daylight) s.slots[static_cast<std::size_t>(c.slot)] |= 1;
    if (power && s.last_ms && sun.elevation_deg > 0) accumulate_day(c, s, *power, now);
    rules::clear_period_sample(c, s, x);
    // The day is judged at dusk (first sample after sunset), not at midnight.
    if (s.today.saw_daylight && !s.today.evaluated && sun.elevation_deg < 0 && c.solar_hour > 12) rules::day_end(c, s);
    s.down_without_grid = down_without_grid(config_, x, c.near_zero_w);

    rules::inverter_faults(c, s, x);
    rules::data_quality(c, s, x);
    s.last_ms = now;  // the grid rule looks at freshness
    rules::grid_outage(config_, book_, sun_, devices_, site_->grid, x.t, out);
    c.grid_suppressed = site_->grid.last_bad;
    if (auto w = wiring_.find(x.device_id); w != wiring_.end()) c.wired = &w->second;
    rules::not_producing(c, s, x);
    rules::string_fault(c, s, x);

    if (energy) s.last_energy_wh = energy;
    if (power) s.last_power_w = power;
    return out;
}

void DetectionPipeline::clock_stepped(Millis by) {
    if (by <= Millis{0}) return;
    for (auto& [id, d] : devices_) {
        if (d->gap_start_ms) *d->gap_start_ms += by.count();
        if (d->gap_last_ms) *d->gap_last_ms += by.count();
    }
}

std::vector<TicketEvent> DetectionPipeline::on_no_answer(const std::string& device_id, TimePoint t) {
    std::vector<TicketEvent> out;
    rules::comm_lost_no_answer(config_, book_, device_id, sun_.at(device_id, t), device(device_id), t, out);
    return out;
}

std::vector<TicketEvent> DetectionPipeline::tick() { return book_.tick(clock_.now()); }

Result<TicketEvent> DetectionPipeline::acknowledge(const std::string& id, const std::string& by, const std::string& note) {
    return book_.acknowledge(id, by, note, clock_.now());
}
Result<TicketEvent> DetectionPipeline::resolve(const std::string& id, const std::string& by) {
    return book_.resolve(id, by, clock_.now());
}
Result<TicketEvent> DetectionPipeline::close(const std::string& id) { return book_.close(id, clock_.now()); }

nlohmann::json DetectionPipeline::save_state() const {
    nlohmann::json devices = nlohmann::json::object();
    for (const auto& [id, s] : devices_) devices[id] = *s;
    return nlohmann::json{{"version", 1}, {"devices", std::move(devices)}, {"site_grid", site_->grid}};
}

Status DetectionPipeline::load_state(const nlohmann::json& state) {
    try {
        if (state.value("version", 0) != 1) return Error::at("version", "unsupported detector state version");
        std::map<std::string, std::unique_ptr<DeviceState>, std::less<>> devices;
        for (const auto& [id, j] : state.at("devices").items()) {
            auto s = std::make_unique<DeviceState>();
            from_json(j, *s);
            devices.emplace(id, std::move(s));
        }
        devices_ = std::move(devices);
        site_->grid = state.at("site_grid").get<Hold>();
        return {};
    } catch (const nlohmann::json::exception& e) {
        return Error{std::string("detector state: ") + e.what()};
    }
}

std::vector<std::string> DetectionPipeline::input_status(const std::string& device_id) const {
    std::vector<std::string> out;
    const auto w = wiring_.find(device_id);
    const auto d = devices_.find(device_id);
    int count = 0;
    if (d != devices_.end() && !d->second->inputs.empty()) count = d->second->inputs.rbegin()->first + 1;
    if (w != wiring_.end()) {
        for (int input : w->second) count = std::max(count, input);
    }
    for (int i = 0; i < count; ++i) {
        if (w != wiring_.end()) {
            out.emplace_back(std::find(w->second.begin(), w->second.end(), i + 1) != w->second.end() ? "wired" : "unwired");
            continue;
        }
        const InputState* in = nullptr;
        if (d != devices_.end()) {
            if (auto it = d->second->inputs.find(i); it != d->second->inputs.end()) in = &it->second;
        }
        if (in != nullptr && in->produced) {
            out.emplace_back("producing");
        } else if (in != nullptr && in->unused) {
            out.emplace_back("unused");
        } else {
            out.emplace_back("not seen producing yet");
        }
    }
    return out;
}

std::optional<TimePoint> DetectionPipeline::last_sample_time() const {
    std::optional<long long> latest;
    for (const auto& [_, s] : devices_) {
        if (s->last_ms && (!latest || *s->last_ms > *latest)) latest = s->last_ms;
    }
    if (!latest) return std::nullopt;
    return from_epoch_ms(*latest);
}

}  // namespace pvfleet::detect
