#include <algorithm>
#include <cmath>

#include "pvfleet/domain/points.hpp"
#include "pvfleet/solar/clear_periods.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
namespace points = domain::points;

namespace {
constexpr double kDay = 24 * kHour;
constexpr double kSlotMs = 15 * kMinute;

// Whether the interval ending at this sample can be judged at all (the clear-window test decides the rest).
bool interval_bad(const RuleContext& c, const UnderperformanceConfig& cfg, std::optional<double> power) {
    if (c.sun.elevation_deg < cfg.min_elevation_deg) return true;
    // Clipping flattens the top of the day: neither its shape nor its level says anything about the array.
    if (c.sun.ac_rating_w > 0) {
        if (c.sun.expected_ac_w >= cfg.clip_fraction * c.sun.ac_rating_w) return true;
        if (power && *power >= (cfg.clip_fraction + 0.02) * c.sun.ac_rating_w) return true;
    }
    // An outage or a silent device is its own ticket; its hours say nothing about the array's level.
    return c.book.is_live(c.device, FaultKind::not_producing) || c.book.is_live(c.device, FaultKind::comm_lost) ||
           c.book.is_live("site", FaultKind::grid_outage);
}
}  // namespace

// Integrates the interval since the previous sample into the 15-minute slot of its midpoint (solar time): the
// clear-sky expected energy and the measured energy, both from AC power (trapezoid) and from the counter.
void clear_period_sample(RuleContext& c, DeviceState& s, const domain::Sample& x) {
    const auto& cfg = c.cfg.underperformance;
    PerfState& p = s.perf;
    const long long now = to_epoch_ms(x.t);
    p.solar_offset_ms = std::remainder(c.solar_hour * kHour - std::fmod(static_cast<double>(now), kDay), kDay);
    if (p.first_day < 0) p.first_day = static_cast<long long>(std::floor((static_cast<double>(now) + p.solar_offset_ms) / kDay));
    const auto power = x.value(points::ac_power_w);
    const auto counter = x.value(points::energy_total_wh);
    if (const auto amb = x.value(points::ambient_temperature_c); amb && *amb <= cfg.snow_max_ambient_c) {
        p.cold_day = static_cast<long long>(std::floor((static_cast<double>(now) + p.solar_offset_ms) / kDay));
    }
    const double dt = static_cast<double>(now - p.prev_ms);
    if (p.prev_ms >= 0 && dt > 0 && dt <= cfg.max_interval_min * kMinute) {
        const double mid = 0.5 * static_cast<double>(now + p.prev_ms) + p.solar_offset_ms;
        const auto day = static_cast<long long>(std::floor(mid / kDay));
        if (day > p.bins.day) p.bins.reset(day);
        if (day == p.bins.day) {
            const auto slot = static_cast<std::size_t>(std::clamp(static_cast<int>((mid - static_cast<double>(day) * kDay) / kSlotMs), 0, 95));
            const double dt_h = dt / kHour;
            PerfBins& b = p.bins;
            b.total_ms[slot] += dt;
            b.expected_wh[slot] += 0.5 * (p.prev_expected_w + c.sun.expected_ac_w) * dt_h;
            if (power && p.has_prev_power) {
                b.power_wh[slot] += 0.5 * (std::max(0.0, p.prev_power_w) + std::max(0.0, *power)) * dt_h;
                b.power_ms[slot] += dt;
            }
            if (counter && p.has_prev_counter) {
                const double delta = *counter - p.prev_counter_wh;
                if (delta < 0) b.bad[slot] = 1;
                if (delta > 0) p.counter_step_wh = p.counter_step_wh > 0 ? std::min(p.counter_step_wh, delta) : delta;
                b.counter_wh[slot] += std::max(0.0, delta);
                b.counter_ms[slot] += dt;
            }
            if (interval_bad(c, cfg, power)) b.bad[slot] = 1;
        }
    }
    p.prev_ms = now;
    p.prev_expected_w = c.sun.expected_ac_w;
    p.has_prev_power = power.has_value();
    p.prev_power_w = power.value_or(0);
    p.has_prev_counter = counter.has_value();
    p.prev_counter_wh = counter.value_or(0);
}

// The day's clear periods: bins fully covered by measurements, judged (not clipped, sun high enough, a
// meaningful expectation), inside a 90-minute window with the clear-sky shape.
ClearPeriods clear_periods_of_day(const RuleContext& c, const PerfState& p) {
    const auto& cfg = c.cfg.underperformance;
    const PerfBins& b = p.bins;
    ClearPeriods out;
    if (b.total_ms.size() != 96) return out;
    std::vector<double> measured(96, 0.0);
    std::vector<bool> valid(96, false);
    const double min_bin_wh = cfg.min_bin_fraction * c.sun.ac_rating_w * 0.25;
    for (std::size_t i = 0; i < 96; ++i) {
        const double e = b.expected_wh[i];
        if (b.bad[i] != 0 || b.total_ms[i] < 0.8 * kSlotMs || e <= 0 || e < min_bin_wh) continue;
        // The counter is the true energy, unless it counts in steps too coarse for a 15-minute bin.
        const bool counter_ok = b.counter_ms[i] >= b.total_ms[i] && p.counter_step_wh > 0 &&
                                p.counter_step_wh <= cfg.counter_max_step_fraction * e;
        if (counter_ok) {
            measured[i] = b.counter_wh[i];
        } else if (b.power_ms[i] >= b.total_ms[i]) {
            measured[i] = b.power_wh[i];
        } else {
            continue;
        }
        valid[i] = true;
    }
    const solar::ClearWindowTest test{cfg.clear_window_bins, cfg.clear_max_roughness, cfg.clear_max_slope};
    const auto clear = solar::clear_bins(measured, b.expected_wh, valid, test);
    for (std::size_t i = 0; i < 96; ++i) {
        if (!clear[i]) continue;
        ++out.bins;
        out.measured_wh += measured[i];
        out.expected_wh += b.expected_wh[i];
        (i < 48 ? out.morning : out.afternoon) = true;
    }
    return out;
}

}  // namespace pvfleet::detect::rules
