// Clear periods from production alone: shape-only tests on windows of 15-minute energy bins.
#include <doctest/doctest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "pvfleet/solar/clear_periods.hpp"

using namespace pvfleet;

namespace {
// A synthetic day of 15-minute bins: clear-sky energy as a sine from 06:00 to 18:00.
std::vector<double> clear_day() {
    std::vector<double> e(96, 0.0);
    for (int i = 0; i < 96; ++i) {
        const double h = (i + 0.5) / 4.0;
        e[static_cast<std::size_t>(i)] = h > 6 && h < 18 ? 1000.0 * std::sin(std::numbers::pi * (h - 6) / 12) : 0.0;
    }
    return e;
}
std::vector<bool> daylight_mask(const std::vector<double>& e) {
    std::vector<bool> v;
    for (double x : e) v.push_back(x > 200);
    return v;
}
int count(const std::vector<bool>& v) {
    int n = 0;
    for (bool b : v) n += b ? 1 : 0;
    return n;
}
}  // namespace

TEST_CASE("clear periods: a clear day at any level is clear; the scale is the level") {
    const auto e = clear_day();
    std::vector<double> m;
    for (double x : e) m.push_back(0.5 * x);  // half the model all day: still clear (the level is judged later)
    const auto clear = solar::clear_bins(m, e, daylight_mask(e));
    CHECK(count(clear) == count(daylight_mask(e)));
    const auto f = solar::fit_window(std::span(m).subspan(40, 6), std::span(e).subspan(40, 6));
    CHECK(f.scale == doctest::Approx(0.5));
    CHECK(f.roughness == doctest::Approx(0.0).epsilon(1e-9));
}

TEST_CASE("clear periods: a cloudy day has none; a day clouded in the afternoon keeps its clear morning") {
    const auto e = clear_day();
    std::vector<double> ragged, afternoon;
    for (std::size_t i = 0; i < 96; ++i) {
        ragged.push_back(e[i] * (i % 2 ? 0.8 : 0.4));
        afternoon.push_back(e[i] * (i < 52 ? 0.9 : (i % 3 ? 0.7 : 0.3)));
    }
    CHECK(count(solar::clear_bins(ragged, e, daylight_mask(e))) == 0);
    const auto clear = solar::clear_bins(afternoon, e, daylight_mask(e));
    CHECK(count(clear) >= 20);
    for (std::size_t i = 52; i < 96; ++i) CHECK_FALSE(clear[i]);
    // one passing cloud (a single bin at 60 %) spoils the windows that contain it only
    std::vector<double> cloud = e;
    cloud[48] *= 0.6;
    const auto c2 = solar::clear_bins(cloud, e, daylight_mask(e));
    CHECK_FALSE(c2[48]);
    CHECK(c2[30]);
    CHECK(c2[66]);
    // invalid bins break windows; a gap-free run shorter than the window is never clear
    auto valid = daylight_mask(e);
    for (std::size_t i = 0; i < 96; i += 5) valid[i] = false;
    CHECK(count(solar::clear_bins(e, e, valid)) == 0);
}

TEST_CASE("clear periods: degenerate input is never clear") {
    const std::vector<double> zero(6, 0.0), one(6, 1.0);
    CHECK(std::isinf(solar::fit_window(one, zero).roughness));
    CHECK(std::isinf(solar::fit_window(std::span(one).first(1), std::span(one).first(1)).roughness));
    CHECK(solar::clear_bins(one, one, std::vector<bool>(5, true)).size() == 6);
}
