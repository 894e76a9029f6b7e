#include "pvfleet/detect/pipeline.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <sstream>

#include "hold.hpp"
#include "pvfleet/domain/points.hpp"

namespace pvfleet::detect {

using domain::FaultKind;
using domain::Sample;
using domain::Severity;
using domain::TicketEvent;
namespace points = domain::points;

namespace {
constexpr double kMinute = 60000.0;
constexpr double kHour = 3600000.0;


std::string fmt(double v, int decimals = 0) {
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(decimals);
    os << v;
    return os.str();
}

domain::EvidenceItem evidence(std::string name, double observed, std::optional<double> expected, std::string unit,
                              TimePoint t) {
    return domain::EvidenceItem{std::move(name), observed, expected, std::move(unit), t};
}

void push(std::vector<TicketEvent>& out, std::optional<TicketEvent> e) {
    if (e) out.push_back(std::move(*e));
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Minutes of solar day where a 96-slot energy profile first (rising) or last (falling) crosses half its peak,
// interpolated between slot centres; nullopt for an empty profile.
std::optional<double> half_max_crossing(const std::vector<double>& slots, bool rising) {
    if (slots.size() != 96) return std::nullopt;
    const double peak = *std::max_element(slots.begin(), slots.end());
    if (peak <= 0) return std::nullopt;
    const double half = 0.5 * peak;
    auto centre = [](int i) { return (i + 0.5) * 15.0; };
    if (rising) {
        for (int i = 1; i < 96; ++i) {
            if (slots[i] >= half && slots[i - 1] < half)
                return centre(i - 1) + 15.0 * (half - slots[i - 1]) / (slots[i] - slots[i - 1]);
        }
    } else {
        for (int i = 94; i >= 0; --i) {
            if (slots[i] >= half && slots[i + 1] < half)
                return centre(i) + 15.0 * (slots[i] - half) / (slots[i] - slots[i + 1]);
        }
    }
    return std::nullopt;
}

bool is_immediate_fault(std::string_view e) { return e == "ground_fault" || e == "arc_fault" || e == "isolation_fault"; }
bool is_grid_trip(std::string_view e) {
    // Some vendors only say "out of range" (GoodWe Vac/Fac failure): a grid trip all the same.
    return e == "grid_overvoltage" || e == "grid_undervoltage" || e == "grid_overfrequency" ||
           e == "grid_underfrequency" || e == "grid_voltage_out_of_range" || e == "grid_frequency_out_of_range";
}
}  // namespace

// ---- per-device state: everything here is saved and restored as JSON ----

struct DayAccum {
    long long day = -1;     // solar day number
    double measured_wh = 0;
    double expected_wh = 0;
    double spp = 0, spe = 0, see = 0;  // sums for the shape fit p ≈ k·e (clear-day test)
    double n = 0;
    // Clock drift: measured and clear-sky energy per 15-minute slot of solar time over the sunlit day.
    std::vector<double> slot_p, slot_e;
    double tv = 0;          // total variation of power over judged samples (one smooth hump: 2 × peak)
    double pmax = 0;
    double plast = -1;      // previous judged power, -1 = none
    bool saw_daylight = false;
    bool evaluated = false;
};
// WITH_DEFAULT: a state saved before a field existed still loads (the field starts at its default).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DayAccum, day, measured_wh, expected_wh, spp, spe, see, n, slot_p, slot_e, tv, pmax,
                                   plast, saw_daylight, evaluated)

struct ClearDay {
    long long day = 0;
    double ratio = 0;
    bool in_baseline = false;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ClearDay, day, ratio, in_baseline)

struct DeviceState {
    std::optional<long long> last_ms;
    std::optional<double> last_energy_wh;
    std::optional<double> last_power_w;
    // not producing
    Hold np;
    std::vector<int> slots = std::vector<int>(96, 0);  // 15-min slots of the solar day: bit d = produced d days ago
    std::optional<double> ambient_c;
    // comm lost
    std::optional<long long> gap_start_ms;
    std::optional<long long> gap_last_ms;
    std::optional<double> gap_energy_before_wh;
    double gap_daylight_ms = 0;
    double gap_expected_wh = 0;
    // inverter faults
    std::map<std::string, long long> active_since_ms;  // event -> first seen
    std::vector<long long> grid_trips_ms;              // rising edges within the window
    std::optional<long long> last_fault_ms;
    // data quality
    std::optional<long long> last_backwards_ms;
    std::optional<double> frozen_value;
    std::optional<long long> frozen_since_ms;
    int frozen_count = 0;
    Hold frozen;
    std::optional<double> counter_still_value;
    std::optional<long long> counter_still_since_ms;
    int drift_days = 0;
    // string fault
    Hold string;
    int string_worst = -1;
    std::map<std::string, unsigned> shading_bits;  // "mppt:hour" -> low flag per day, bit 0 = yesterday
    std::map<std::string, int> today_low;          // "mppt:hour" -> 1 when low today
    std::map<int, int> today_good_hours;           // mppt -> judged good samples today
    // daily energy
    DayAccum today;
    std::deque<ClearDay> clear_days;
    // grid
    bool down_without_grid = false;
};

void to_json(nlohmann::json& j, const DeviceState& s) {
    j = nlohmann::json::object();
    auto opt = [&](const char* k, const auto& v) {
        if (v) j[k] = *v;
    };
    opt("last_ms", s.last_ms);
    opt("last_energy_wh", s.last_energy_wh);
    opt("last_power_w", s.last_power_w);
    j["np"] = s.np;
    j["slots"] = s.slots;
    opt("ambient_c", s.ambient_c);
    opt("gap_start_ms", s.gap_start_ms);
    opt("gap_last_ms", s.gap_last_ms);
    opt("gap_energy_before_wh", s.gap_energy_before_wh);
    j["gap_daylight_ms"] = s.gap_daylight_ms;
    j["gap_expected_wh"] = s.gap_expected_wh;
    j["active_since_ms"] = s.active_since_ms;
    j["grid_trips_ms"] = s.grid_trips_ms;
    opt("last_fault_ms", s.last_fault_ms);
    opt("last_backwards_ms", s.last_backwards_ms);
    opt("frozen_value", s.frozen_value);
    opt("frozen_since_ms", s.frozen_since_ms);
    j["frozen_count"] = s.frozen_count;
    j["frozen"] = s.frozen;
    opt("counter_still_value", s.counter_still_value);
    opt("counter_still_since_ms", s.counter_still_since_ms);
    j["drift_days"] = s.drift_days;
    j["string"] = s.string;
    j["string_worst"] = s.string_worst;
    j["shading_bits"] = s.shading_bits;
    j["today_low"] = s.today_low;
    nlohmann::json good = nlohmann::json::object();
    for (const auto& [k, v] : s.today_good_hours) good[std::to_string(k)] = v;
    j["today_good_hours"] = good;
    j["today"] = s.today;
    j["clear_days"] = std::vector<ClearDay>(s.clear_days.begin(), s.clear_days.end());
    j["down_without_grid"] = s.down_without_grid;
}

void from_json(const nlohmann::json& j, DeviceState& s) {
    auto opt = [&](const char* k, auto& v) {
        using T = typename std::remove_reference_t<decltype(v)>::value_type;
        if (j.contains(k)) v = j.at(k).get<T>();
    };
    opt("last_ms", s.last_ms);
    opt("last_energy_wh", s.last_energy_wh);
    opt("last_power_w", s.last_power_w);
    s.np = j.at("np").get<Hold>();
    s.slots = j.at("slots").get<std::vector<int>>();
    if (s.slots.size() != 96) s.slots.assign(96, 0);
    opt("ambient_c", s.ambient_c);
    opt("gap_start_ms", s.gap_start_ms);
    opt("gap_last_ms", s.gap_last_ms);
    opt("gap_energy_before_wh", s.gap_energy_before_wh);
    s.gap_daylight_ms = j.at("gap_daylight_ms").get<double>();
    s.gap_expected_wh = j.at("gap_expected_wh").get<double>();
    s.active_since_ms = j.at("active_since_ms").get<std::map<std::string, long long>>();
    s.grid_trips_ms = j.at("grid_trips_ms").get<std::vector<long long>>();
    opt("last_fault_ms", s.last_fault_ms);
    opt("last_backwards_ms", s.last_backwards_ms);
    opt("frozen_value", s.frozen_value);
    opt("frozen_since_ms", s.frozen_since_ms);
    s.frozen_count = j.at("frozen_count").get<int>();
    s.frozen = j.at("frozen").get<Hold>();
    opt("counter_still_value", s.counter_still_value);
    opt("counter_still_since_ms", s.counter_still_since_ms);
    s.drift_days = j.at("drift_days").get<int>();
    s.string = j.at("string").get<Hold>();
    s.string_worst = j.at("string_worst").get<int>();
    s.shading_bits = j.at("shading_bits").get<std::map<std::string, unsigned>>();
    s.today_low = j.at("today_low").get<std::map<std::string, int>>();
    s.today_good_hours.clear();
    for (const auto& [k, v] : j.at("today_good_hours").items()) s.today_good_hours[std::stoi(k)] = v.get<int>();
    s.today = j.at("today").get<DayAccum>();
    auto days = j.at("clear_days").get<std::vector<ClearDay>>();
    s.clear_days.assign(days.begin(), days.end());
    s.down_without_grid = j.at("down_without_grid").get<bool>();
}

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

struct Context {
    const DetectionConfig& cfg;
    TicketBook& book;
    std::vector<TicketEvent>& out;
    const std::string& device;
    TimePoint t;
    SunConditions sun;
    double near_zero_w;
    bool daylight;  // sun high enough and a meaningful clear-sky expectation: outages can be judged
    int slot = 0;   // 15-min slot of the solar day
};

double near_zero(const DetectionConfig& cfg, const SunConditions& sun) {
    return std::max(cfg.not_producing.near_zero_min_w, cfg.not_producing.near_zero_fraction * sun.ac_rating_w);
}

bool judged_daylight(const DetectionConfig& cfg, const SunConditions& sun) {
    if (sun.elevation_deg < cfg.daylight.min_elevation_deg) return false;
    // Without a rating the elevation alone decides.
    if (sun.ac_rating_w <= 0) return true;
    return sun.expected_ac_w >= cfg.daylight.min_expected_fraction * sun.ac_rating_w;
}

// ---- not producing ----
void not_producing(Context& c, DeviceState& s, const Sample& x, bool grid_suppressed) {
    const auto& cfg = c.cfg.not_producing;
    const auto power = x.value(points::ac_power_w);
    const auto energy = x.value(points::energy_total_wh);
    std::optional<bool> counter_rising;
    if (energy && s.last_energy_wh && s.last_ms) {
        const double hours = static_cast<double>(to_epoch_ms(c.t) - *s.last_ms) / kHour;
        counter_rising = (*energy - *s.last_energy_wh) > c.near_zero_w * hours;
    }
    const bool producing_state = x.state && (*x.state == domain::InverterState::producing ||
                                             *x.state == domain::InverterState::throttled);
    std::optional<bool> producing;
    if (power) {
        producing = *power > c.near_zero_w;
        // A stuck power register with a rising counter is production (frozen_values reports the register).
        if (!*producing && counter_rising && *counter_rising) producing = true;
    } else if (counter_rising) {
        producing = *counter_rising;
    } else if (x.state) {
        producing = producing_state;
    }
    if (!producing) return;
    const double max_gap = cfg.max_gap_min * kMinute;
    if (*producing) {
        s.np.observe(false, c.t, max_gap);
        if (s.np.good_for(cfg.clear_min)) {
            push(c.out, c.book.clear(c.device, FaultKind::not_producing, c.t,
                                     {evidence(std::string(points::ac_power_w), power.value_or(0), c.sun.expected_ac_w,
                                               "W", c.t)}));
        }
        return;
    }
    if (!c.daylight) return;  // nothing is expected: night, dawn, dusk
    // Only where this device has produced at this time of day recently (learns obstacles' shade and the
    // real production window); before anything is learned, only in strong clear-sky sun.
    const bool learned = std::any_of(s.slots.begin(), s.slots.end(), [](int b) { return b != 0; });
    const bool expected_here = learned ? s.slots[static_cast<std::size_t>(c.slot)] != 0
                                       : c.sun.expected_ac_w >= cfg.unlearned_expected_fraction * c.sun.ac_rating_w;
    if (!expected_here) return;
    // Snow: freezing and the day never started. Melting will restart it; an outage on a cold day after
    // production started is still caught.
    if (s.ambient_c && *s.ambient_c <= cfg.snow_max_ambient_c &&
        s.today.measured_wh < cfg.snow_day_fraction * s.today.expected_wh) {
        return;
    }
    s.np.observe(true, c.t, max_gap);
    if (grid_suppressed) return;  // the site-wide grid outage ticket covers it
    if (!s.np.bad_for(cfg.debounce_min)) return;
    const double down_min = s.np.bad_ms / kMinute;
    Severity sev = Severity::minor;
    if (down_min >= cfg.critical_after_min) {
        sev = Severity::critical;
    } else if (down_min >= cfg.major_after_min) {
        sev = Severity::major;
    }
    std::vector<domain::EvidenceItem> ev;
    if (!c.book.is_live(c.device, FaultKind::not_producing) || sev > c.book.find(c.device, FaultKind::not_producing)->severity) {
        ev.push_back(evidence(std::string(points::ac_power_w), power.value_or(0), c.sun.expected_ac_w, "W", c.t));
        ev.push_back(evidence("down_daylight_minutes", down_min, std::nullopt, "min", c.t));
        if (energy) ev.push_back(evidence(std::string(points::energy_total_wh), *energy, std::nullopt, "Wh", c.t));
    }
    push(c.out, c.book.raise(c.device, FaultKind::not_producing, sev,
                             "inverter not producing in daylight for " + fmt(down_min) + " min (expected " +
                                 fmt(c.sun.expected_ac_w) + " W clear-sky)",
                             std::move(ev), c.t));
}

// ---- inverter fault events ----
void inverter_faults(Context& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.inverter_fault;
    const long long now = to_epoch_ms(c.t);
    std::map<std::string, long long> still;
    std::vector<domain::EvidenceItem> ev;
    Severity sev = Severity::info;
    std::string what;
    bool any = false;
    const bool fault_state = x.state && *x.state == domain::InverterState::fault;
    for (const auto& e : x.events) {
        any = true;
        auto it = s.active_since_ms.find(e);
        const bool rising = it == s.active_since_ms.end();
        const long long since = rising ? now : it->second;
        still[e] = since;
        if (is_grid_trip(e)) {
            if (rising) s.grid_trips_ms.push_back(now);
            continue;
        }
        if (is_immediate_fault(e)) {
            sev = Severity::critical;
            what = e;
            ev.push_back(evidence("event:" + e, 1, std::nullopt, "", c.t));
        } else if (static_cast<double>(now - since) >= cfg.persist_min * kMinute) {
            sev = std::max(sev, Severity::major);
            if (what.empty()) what = e;
            ev.push_back(evidence("event:" + e, static_cast<double>(now - since) / kMinute, std::nullopt, "min", c.t));
        }
    }
    s.active_since_ms = std::move(still);
    if (fault_state) {
        any = true;
        auto it = s.active_since_ms.find("state:fault");
        if (it == s.active_since_ms.end()) it = s.active_since_ms.emplace("state:fault", now).first;
        if (static_cast<double>(now - it->second) >= cfg.persist_min * kMinute && c.daylight) {
            sev = std::max(sev, Severity::major);
            if (what.empty()) what = "inverter state fault";
            ev.push_back(evidence("inverter_state_fault_minutes", static_cast<double>(now - it->second) / kMinute,
                                  std::nullopt, "min", c.t));
        }
    }
    const double window = cfg.repeat_window_min * kMinute;
    std::erase_if(s.grid_trips_ms, [&](long long tm) { return static_cast<double>(now - tm) > window; });
    if (static_cast<int>(s.grid_trips_ms.size()) >= cfg.repeat_count) {
        sev = std::max(sev, Severity::major);
        if (what.empty()) what = "repeated grid trips";
        ev.push_back(evidence("grid_trips_in_window", static_cast<double>(s.grid_trips_ms.size()), std::nullopt, "",
                              c.t));
    }
    if (any || !s.grid_trips_ms.empty()) s.last_fault_ms = now;
    if (sev > Severity::info) {
        push(c.out, c.book.raise(c.device, FaultKind::inverter_fault, sev, "inverter fault: " + what, std::move(ev), c.t));
        return;
    }
    if (!any && s.last_fault_ms && static_cast<double>(now - *s.last_fault_ms) >= cfg.clear_min * kMinute) {
        push(c.out, c.book.clear(c.device, FaultKind::inverter_fault, c.t));
    }
}

// ---- data quality: counter backwards, frozen readings ----
void data_quality(Context& c, DeviceState& s, const Sample& x) {
    const auto& cfg = c.cfg.data_quality;
    const long long now = to_epoch_ms(c.t);
    const auto energy = x.value(points::energy_total_wh);
    if (energy && s.last_energy_wh && *energy < *s.last_energy_wh - cfg.counter_tolerance_wh) {
        s.last_backwards_ms = now;
        push(c.out, c.book.raise(c.device, FaultKind::counter_backwards, Severity::minor,
                                 "energy counter went backwards by " + fmt(*s.last_energy_wh - *energy) + " Wh",
                                 {evidence(std::string(points::energy_total_wh), *energy, *s.last_energy_wh, "Wh", c.t)},
                                 c.t));
    } else if (s.last_backwards_ms && static_cast<double>(now - *s.last_backwards_ms) >= cfg.counter_clear_min * kMinute) {
        push(c.out, c.book.clear(c.device, FaultKind::counter_backwards, c.t));
        s.last_backwards_ms.reset();
    }

    // Frozen: the same non-zero power reading (or a still counter while power says it produces) in daylight.
    const auto power = x.value(points::ac_power_w);
    bool frozen_now = false;
    std::string frozen_what;
    if (power && std::abs(*power) > c.near_zero_w) {
        if (s.frozen_value && *s.frozen_value == *power) {
            ++s.frozen_count;
        } else {
            s.frozen_value = *power;
            s.frozen_since_ms = now;
            s.frozen_count = 1;
        }
        if (s.frozen_count >= cfg.frozen_samples &&
            static_cast<double>(now - *s.frozen_since_ms) >= cfg.frozen_min * kMinute) {
            frozen_now = true;
            frozen_what = std::string(points::ac_power_w);
        }
    } else {
        s.frozen_value.reset();
        s.frozen_count = 0;
    }
    if (energy && power && *power > c.near_zero_w) {
        if (!s.counter_still_value || *s.counter_still_value != *energy) {
            s.counter_still_value = *energy;
            s.counter_still_since_ms = now;
        } else if (static_cast<double>(now - *s.counter_still_since_ms) >= cfg.frozen_min * kMinute) {
            frozen_now = true;
            frozen_what = std::string(points::energy_total_wh);
        }
    } else {
        s.counter_still_value.reset();
    }
    if (!c.daylight && !frozen_now) return;
    s.frozen.observe(frozen_now, c.t, 2 * kHour);
    if (frozen_now && c.daylight) {
        push(c.out, c.book.raise(c.device, FaultKind::frozen_values, Severity::minor,
                                 "readings frozen in daylight: " + frozen_what,
                                 {evidence(frozen_what, frozen_what == points::ac_power_w ? *power : *energy,
                                           std::nullopt, frozen_what == points::ac_power_w ? "W" : "Wh", c.t)},
                                 c.t));
    } else if (s.frozen.good_for(15)) {
        push(c.out, c.book.clear(c.device, FaultKind::frozen_values, c.t));
    }
}

// ---- string / MPPT fault: one input far below its siblings in good sun ----
void string_fault(Context& c, DeviceState& s, const Sample& x, double solar_hour) {
    const auto& cfg = c.cfg.string_fault;
    const std::vector<std::optional<double>>* inputs = nullptr;
    for (auto name : {points::dc_power_w, points::dc_current_a}) {
        auto it = x.arrays.find(name);
        if (it != x.arrays.end() && it->second.size() >= 2) {
            inputs = &it->second;
            break;
        }
    }
    if (inputs == nullptr) return;
    const bool good_sun = c.sun.elevation_deg >= c.cfg.daylight.min_elevation_deg &&
                          (c.sun.ac_rating_w <= 0 || c.sun.expected_ac_w >= cfg.min_expected_fraction * c.sun.ac_rating_w);
    if (!good_sun) return;
    // Too dark right now (clouds, snow): inputs cannot be compared fairly.
    const auto ac = x.value(points::ac_power_w);
    if (ac && *ac < cfg.min_ac_fraction * c.sun.expected_ac_w) return;
    std::vector<double> vals;
    for (const auto& v : *inputs) vals.push_back(v.value_or(std::nan("")));
    double worst_ratio = 1e9;
    int worst = -1;
    const int hour = static_cast<int>(solar_hour);
    for (std::size_t i = 0; i < vals.size(); ++i) {
        if (std::isnan(vals[i])) continue;
        std::vector<double> others;
        for (std::size_t k = 0; k < vals.size(); ++k) {
            if (k != i && !std::isnan(vals[k])) others.push_back(vals[k]);
        }
        const double m = median(others);
        if (others.empty() || m <= 0) continue;
        const double ratio = std::max(0.0, vals[i]) / m;
        const std::string key = std::to_string(i) + ":" + std::to_string(hour);
        if (ratio < cfg.low_ratio) {
            s.today_low[key] = 1;
            const unsigned bits = s.shading_bits.count(key) ? s.shading_bits[key] : 0u;
            if (std::popcount(bits & 0x7fu) >= static_cast<int>(cfg.shading_days) &&
                !c.book.is_live(c.device, FaultKind::string_fault)) {
                continue;  // learned shading at this hour
            }
        } else {
            ++s.today_good_hours[static_cast<int>(i)];
        }
        if (ratio < worst_ratio) {
            worst_ratio = ratio;
            worst = static_cast<int>(i);
        }
    }
    if (worst < 0) return;
    const bool bad = worst_ratio < cfg.low_ratio;
    s.string.observe(bad, c.t, 2 * kHour);
    if (bad) {
        const bool open = worst_ratio < cfg.open_ratio;
        const double need = open ? cfg.open_debounce_min : cfg.debounce_min;
        if (s.string.bad_for(need)) {
            push(c.out, c.book.raise(c.device, FaultKind::string_fault, open ? Severity::major : Severity::minor,
                                     "MPPT " + std::to_string(worst + 1) + (open ? " open (no input)" : " at ") +
                                         (open ? "" : fmt(worst_ratio * 100) + "% of its siblings"),
                                     {evidence("mppt" + std::to_string(worst + 1) + "_sibling_ratio", worst_ratio, 1.0,
                                               "", c.t)},
                                     c.t));
        }
    } else if (s.string.good_for(cfg.clear_min)) {
        push(c.out, c.book.clear(c.device, FaultKind::string_fault, c.t));
    }
}

// ---- daily evaluation: underperformance, sudden single-input drop, clock drift ----
void day_end(Context& c, DeviceState& s, const SunModel& sun, TimePoint day_noon) {
    DayAccum& d = s.today;
    d.evaluated = true;
    // Shading learning: shift the day's low hours in, only for inputs that were fine at other hours.
    for (auto& [key, bits] : s.shading_bits) bits = (bits << 1) & 0x7fu;
    for (const auto& [key, low] : s.today_low) {
        const int mppt = std::stoi(key.substr(0, key.find(':')));
        if (low && s.today_good_hours[mppt] >= 8) s.shading_bits[key] |= 1u;
    }
    s.today_low.clear();
    s.today_good_hours.clear();

    const auto& cfg = c.cfg.underperformance;
    if (d.expected_wh <= 0 || d.n < 8 || d.see <= 0) return;
    const double k = d.spe / d.see;  // best scale of the clear-sky shape onto the measured one
    const double resid = std::max(0.0, d.spp - 2 * k * d.spe + k * k * d.see);
    const double mean_fit = k * std::sqrt(d.see / d.n);
    const double roughness = mean_fit > 0 ? std::sqrt(resid / d.n) / mean_fit : 1e9;
    const double ratio = d.measured_wh / d.expected_wh;
    // Clock drift: a wrong clock moves the whole production day, so the rising and the falling edge (where
    // production crosses half its peak) both sit off the clear-sky edges by the same amount. Shading moves one
    // edge only (a hill in the morning delays the rise), clouds make the day ragged: those days are
    // inconclusive and leave the count of drifting days as it was.
    const bool smooth_hump = d.pmax > 0 && d.tv <= 2.3 * d.pmax && ratio >= 0.3;
    const auto rise_p = half_max_crossing(d.slot_p, true), fall_p = half_max_crossing(d.slot_p, false);
    const auto rise_e = half_max_crossing(d.slot_e, true), fall_e = half_max_crossing(d.slot_e, false);
    if (smooth_hump && rise_p && fall_p && rise_e && fall_e) {
        const double rise = *rise_p - *rise_e;
        const double fall = *fall_p - *fall_e;
        const double limit = c.cfg.data_quality.clock_drift_max_min;
        const double drift = 0.5 * (rise + fall);
        const bool agree = std::abs(rise - fall) <= limit;
        if (agree && std::abs(drift) > limit) {
            ++s.drift_days;
            if (s.drift_days >= c.cfg.data_quality.clock_drift_days) {
                push(c.out, c.book.raise(c.device, FaultKind::clock_drift, Severity::minor,
                                         "clock off by about " + fmt(drift) + " min against solar noon",
                                         {evidence("clock_offset_minutes", drift, 0.0, "min", c.t)}, c.t));
            }
        } else if (std::abs(rise) <= limit && std::abs(fall) <= limit) {
            s.drift_days = 0;
            push(c.out, c.book.clear(c.device, FaultKind::clock_drift, c.t));
        }
    }
    (void)sun;
    (void)day_noon;

    // The learned baseline so far (most recent learned clear days: the model's bias drifts with the season).
    std::vector<double> base;
    for (auto it = s.clear_days.rbegin(); it != s.clear_days.rend(); ++it) {
        if (it->in_baseline && static_cast<int>(base.size()) < cfg.baseline_max_days) base.push_back(it->ratio);
    }
    const bool have_baseline = static_cast<int>(base.size()) >= cfg.baseline_min_days;
    const double baseline = median(base);
    // Clear: the day has the clear-sky shape. A smooth but dim day (uniform overcast) is not clear either.
    const bool clear = roughness <= cfg.clear_day_max_roughness &&
                       (have_baseline ? ratio >= cfg.min_clear_day_fraction * baseline : ratio >= 0.2);
    if (!clear) return;

    const bool live = c.book.is_live(c.device, FaultKind::underperformance) ||
                      c.book.is_live(c.device, FaultKind::string_fault);
    s.clear_days.push_back(ClearDay{d.day, ratio, false});
    std::vector<double> recent;
    for (auto it = s.clear_days.rbegin(); it != s.clear_days.rend() && static_cast<int>(recent.size()) < cfg.recent_days;
         ++it) {
        recent.push_back(it->ratio);
    }
    // Days leave the "recent" window into the baseline once they are older than recent_days clear days.
    int seen = 0;
    for (auto it = s.clear_days.rbegin(); it != s.clear_days.rend(); ++it, ++seen) {
        if (seen >= cfg.recent_days && !it->in_baseline && !live) {
            // Only days consistent with the baseline (or before one exists) are learned.
            if (!have_baseline || it->ratio >= baseline * (1 - cfg.drop_fraction)) it->in_baseline = true;
        }
    }
    while (static_cast<int>(s.clear_days.size()) > 4 * cfg.baseline_max_days + cfg.recent_days) s.clear_days.pop_front();
    if (!have_baseline) return;

    if (static_cast<int>(recent.size()) < cfg.recent_days) return;
    // Every recent clear day far below: lost string or partial failure (inverters without per-input data).
    const double worst_recent = *std::max_element(recent.begin(), recent.end());
    if (worst_recent < baseline * (1 - c.cfg.string_fault.day_drop_fraction)) {
        push(c.out, c.book.raise(c.device, FaultKind::string_fault, Severity::major,
                                 "clear-day energy " + fmt(100 * worst_recent / baseline) +
                                     "% of the learned baseline: lost string or partial failure",
                                 {evidence("daily_energy_ratio", worst_recent, baseline, "", c.t)}, c.t));
    } else if (c.book.is_live(c.device, FaultKind::string_fault) && ratio >= baseline * (1 - cfg.drop_fraction) &&
               !c.book.find(c.device, FaultKind::string_fault)->evidence.empty() &&
               c.book.find(c.device, FaultKind::string_fault)->evidence.back().name == "daily_energy_ratio") {
        push(c.out, c.book.clear(c.device, FaultKind::string_fault, c.t,
                                 {evidence("daily_energy_ratio", ratio, baseline, "", c.t)}));
    }
    if (static_cast<int>(recent.size()) < cfg.recent_days) return;
    const double recent_ratio = median(recent);
    if (recent_ratio < baseline * (1 - cfg.drop_fraction)) {
        push(c.out, c.book.raise(c.device, FaultKind::underperformance, Severity::minor,
                                 "clear-day energy " + fmt(100 * recent_ratio / baseline) +
                                     "% of the learned baseline (soiling, degradation or partial failure)",
                                 {evidence("daily_energy_ratio", recent_ratio, baseline, "", c.t)}, c.t));
    } else if (recent_ratio >= baseline * (1 - cfg.clear_fraction)) {
        push(c.out, c.book.clear(c.device, FaultKind::underperformance, c.t,
                                 {evidence("daily_energy_ratio", recent_ratio, baseline, "", c.t)}));
    }
}

}  // namespace

