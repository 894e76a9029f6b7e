#pragma once
// What every detection rule sees, and the rules themselves. A sample rule is a function of the same shape —
// (context, this device's state, the sample) — that reads the sample, updates its own block of DeviceState and
// raises or clears its fault kind in the ticket book. DetectionPipeline only does the bookkeeping all rules
// share (sun, solar day, daily energy) and dispatches; one file per rule here.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../device_state.hpp"
#include "pvfleet/detect/config.hpp"
#include "pvfleet/detect/sun.hpp"
#include "pvfleet/detect/ticket_book.hpp"
#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"

namespace pvfleet::detect::rules {

constexpr double kMinute = 60000.0;
constexpr double kHour = 3600000.0;

struct RuleContext {
    const DetectionConfig& cfg;
    TicketBook& book;
    std::vector<domain::TicketEvent>& out;
    const std::string& device;
    TimePoint t;
    SunConditions sun;
    double near_zero_w;
    bool daylight;             // sun high enough and a meaningful clear-sky expectation: outages can be judged
    int slot = 0;              // 15-min slot of the solar day
    double solar_hour = 0;     // local solar time of the sample, hours
    bool grid_suppressed = false;  // the site-wide grid outage rule holds: device outages are its consequence
};

using SampleRule = void (*)(RuleContext&, DeviceState&, const domain::Sample&);

// ---- helpers shared by the rules (common.cpp) ----
std::string fmt(double v, int decimals = 0);
domain::EvidenceItem evidence(std::string name, double observed, std::optional<double> expected, std::string unit,
                              TimePoint t);
void push(std::vector<domain::TicketEvent>& out, std::optional<domain::TicketEvent> e);
double median(std::vector<double> v);
double near_zero(const DetectionConfig& cfg, const SunConditions& sun);
bool judged_daylight(const DetectionConfig& cfg, const SunConditions& sun);
// The lifetime counter compared with PV expectations: pv_energy_total_wh where the device counts PV on its own
// (hybrids whose energy_total_wh includes battery discharge), else energy_total_wh. Once a device has shown a PV
// counter it is the only one used, so the two never mix.
std::optional<double> generation_energy(DeviceState& s, const domain::Sample& x);
std::string generation_counter_name(const DeviceState& s);

// ---- sample rules, in the order the pipeline runs them ----
void inverter_faults(RuleContext& c, DeviceState& s, const domain::Sample& x);  // inverter_faults.cpp
void data_quality(RuleContext& c, DeviceState& s, const domain::Sample& x);     // data_quality.cpp
// (the site-wide grid outage rule runs here: not_producing defers to it)
void not_producing(RuleContext& c, DeviceState& s, const domain::Sample& x);    // not_producing.cpp
void string_fault(RuleContext& c, DeviceState& s, const domain::Sample& x);     // string_fault.cpp
// Integrates the interval since the previous sample into today's 15-minute energy bins (clear_periods.cpp).
void clear_period_sample(RuleContext& c, DeviceState& s, const domain::Sample& x);

// ---- communication lost (comm_lost.cpp) ----
// The device did not answer at t.
void comm_lost_no_answer(const DetectionConfig& cfg, TicketBook& book, const std::string& device_id,
                         const SunConditions& sun, DeviceState& s, TimePoint t,
                         std::vector<domain::TicketEvent>& out);
// First sample after a gap: clears comm_lost, and raises not_producing when the counter shows the gap was an
// outage.
void comm_lost_answered(RuleContext& c, DeviceState& s, const domain::Sample& x);

// ---- site-wide grid outage (grid_outage.cpp) ----
// Every inverter fresh, down and without AC voltage in daylight: one site ticket instead of one per inverter.
void grid_outage(const DetectionConfig& cfg, TicketBook& book, const SunModel& sun,
                 const std::map<std::string, std::unique_ptr<DeviceState>, std::less<>>& devices, Hold& grid,
                 TimePoint t, std::vector<domain::TicketEvent>& out);

// ---- once per solar day, at dusk (day_end.cpp, underperformance.cpp, clock_drift.cpp, string_fault.cpp) ----
void day_end(RuleContext& c, DeviceState& s);
// How the day's measured power fits the clear-sky shape.
struct DayFit {
    double ratio = 0;      // measured / expected energy
    double roughness = 0;  // RMS residual of p ≈ k·e relative to the fitted mean: 0 = clear-sky shape
};
void learn_shading(DeviceState& s);                                    // string_fault.cpp
void clock_drift(RuleContext& c, DeviceState& s, const DayFit& fit);   // clock_drift.cpp
// The day's clear 15-minute periods (clear_periods.cpp).
struct ClearPeriods {
    int bins = 0;             // clear bins
    double measured_wh = 0;   // Σ measured energy over them
    double expected_wh = 0;   // Σ clear-sky expected energy over them
    bool morning = false, afternoon = false;  // clear bins before / after solar noon
};
ClearPeriods clear_periods_of_day(const RuleContext& c, const PerfState& p);
void underperformance(RuleContext& c, DeviceState& s);  // underperformance.cpp

}  // namespace pvfleet::detect::rules
