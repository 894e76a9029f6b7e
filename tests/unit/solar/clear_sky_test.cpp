#include <doctest/doctest.h>

#include <cmath>

#include "pvfleet/solar/clear_sky.hpp"

using namespace pvfleet;
using namespace pvfleet::solar;
using namespace std::chrono;

TEST_CASE("extraterrestrial irradiance peaks at perihelion and dips at aphelion") {
    CHECK(extraterrestrial_normal_irradiance(3) == doctest::Approx(1412.0).epsilon(0.003));
    CHECK(extraterrestrial_normal_irradiance(185) == doctest::Approx(1321.0).epsilon(0.003));
    CHECK(extraterrestrial_normal_irradiance(TimePoint{sys_days{2016y / 7 / 3}} + hours(12)) ==
          doctest::Approx(extraterrestrial_normal_irradiance(185)));
}

TEST_CASE("Kasten-Young airmass") {
    CHECK(relative_airmass(0.0) == doctest::Approx(0.9997).epsilon(1e-4));
    CHECK(relative_airmass(60.0) == doctest::Approx(1.9927).epsilon(1e-3));
    CHECK(relative_airmass(89.5) > 20.0);
    CHECK(std::isnan(relative_airmass(90.0)));
    CHECK(std::isnan(relative_airmass(120.0)));
    CHECK(pressure_from_elevation(0.0) == doctest::Approx(101325.0));
    CHECK(pressure_from_elevation(1830.0) == doctest::Approx(81300.0).epsilon(0.01));
    CHECK(absolute_airmass(2.0, 81060.0) == doctest::Approx(1.6));
}

TEST_CASE("Ineichen-Perez clear sky") {
    const double i0 = 1366.1;
    const double am = relative_airmass(30.0);
    const Irradiance clean = ineichen_perez(30.0, am, 2.0, 0.0, i0);
    const Irradiance hazy = ineichen_perez(30.0, am, 5.0, 0.0, i0);
    CHECK(clean.ghi > 850.0);
    CHECK(clean.ghi < 1000.0);
    CHECK(hazy.ghi < clean.ghi);
    CHECK(hazy.dni < clean.dni);
    CHECK(hazy.dhi > clean.dhi);
    // Closure: GHI = DNI cos z + DHI.
    CHECK(clean.dni * std::cos(30.0 * std::acos(-1.0) / 180.0) + clean.dhi == doctest::Approx(clean.ghi));
    // Thinner air above a high site.
    const Irradiance high = ineichen_perez(30.0, am * pressure_from_elevation(1800.0) / 101325.0, 2.0, 1800.0, i0);
    CHECK(high.ghi > clean.ghi);
    // Nothing below the horizon.
    const Irradiance night = ineichen_perez(95.0, std::nan(""), 3.0, 0.0, i0);
    CHECK(night.ghi == 0.0);
    CHECK(night.dni == 0.0);
    CHECK(night.dhi == 0.0);
}

TEST_CASE("Haurwitz clear sky") {
    CHECK(haurwitz_ghi(0.0) == doctest::Approx(1098.0 * std::exp(-0.059)));
    CHECK(haurwitz_ghi(60.0) == doctest::Approx(1098.0 * 0.5 * std::exp(-0.118)));
    CHECK(haurwitz_ghi(90.0) == 0.0);
    CHECK(haurwitz_ghi(100.0) == 0.0);
}

TEST_CASE("Erbs decomposition closes and splits by clearness") {
    const double i0 = 1366.1;
    const double cz = std::cos(40.0 * std::acos(-1.0) / 180.0);
    const Irradiance clear = erbs_decomposition(0.85 * i0 * cz, 40.0, i0);
    CHECK(clear.dhi / clear.ghi == doctest::Approx(0.165).epsilon(0.01));
    CHECK(clear.dni * cz + clear.dhi == doctest::Approx(clear.ghi));
    const Irradiance overcast = erbs_decomposition(0.15 * i0 * cz, 40.0, i0);
    CHECK(overcast.dhi / overcast.ghi > 0.98);
    const Irradiance zero = erbs_decomposition(0.0, 40.0, i0);
    CHECK(zero.ghi == 0.0);
    CHECK(zero.dni == 0.0);
}

TEST_CASE("default Linke climatology") {
    const MonthlyLinke golden = default_linke_climatology(39.74, 1800.0);
    const MonthlyLinke coast = default_linke_climatology(39.74, 0.0);
    for (int m = 0; m < 12; ++m) {
        CHECK(golden[m] >= 1.5);
        CHECK(golden[m] <= 7.0);
        CHECK(golden[m] < coast[m]);  // less water vapour and aerosol above a high site
    }
    CHECK(coast[6] > coast[0]);      // hazier northern summer
    const MonthlyLinke south = default_linke_climatology(-39.74, 0.0);
    CHECK(south[0] == doctest::Approx(coast[6]));  // seasons mirrored
    const MonthlyLinke tropics = default_linke_climatology(5.0, 0.0);
    CHECK(tropics[0] > coast[0]);
}

TEST_CASE("linke_at interpolates between mid-month values") {
    MonthlyLinke m{};
    for (int i = 0; i < 12; ++i) m[i] = 2.0 + i * 0.1;
    CHECK(linke_at(m, TimePoint{sys_days{2016y / 7 / 16}} + hours(12)) == doctest::Approx(2.6).epsilon(0.005));
    // Month boundary: halfway between June and July.
    CHECK(linke_at(m, TimePoint{sys_days{2016y / 7 / 1}}) == doctest::Approx(2.55).epsilon(0.01));
    // Wraps from December to January.
    CHECK(linke_at(m, TimePoint{sys_days{2017y / 1 / 1}}) == doctest::Approx((3.1 + 2.0) / 2).epsilon(0.01));
}