std::vector<TicketEvent> DetectionPipeline::on_sample(const Sample& x) {
    std::vector<TicketEvent> out;
    DeviceState& s = device(x.device_id);
    const long long now = to_epoch_ms(x.t);
    if (s.last_ms && now <= *s.last_ms) return out;
    const SunConditions sun = sun_.at(x.device_id, x.t);
    Context c{config_, book_, out, x.device_id, x.t, sun, near_zero(config_, sun), judged_daylight(config_, sun)};
    const auto power = x.value(points::ac_power_w);
    const auto energy = x.value(points::energy_total_wh);

    // Back after a communication gap: did it keep producing?
    if (s.gap_start_ms) {
        const double gap_min = static_cast<double>(now - *s.gap_start_ms) / kMinute;
        std::vector<domain::EvidenceItem> ev{evidence("no_answer_minutes", gap_min, std::nullopt, "min", x.t)};
        std::optional<double> ratio;
        if (energy && s.gap_energy_before_wh && s.gap_expected_wh > 0) {
            const double grown = *energy - *s.gap_energy_before_wh;
            ratio = grown / s.gap_expected_wh;
            ev.push_back(evidence("energy_during_gap_wh", grown, s.gap_expected_wh, "Wh", x.t));
        }
        const bool was_outage = ratio && *ratio < config_.comm_lost.outage_ratio &&
                                s.gap_daylight_ms >= config_.not_producing.debounce_min * kMinute;
        push(out, book_.clear(x.device_id, FaultKind::comm_lost, x.t, ev));
        if (was_outage) {
            push(out, book_.raise(x.device_id, FaultKind::not_producing, Severity::minor,
                                  "no energy produced during " + fmt(gap_min) + " min without communication",
                                  std::move(ev), x.t));
        }
        s.gap_start_ms.reset();
        s.gap_last_ms.reset();
        s.gap_energy_before_wh.reset();
        s.gap_daylight_ms = 0;
        s.gap_expected_wh = 0;
    }

    // Daily bookkeeping on the local solar day.
    const double solar_ms = static_cast<double>(now) + sun_.longitude_deg() / 15.0 * kHour;
    const long long day = static_cast<long long>(std::floor(solar_ms / (24 * kHour)));
    const double solar_hour = (solar_ms - static_cast<double>(day) * 24 * kHour) / kHour;
    if (s.today.day != day) {
        if (s.today.day >= 0 && !s.today.evaluated) day_end(c, s, sun_, x.t);
        if (s.today.day >= 0) {
            const long long days = std::min<long long>(7, day - s.today.day);
            for (auto& b : s.slots) b = (b << days) & 0x7f;
        }
        s.today = DayAccum{};
        s.today.day = day;
    }
    c.slot = std::clamp(static_cast<int>(solar_hour * 4), 0, 95);
    if (auto amb = x.value(points::ambient_temperature_c)) s.ambient_c = amb;
    if (power && *power > c.near_zero_w && c.daylight) s.slots[static_cast<std::size_t>(c.slot)] |= 1;
    if (power && s.last_ms && sun.elevation_deg > 0) {
        const double dt_h = std::min(static_cast<double>(now - *s.last_ms), kHour) / kHour;
        const double p = std::max(0.0, *power);
        const double e = sun.expected_ac_w;
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
        const auto slot = static_cast<std::size_t>(std::clamp(static_cast<int>(solar_hour * 4), 0, 95));
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
    // The day is judged at dusk (first sample after sunset), not at midnight.
    if (s.today.saw_daylight && !s.today.evaluated && sun.elevation_deg < 0 && solar_hour > 12) {
        day_end(c, s, sun_, x.t);
    }

    // Grid state of this device, for the site rule.
    bool low_voltage = false;
    if (auto it = x.arrays.find(points::ac_voltage_v); it != x.arrays.end() && !it->second.empty()) {
        low_voltage = true;
        for (const auto& v : it->second) low_voltage = low_voltage && v && *v < config_.grid_outage.max_ac_voltage_v;
    }
    s.down_without_grid = power && *power <= c.near_zero_w && low_voltage;

    inverter_faults(c, s, x);
    data_quality(c, s, x);
    s.last_ms = now;  // grid rule looks at freshness
    grid_outage_rule(x.t, out);
    not_producing(c, s, x, site_->grid.last_bad);
    string_fault(c, s, x, solar_hour);

    if (energy) s.last_energy_wh = energy;
    if (power) s.last_power_w = power;
    return out;
}

void DetectionPipeline::grid_outage_rule(TimePoint t, std::vector<TicketEvent>& out) {
    const auto ids = sun_.inverter_ids();
    if (ids.empty()) return;
    bool all_down = true;
    for (const auto& id : ids) {
        auto it = devices_.find(id);
        if (it == devices_.end() || !it->second->last_ms ||
            static_cast<double>(to_epoch_ms(t) - *it->second->last_ms) > 30 * kMinute) {
            all_down = false;
            break;
        }
        all_down = all_down && it->second->down_without_grid;
    }
    const SunConditions sun = sun_.at(ids.front(), t);
    const bool daylight = judged_daylight(config_, sun);
    if (!all_down && !site_->grid.last_bad) {
        site_->grid.observe(false, t, 2 * kHour);
    } else if (all_down && !daylight) {
        return;
    } else {
        site_->grid.observe(all_down, t, 2 * kHour);
    }
    const auto& cfg = config_.grid_outage;
    if (site_->grid.bad_for(cfg.debounce_min)) {
        push(out, book_.raise("site", FaultKind::grid_outage, Severity::major,
                              "grid outage: all inverters down with no AC voltage",
                              {evidence("grid_down_minutes", site_->grid.bad_ms / kMinute, std::nullopt, "min", t)}, t));
    } else if (site_->grid.good_for(cfg.clear_min)) {
        push(out, book_.clear("site", FaultKind::grid_outage, t));
    }
}

std::vector<TicketEvent> DetectionPipeline::on_no_answer(const std::string& device_id, TimePoint t) {
    std::vector<TicketEvent> out;
    DeviceState& s = device(device_id);
    const long long now = to_epoch_ms(t);
    if (s.gap_last_ms && now <= *s.gap_last_ms) return out;
    if (!s.gap_start_ms) {
        s.gap_start_ms = s.last_ms.value_or(now);
        s.gap_last_ms = s.gap_start_ms;
        s.gap_energy_before_wh = s.last_energy_wh;
    }
    const SunConditions sun = sun_.at(device_id, t);
    const double dt = std::min(static_cast<double>(now - *s.gap_last_ms), kHour);
    if (judged_daylight(config_, sun)) s.gap_daylight_ms += dt;
    if (sun.elevation_deg > 0) s.gap_expected_wh += sun.expected_ac_w * dt / kHour;
    s.gap_last_ms = now;
    if (s.gap_daylight_ms >= config_.comm_lost.debounce_min * kMinute && judged_daylight(config_, sun)) {
        const double gap_min = static_cast<double>(now - *s.gap_start_ms) / kMinute;
        std::vector<domain::EvidenceItem> ev;
        if (!book_.is_live(device_id, FaultKind::comm_lost)) {
            ev.push_back(evidence("no_answer_minutes", gap_min, std::nullopt, "min", t));
        }
        push(out, book_.raise(device_id, FaultKind::comm_lost, Severity::minor,
                              "device not answering (since " + fmt(gap_min) + " min)", std::move(ev), t));
    }
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

std::optional<TimePoint> DetectionPipeline::last_sample_time() const {
    std::optional<long long> latest;
    for (const auto& [_, s] : devices_) {
        if (s->last_ms && (!latest || *s->last_ms > *latest)) latest = s->last_ms;
    }
    if (!latest) return std::nullopt;
    return from_epoch_ms(*latest);
}

}  // namespace pvfleet::detect
