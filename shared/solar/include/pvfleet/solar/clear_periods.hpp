#pragma once
// Clear periods from production alone (no irradiance sensor): a window of consecutive energy bins is clear
// when the measured energy has the clear-sky model's shape, whatever its level. Reno & Hansen (2016) test
// measured irradiance against the clear-sky curve including the level; a PV system whose output is the only
// "sensor" cannot use the level tests (a faulty site would look cloudy), so only the scale-free shape tests are
// kept: the model is fitted with a free scale per window, and the level is judged afterwards (performance ratio).
// The 90-minute window on 15-minute bins follows Jordan & Hansen (2023), Table 1.
#include <span>
#include <vector>

namespace pvfleet::solar {

// Fit of measured ≈ scale · expected over one window of bins.
struct WindowFit {
    double scale = 0;      // Σ m·e / Σ e²
    double roughness = 0;  // RMS(m − scale·e) / mean(scale·e): 0 for the exact clear-sky shape
    double slope = 0;      // max |Δm − scale·Δe| / mean(scale·e): a step between neighbouring bins (a cloud edge)
};

// Both spans have the same length ≥ 2 and the expected values are positive; otherwise roughness and slope are
// +infinity (never clear).
WindowFit fit_window(std::span<const double> measured, std::span<const double> expected);

struct ClearWindowTest {
    int window_bins = 6;          // 6 × 15 min = 90 min
    double max_roughness = 0.04;  // stands in for Reno-Hansen's mean/max/line-length criteria
    double max_slope = 0.08;      // Reno-Hansen's slope deviation (75 W/m² on ~900 W/m²)
};

// Marks clear bins: every bin of a window of `window_bins` consecutive valid bins that passes the test.
// `valid[i]` false (gap, clipping, low sun, ...) breaks windows. All three spans have the same length.
std::vector<bool> clear_bins(std::span<const double> measured, std::span<const double> expected,
                             const std::vector<bool>& valid, const ClearWindowTest& test = {});

}  // namespace pvfleet::solar
