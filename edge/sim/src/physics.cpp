#include "pvfleet/sim/physics.hpp"

#include <date/tz.h>

#include <algorithm>
#include <array>
#include <cmath>

namespace pvfleet::sim {

namespace {
using namespace std::chrono_literals;

// Names follow SunSpec Evt1 where one exists, so the SunSpec profile maps them bit for bit.
constexpr std::array<FaultEvent, 14> events_table{{
    {"ground_fault", true},       {"dc_over_voltage", true},    {"ac_disconnect", true},
    {"dc_disconnect", true},      {"grid_disconnect", true},    {"cabinet_open", false},
    {"manual_shutdown", true},    {"over_temperature", true},   {"over_frequency", true},
    {"under_frequency", true},    {"ac_over_voltage", true},    {"ac_under_voltage", true},
    {"blown_string_fuse", false}, {"under_temperature", false},
}};

constexpr double start_threshold_w = 15.0;  // DC power an inverter needs to wake
constexpr auto starting_duration = 90s;     // grid checks before feeding in
constexpr auto temperature_time_constant_s = 600.0;
constexpr auto cloud_cell = std::chrono::minutes(10);

uint64_t mix(uint64_t x) {  // splitmix64 finaliser: a stateless hash for reproducible clouds
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}
double unit_random(uint64_t seed, int64_t cell, uint64_t salt) {
    return static_cast<double>(mix(seed ^ mix(static_cast<uint64_t>(cell) ^ (salt << 48))) >> 11) * 0x1.0p-53;
}
}  // namespace

std::span<const FaultEvent> fault_events() { return events_table; }

const FaultEvent* find_fault_event(std::string_view name) {
    for (const auto& e : events_table) {
        if (e.name == name) return &e;
    }
    return nullptr;
}

Result<SitePhysics> SitePhysics::create(const SiteSpec& site, uint64_t seed, TimePoint start) {
    solar::SiteModel model;
    model.latitude_deg = site.latitude_deg;
    model.longitude_deg = site.longitude_deg;
    model.elevation_m = site.elevation_m;
    model.default_ambient_c = site.ambient_c;
    for (const auto& a : site.arrays) {
        solar::ArrayConfig ac;
        ac.id = a.id;
        ac.inverter_id = a.device;
        ac.dc_kwp = a.dc_kwp;
        ac.tilt_deg = a.tilt_deg;
        ac.azimuth_deg = a.azimuth_deg;
        model.arrays.push_back(ac);
    }
    for (const auto& d : site.devices) model.inverters.push_back(solar::InverterConfig{d.name, d.ac_kw, 0.96});
    auto created = solar::ExpectedPowerModel::create(std::move(model));
    if (!created) return created.error();
    return SitePhysics(site, std::move(*created), seed, start);
}

SitePhysics::SitePhysics(SiteSpec site, solar::ExpectedPowerModel model, uint64_t seed, TimePoint start)
    : site_(std::move(site)),
      model_(std::make_unique<solar::ExpectedPowerModel>(std::move(model))),
      seed_(seed),
      noise_(seed),
      now_(start) {
    day_ = local_day(start);
    for (std::size_t i = 0; i < site_.devices.size(); ++i) {
        const auto& d = site_.devices[i];
        DeviceReading r;
        r.mppt.resize(static_cast<std::size_t>(d.mppts));
        r.phase_voltage_v.assign(static_cast<std::size_t>(d.phases), 230.0);
        r.phase_current_a.assign(static_cast<std::size_t>(d.phases), 0.0);
        r.temperature_c = site_.ambient_c;
        // A few years of service: ~1000 kWh per kW AC per year, 3 + seed-dependent years.
        r.energy_total_wh = std::round(d.ac_kw * 1000.0 * 1000.0 * (3.0 + unit_random(seed, static_cast<int64_t>(i), 7)));
        readings_.push_back(std::move(r));
    }
    awake_since_.assign(site_.devices.size(), start - std::chrono::hours(1));
    awake_.assign(site_.devices.size(), false);
    // Today's counter already holds what the morning produced before the simulation started.
    const auto* zone = date::locate_zone(site_.time_zone);
    const auto local_midnight = date::floor<date::days>(zone->to_local(start));
    const auto midnight = std::chrono::time_point_cast<Millis>(zone->to_sys(local_midnight, date::choose::earliest));
    if (midnight < start) {
        const auto morning = model_->energy_between(midnight, start, std::chrono::minutes(10));
        const double mean_clouds = site_.clouds == CloudKind::none ? 1.0 : site_.clouds == CloudKind::scattered ? 0.8 : 0.21;
        for (std::size_t i = 0; i < readings_.size() && i < morning.inverter_ac_wh.size(); ++i) {
            readings_[i].energy_today_wh = morning.inverter_ac_wh[i] * mean_clouds;
        }
    }
    first_step_ = true;
}

int SitePhysics::local_day(TimePoint t) const {
    const auto* zone = date::locate_zone(site_.time_zone);
    const auto local = zone->to_local(t);
    return static_cast<int>(date::floor<date::days>(local).time_since_epoch().count());
}

double SitePhysics::cloud_factor(TimePoint t) const {
    if (site_.clouds == CloudKind::none) return 1.0;
    const auto since = t.time_since_epoch();
    const int64_t cell = std::chrono::floor<std::chrono::minutes>(since).count() / cloud_cell.count();
    const double frac = std::fmod(std::chrono::duration<double, std::ratio<60>>(since).count(), static_cast<double>(cloud_cell.count())) /
                        static_cast<double>(cloud_cell.count());
    auto cell_value = [&](int64_t c) {
        const double u = unit_random(seed_, c, 1);
        if (site_.clouds == CloudKind::overcast) return 0.12 + 0.18 * u;
        // Scattered: about 40 % of ten-minute cells have a cloud in front of the sun.
        return u < 0.4 ? 0.25 + 0.45 * unit_random(seed_, c, 2) : 1.0;
    };
    const double a = cell_value(cell);
    const double b = cell_value(cell + 1);
    const double w = 0.5 - 0.5 * std::cos(frac * M_PI);  // smooth passage from one cell to the next
    return a + (b - a) * w;
}

void SitePhysics::restart_at(TimePoint t) {
    now_ = t;
    first_step_ = true;  // a jump lands in a settled state: no wake-up sequence, no temperature lag
    const int day = local_day(t);
    if (day != day_) {
        for (auto& r : readings_) r.energy_today_wh = 0.0;
        day_ = day;
    }
}

void SitePhysics::reset_counters(std::size_t device) {
    readings_[device].energy_total_wh = 0.0;
    readings_[device].energy_today_wh = 0.0;
}

namespace {

bool trips(const PhysicsOverride& o) {
    bool tripped = false;
    for (const auto& e : o.events) {
        const auto* fe = find_fault_event(e);
        tripped = tripped || (fe != nullptr && fe->trips);
    }
    return tripped;
}

// DC power the device's arrays offer at their MPPs under `clouds`, per MPPT into r.mppt; returns the sum.
double collect_dc(const SiteSpec& site, const solar::ExpectedPower& power, const DeviceSpec& d,
                  const PhysicsOverride& o, double clouds, DeviceReading& r) {
    std::fill(r.mppt.begin(), r.mppt.end(), MpptReading{});
    double dc_available = 0.0;
    for (std::size_t a = 0; a < site.arrays.size(); ++a) {
        const auto& spec = site.arrays[a];
        if (spec.device != d.name) continue;
        const auto m = static_cast<std::size_t>(spec.mppt - 1);
        if (m < o.mppt_lost.size() && o.mppt_lost[m]) continue;
        const auto& ap = power.arrays[a];
        const double dc = ap.dc_w * clouds;
        const double irradiance = ap.effective_poa * clouds;
        if (irradiance < 1.0) continue;
        // MPP voltage falls with cell temperature and slightly at low irradiance.
        const double v = spec.vmpp_v * (1.0 - 0.0035 * (ap.cell_temperature_c - 25.0)) *
                         std::clamp(1.0 + 0.03 * std::log(irradiance / 1000.0), 0.75, 1.03);
        r.mppt[m].voltage_v = std::max(r.mppt[m].voltage_v, v);
        r.mppt[m].power_w += dc;
        dc_available += dc;
    }
    return dc_available;
}

// The DC operating point once the AC output `ac` is known.
void settle_dc(const DeviceSpec& d, double ac, double dc_available, DeviceReading& r) {
    if (ac <= 0.0) {
        // Not feeding in: strings sit at open-circuit-like voltage with no current.
        for (auto& m : r.mppt) {
            m.voltage_v = m.power_w > 0.0 ? m.voltage_v * 1.2 : 0.0;
            m.power_w = 0.0;
            m.current_a = 0.0;
        }
        r.dc_power_w = 0.0;
        return;
    }
    const double ac_share = ac / dc_available;  // clipping moves the operating point on every input
    double dc_used = 0.0;
    for (auto& m : r.mppt) {
        m.power_w = ac < d.ac_kw * 1000.0 - 0.5 ? m.power_w : m.power_w * ac_share / 0.96;
        m.current_a = m.voltage_v > 0.0 ? m.power_w / m.voltage_v : 0.0;
        dc_used += m.power_w;
    }
    r.dc_power_w = dc_used;
}

}  // namespace

// Conditions of one step shared by every device.
struct SitePhysics::Step {
    TimePoint t;
    double dt_s = 0.0;
    double clouds = 1.0;
    double grid_v = 0.0;
    double freq = 0.0;
};

void SitePhysics::advance(TimePoint t, const std::vector<PhysicsOverride>& overrides) {
    const double dt_s = std::max(0.0, std::chrono::duration<double>(t - now_).count());
    const int day = local_day(t);
    if (day != day_) {
        for (auto& r : readings_) r.energy_today_wh = 0.0;
        day_ = day;
    }
    model_->at(t, solar::Conditions{}, scratch_);
    sun_elevation_deg_ = scratch_.sun.apparent_elevation_deg;
    const double clouds = cloud_factor(t);
    std::normal_distribution<double> grid_noise(0.0, 1.2);
    std::normal_distribution<double> freq_noise(0.0, 0.015);
    const double grid_v = 230.0 + 3.0 * std::sin(static_cast<double>(day % 7)) + grid_noise(noise_);
    const double freq = 50.0 + freq_noise(noise_);
    const Step step{t, dt_s, clouds, grid_v, freq};

    for (std::size_t i = 0; i < site_.devices.size(); ++i) {
        const PhysicsOverride none;
        advance_device(i, step, i < overrides.size() ? overrides[i] : none);
    }
    first_step_ = false;
    now_ = t;
}

void SitePhysics::advance_device(std::size_t i, const Step& step, const PhysicsOverride& o) {
    const TimePoint t = step.t;
    const auto& d = site_.devices[i];
    auto& r = readings_[i];
    const bool tripped = trips(o);
    r.events = o.events;
    const double dc_available = collect_dc(site_, scratch_, d, o, step.clouds, r);

    // State machine: sleeping below the wake threshold, starting while grid checks run, then producing.
    if (dc_available < start_threshold_w) {
        awake_[i] = false;
    } else if (!awake_[i]) {
        awake_[i] = true;
        awake_since_[i] = first_step_ ? t - starting_duration : t;  // already awake when the run starts by day
    }
    const bool starting = awake_[i] && (t - awake_since_[i]) < starting_duration;
    double ac = 0.0;
    if (tripped) {
        r.state = domain::InverterState::fault;
    } else if (!awake_[i]) {
        r.state = domain::InverterState::sleeping;
    } else if (starting) {
        r.state = domain::InverterState::starting;
    } else {
        ac = solar::pvwatts_ac(dc_available, d.ac_kw * 1000.0, 0.96);
        r.state = ac >= d.ac_kw * 1000.0 - 0.5 ? domain::InverterState::throttled : domain::InverterState::producing;
    }
    settle_dc(d, ac, dc_available, r);
    const double energy_step = 0.5 * (r.ac_power_w + ac) * step.dt_s / 3600.0;
    r.energy_total_wh += energy_step;
    r.energy_today_wh += energy_step;
    r.ac_power_w = ac;
    const double per_phase = ac / d.phases;
    for (std::size_t p = 0; p < r.phase_voltage_v.size(); ++p) {
        const double v = step.grid_v + 0.8 * static_cast<double>(p) + (ac / (d.ac_kw * 1000.0)) * 2.0;
        r.phase_voltage_v[p] = v;
        r.phase_current_a[p] = v > 0.0 ? per_phase / v : 0.0;
    }
    r.ac_frequency_hz = step.freq;
    // Heat sink: first-order lag towards ambient + a rise proportional to load.
    const double target = site_.ambient_c + 28.0 * ac / (d.ac_kw * 1000.0) + (ac > 0.0 ? 4.0 : 0.0);
    r.temperature_c = first_step_ ? target
                                  : r.temperature_c + (target - r.temperature_c) * (1.0 - std::exp(-step.dt_s / temperature_time_constant_s));
}

}  // namespace pvfleet::sim
