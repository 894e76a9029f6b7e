#pragma once
// State of the underperformance rule (rules/clear_periods.cpp, rules/underperformance.cpp): today's 15-minute
// energy bins, the clear-period performance ratio of recent usable days, the commissioning bias and the
// hysteresis of the three checks. Saved with the rest of the detector state; a state written before this block
// existed loads with it empty.
#include <deque>
#include <vector>

#include <nlohmann/json.hpp>

namespace pvfleet::detect {

// Energy per 15-minute slot of one solar day (96 slots), filled sample by sample.
struct PerfBins {
    long long day = -1;              // solar day number
    std::vector<double> total_ms;    // time covered by sample intervals in the slot
    std::vector<double> expected_wh; // clear-sky expected energy (trapezoid of expected AC power)
    std::vector<double> power_wh;    // measured energy integrated from AC power (trapezoid) ...
    std::vector<double> power_ms;    // ... over this much of the slot
    std::vector<double> counter_wh;  // measured energy from the energy counter ...
    std::vector<double> counter_ms;  // ... over this much of the slot
    std::vector<int> bad;            // 1: not judged (clipping, low sun, live outage ticket, counter backwards)
    void reset(long long d) {
        *this = PerfBins{};
        day = d;
        for (auto* v : {&total_ms, &expected_wh, &power_wh, &power_ms, &counter_wh, &counter_ms}) v->assign(96, 0.0);
        bad.assign(96, 0);
    }
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PerfBins, day, total_ms, expected_wh, power_wh, power_ms, counter_wh,
                                                counter_ms, bad)

// One usable day: enough clear 15-minute periods to judge the level of production.
struct PrDay {
    long long day = 0;       // solar day number
    double pr = 0;           // Σ measured / Σ expected over the day's clear periods
    int bins = 0;            // clear 15-minute periods used
    double measured_wh = 0;  // Σ measured over them
    double expected_wh = 0;  // Σ clear-sky expected over them (model, before any bias)
    bool learned = false;    // part of the site baseline
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PrDay, day, pr, bins, measured_wh, expected_wh, learned)

struct PerfState {
    PerfBins bins;
    // the previous sample (the interval up to this sample is integrated into its slot)
    long long prev_ms = -1;
    bool has_prev_power = false, has_prev_counter = false;
    double prev_power_w = 0, prev_counter_wh = 0, prev_expected_w = 0;
    double counter_step_wh = 0;    // smallest positive counter increment seen: its resolution (0 = unknown)
    double solar_offset_ms = 0;    // local mean solar time − UTC (for the time stamps of evidence)
    long long cold_day = -10;      // last solar day with ambient at or below the snow limit
    long long first_day = -1;      // first solar day seen (commissioning)
    std::deque<PrDay> days;        // recent usable days, oldest first
    int usable_count = 0;          // usable days since commissioning (the first ones give the site bias)
    double site_bias = 0;          // median PR of the first usable days after commissioning (0 = not yet)
    long long site_bias_day = -1;  // day it was fixed
    bool floor_active = false, step_active = false, drift_active = false;
    double step_baseline = 0;      // baseline PR when the step check fired (judged against until it clears)
    long long drift_since = -1;    // first day of the current run with the baseline below the drift limit
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(PerfState, bins, prev_ms, has_prev_power, has_prev_counter,
                                                prev_power_w, prev_counter_wh, prev_expected_w, counter_step_wh,
                                                solar_offset_ms, cold_day, first_day, days, usable_count, site_bias,
                                                site_bias_day, floor_active, step_active, drift_active, step_baseline,
                                                drift_since)

}  // namespace pvfleet::detect
