#pragma once
// Detector settings with documented defaults (docs/detection.md); a site config's "detection" object
// overrides any of them, e.g. {"not_producing": {"debounce_min": 45}}.
#include <string>

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
    double snow_day_fraction = 0.1;     // (energy so far below this fraction of clear-sky) is snow cover
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
};

struct UnderperformanceConfig {
    double clear_day_max_roughness = 0.08;  // smoothness of the day against the clear-sky shape
    double min_clear_day_fraction = 0.6;    // a day below this fraction of the baseline is not a clear day
    int baseline_min_days = 5;              // clear days needed before a baseline exists
    int baseline_max_days = 7;              // most recent learned clear days forming the baseline
    int recent_days = 2;                    // recent clear days compared to the baseline
    double drop_fraction = 0.07;            // recent median below baseline by this fraction raises a ticket
    double clear_fraction = 0.04;           // ... and clears when back within this
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
