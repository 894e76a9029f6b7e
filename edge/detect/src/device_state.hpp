#pragma once
// Per-device detector state: everything here is saved and restored as JSON (DetectionPipeline::save_state), so a
// restart resumes debounces and learned baselines where they stopped. Each rule owns its block of fields.
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hold.hpp"
#include "perf_state.hpp"

namespace pvfleet::detect {

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
    // Snow guard: the array produced today (power at or above the start floor, held). lit_* = current run.
    long long lit_since_ms = -1;
    long long lit_last_ms = -1;
    bool started = false;
};
// WITH_DEFAULT: a state saved before a field existed still loads (the field starts at its default).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(DayAccum, day, measured_wh, expected_wh, spp, spe, see, n, slot_p, slot_e, tv, pmax,
                                   plast, saw_daylight, evaluated, lit_since_ms, lit_last_ms, started)

// One input (MPPT) of an inverter with per-input readings, for the string fault rule.
struct InputState {
    Hold hold;              // low against its siblings, over good-sun samples
    bool produced = false;  // has produced in good sun since the gateway started: a stop from now on is a fault
    bool unused = false;    // learned: never produced over whole good-sun days, so nothing is wired to it
    int dark_good_sun_days = 0;  // good-sun days it did not produce (before it ever did)
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(InputState, hold, produced, unused, dark_good_sun_days)

// A point the plausibility layer keeps refusing (Sample::implausible).
struct ImplausiblePoint {
    long long since_ms = 0;  // first refusal of this streak
    long long last_ms = 0;
    int count = 0;
    double last_value = 0;
    bool reported = false;   // named in the implausible_values ticket
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(ImplausiblePoint, since_ms, last_ms, count, last_value, reported)

struct DeviceState {
    std::optional<long long> last_ms;
    std::optional<double> last_energy_wh;   // the generation counter (rules::generation_energy)
    bool pv_counter = false;  // the device counts PV generation on its own (not persisted: re-learned per sample)
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
    std::map<std::string, ImplausiblePoint> implausible;  // point -> its streak of refusals
    bool implausible_raised = false;
    int drift_days = 0;
    std::vector<double> drift_learn;        // rise, fall offsets (min) of the first smooth days, in pairs
    std::optional<double> drift_rise_ref;   // the site's own edge offsets against the clear-sky model, once
    std::optional<double> drift_fall_ref;   // learned (median of drift_learn)
    // string fault
    std::map<int, InputState> inputs;  // 0-based input index -> its state
    double good_sun_ms_today = 0;      // time today the inverter's producing inputs delivered good sun
    std::optional<long long> good_sun_last_ms;
    std::map<std::string, unsigned> shading_bits;  // "mppt:hour" -> low flag per day, bit 0 = yesterday
    std::map<std::string, int> today_low;          // "mppt:hour" -> 1 when low today
    std::map<int, int> today_good_hours;           // mppt -> judged good samples today
    // daily energy
    DayAccum today;
    // underperformance: clear-period bins and performance ratio (perf_state.hpp)
    PerfState perf;
    // grid
    bool down_without_grid = false;
};

void to_json(nlohmann::json& j, const DeviceState& s);
void from_json(const nlohmann::json& j, DeviceState& s);

}  // namespace pvfleet::detect
