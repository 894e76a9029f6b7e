#pragma once
// Detector settings with documented defaults (docs/detection.md); a site config's "detection" object
// overrides any of them, e.g. {"not_producing": {"debounce_min": 45}}.
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pvfleet/util/result.hpp"

namespace pvfleet::detect {

struct DaylightConfig {
    double min_elevation_deg = 10;        // below this the sun is too low to judge anything
    double min_expected_fraction = 0.20;  // expected clear-sky AC / rating below this: not judged (dawn, dusk,
                                          // sun behind the array plane)
};

struct NotProducingConfig {
    double near_zero_fraction = 0.005;  // of AC rating: at or below this the inverter is "not producing"
    double near_zero_min_w = 20;        // ... but never below this many watts
    double debounce_min = 30;           // daylight minutes the condition must hold before a ticket opens
    double clear_min = 10;              // minutes of production before it resolves
    double major_after_min = 120;       // daylight minutes down before severity major
    double critical_after_min = 1440;   // ... and critical
    double max_gap_min = 60;            // a longer gap between judged samples restarts the debounce
    double unlearned_expected_fraction = 0.5;  // before the device's production window is learned (first
                                               // day), judge only when clear-sky AC exceeds this of rating
    double snow_max_ambient_c = 2;      // at or below this ambient temperature, a day that has not started
    double snow_day_fraction = 0.1;     // (energy so far below this fraction of clear-sky, and power never
    double snow_start_fraction = 0.01;  // at or above this fraction of the rating for snow_start_min while
    double snow_start_min = 30;         // the sun was up) is snow cover
};

struct CommLostConfig {
    double debounce_min = 30;        // daylight minutes without an answer before a ticket opens
    double outage_ratio = 0.2;       // counter growth over the gap / clear-sky expected energy below this: it
                                     // was a real outage (not_producing ticket), else communication only
};

struct InverterFaultConfig {
    double repeat_window_min = 60;  // grid trips count only when repeated within this window
    int repeat_count = 3;           // ... this many times
    double persist_min = 5;         // other faults/alarms must persist this long (ground/arc fault: at once)
    double clear_min = 30;          // fault-free minutes before it resolves
};

struct StringFaultConfig {
    double min_expected_fraction = 0.30;  // good sun: expected AC / rating
    double low_ratio = 0.70;              // an MPPT below this fraction of its siblings' median is suspect
    double open_ratio = 0.05;             // below this it is an open string (faster)
    double min_ac_fraction = 0.20;        // AC power / clear-sky expectation below this: too dark to compare
    double debounce_min = 180;            // good-sun minutes before a ticket for a weak input (shading passes)
    double open_debounce_min = 30;        // ... for an open input (no current at all)
    double clear_min = 30;
    double day_drop_fraction = 0.30;      // inverters without per-input data: the recent clear days all this far
                                          // below the learned baseline = lost string / partial failure
    double shading_days = 3;              // an hour of day flagged low on this many of the last 7 days is
                                          // learned shading and excluded
    // Unused inputs (no wiring in the site config): an input that has not produced since the gateway started is
    // not judged; after `unused_after_days` good-sun days without production it is learned as unused. A
    // good-sun day has at least `unused_good_sun_min` minutes of good sun in which the inverter's AC power
    // (what its other inputs deliver) reached `unused_good_sun_fraction` of the clear-sky expectation.
    double unused_good_sun_fraction = 0.5;
    double unused_good_sun_min = 60;
    double unused_after_days = 1;
};

// Which inputs (1-based MPPT numbers) of each inverter have an array wired, from the site config's arrays.
// An inverter not listed: unknown, the string fault rule learns unused inputs instead.
using InputWiring = std::map<std::string, std::vector<int>, std::less<>>;

// Underperformance on clear 15-minute periods (docs/detection.md, "Underperformance").
struct UnderperformanceConfig {
    // clear periods: a window of 15-minute energy bins with the clear-sky model's shape (any level)
    int clear_window_bins = 6;             // 6 bins = 90 min (Jordan & Hansen 2023 for 15-min data)
    double clear_max_roughness = 0.04;     // RMS(measured − k·expected) / mean over the window
    double clear_max_slope = 0.08;         // max step between neighbouring bins off the model, / mean
    double max_interval_min = 20;          // a longer interval between samples is not integrated
    double min_elevation_deg = 15;         // bins with the sun lower are not judged
    double min_bin_fraction = 0.2;         // bins expecting less than this of rating × 15 min are not judged
    double clip_fraction = 0.95;           // expected (or measured / 0.97) near the AC rating: clipping, not judged
    double counter_max_step_fraction = 0.02;  // counter resolution above this of a bin's expectation: integrate
                                              // AC power instead
    int usable_min_bins = 8;               // clear bins (2 h) that make a day usable
    double dim_day_fraction = 0.35;        // a usable day below this of the reference needs clear bins on both
                                           // sides of solar noon (a smooth overcast day is not clear)
    double snow_max_ambient_c = 2;         // ambient at or below this on the day or the day before: not usable
    int recent_days = 3;                   // usable days whose median is judged ...
    int recent_span_days = 10;             // ... all within this many days
    // (a) absolute floor against the model's bias across the fleet
    double model_bias_prior = 1.0;         // measured / model PR of healthy sites (fleet median; server-set)
    double floor_pr = 0.65;                // recent PR / prior below this: major ticket
    double floor_clear_pr = 0.75;          // ... resolves at or above this
    // (b) step against the site's own recent baseline
    int baseline_span_days = 25;           // learned usable days at most this old form the baseline ...
    int baseline_min_days = 4;             // ... when there are at least this many
    double drop_fraction = 0.06;           // recent median below the baseline by this: minor ticket
    double clear_fraction = 0.03;          // ... resolves when back within this
    double learn_fraction = 0.03;          // a usable day further below the baseline is not learned into it
    // (c) drift of the baseline against the commissioning bias
    int commissioning_days = 7;            // the first usable days give the site's own model bias
    double drift_fraction = 0.12;          // baseline below the commissioning bias by this ...
    int drift_days = 14;                   // ... for this many days: minor ticket ("gradual")
};

struct GridOutageConfig {
    double max_ac_voltage_v = 50;  // every phase below this while all inverters are down: no grid
    double debounce_min = 5;
    double clear_min = 10;
};

struct DataQualityConfig {
    double counter_tolerance_wh = 1;     // decrease of the energy counter tolerated (rounding)
    double counter_clear_min = 1440;     // resolve after this long without another decrease
    double frozen_min = 60;              // identical readings in daylight this long ...
    int frozen_samples = 4;              // ... and at least this many samples
    double clock_drift_max_min = 20;     // production centroid vs solar noon on clear days
    int clock_drift_days = 3;            // consecutive clear days over the limit before a ticket
    int clock_drift_learn_days = 3;      // first smooth days whose edge offsets (vs clear-sky) are the site's own
    // Implausible values (dropped by the edge's plausibility layer, Sample::implausible): a point refused in at
    // least `implausible_samples` readings spanning `implausible_min` raises implausible_values; resolved when
    // no point was refused for `implausible_clear_min`.
    int implausible_samples = 3;
    double implausible_min = 10;
    double implausible_clear_min = 60;
};

struct TicketConfig {
    double close_after_resolved_min = 1440;  // a resolved ticket closes after this long; a recurrence before
                                             // that reopens the same ticket
    int max_evidence = 20;                   // evidence items kept per ticket (newest)
};

struct DetectionConfig {
    DaylightConfig daylight;
    NotProducingConfig not_producing;
    CommLostConfig comm_lost;
    InverterFaultConfig inverter_fault;
    StringFaultConfig string_fault;
    UnderperformanceConfig underperformance;
    GridOutageConfig grid_outage;
    DataQualityConfig data_quality;
    TicketConfig tickets;
};

// Overrides defaults with the keys present in `j`; unknown keys and bad values are errors naming the key
// path, e.g. "not_producing/debounce_min: expected a number >= 0".
Result<DetectionConfig> parse_detection_config(const nlohmann::json& j);
nlohmann::json to_json(const DetectionConfig& c);

}  // namespace pvfleet::detect
