#include "pvfleet/solar/clear_periods.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pvfleet::solar {

WindowFit fit_window(std::span<const double> measured, std::span<const double> expected) {
    constexpr double inf = std::numeric_limits<double>::infinity();
    WindowFit f{0, inf, inf};
    const std::size_t n = measured.size();
    if (n < 2 || expected.size() != n) return f;
    double sme = 0, see = 0, se = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (!(expected[i] > 0) || !std::isfinite(measured[i])) return f;
        sme += measured[i] * expected[i];
        see += expected[i] * expected[i];
        se += expected[i];
    }
    f.scale = sme / see;
    const double mean = f.scale * se / static_cast<double>(n);
    if (!(mean > 0)) return f;
    double ss = 0, worst_step = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const double r = measured[i] - f.scale * expected[i];
        ss += r * r;
        if (i > 0) {
            const double step = (measured[i] - measured[i - 1]) - f.scale * (expected[i] - expected[i - 1]);
            worst_step = std::max(worst_step, std::abs(step));
        }
    }
    f.roughness = std::sqrt(ss / static_cast<double>(n)) / mean;
    f.slope = worst_step / mean;
    return f;
}

std::vector<bool> clear_bins(std::span<const double> measured, std::span<const double> expected,
                             const std::vector<bool>& valid, const ClearWindowTest& test) {
    const std::size_t n = measured.size();
    std::vector<bool> clear(n, false);
    const auto w = static_cast<std::size_t>(std::max(2, test.window_bins));
    if (expected.size() != n || valid.size() != n || n < w) return clear;
    std::size_t run = 0;  // consecutive valid bins ending at i
    for (std::size_t i = 0; i < n; ++i) {
        run = valid[i] ? run + 1 : 0;
        if (run < w) continue;
        const std::size_t from = i + 1 - w;
        const WindowFit f = fit_window(measured.subspan(from, w), expected.subspan(from, w));
        if (f.roughness <= test.max_roughness && f.slope <= test.max_slope) {
            for (std::size_t k = from; k <= i; ++k) clear[k] = true;
        }
    }
    return clear;
}

}  // namespace pvfleet::solar
