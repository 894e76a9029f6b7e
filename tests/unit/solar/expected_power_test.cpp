#include <doctest/doctest.h>

#include <cmath>

#include "pvfleet/solar/expected_power.hpp"

using namespace pvfleet;
using namespace pvfleet::solar;
using namespace std::chrono;

namespace {

SiteModel golden_site() {
    SiteModel s;
    s.latitude_deg = 39.742;
    s.longitude_deg = -105.1727;
    s.elevation_m = 1800.0;
    s.arrays.push_back({"south", "inv1", 5.0, 30.0, 180.0});
    s.inverters.push_back({"inv1", 5.0});
    return s;
}

// Local (UTC-7) time on a date.
TimePoint mst(year_month_day d, int h, int m = 0) { return TimePoint{sys_days{d}} + hours(h + 7) + minutes(m); }

}  // namespace

TEST_CASE("site validation names the offending key") {
    auto s = golden_site();
    s.arrays[0].inverter_id = "inv9";
    auto r = ExpectedPowerModel::create(s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "arrays/0/inverter_id: unknown inverter 'inv9'");

    s = golden_site();
    s.arrays.push_back(s.arrays[0]);
    r = ExpectedPowerModel::create(s);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "arrays/1/id: duplicate array 'south'");

    s = golden_site();
    s.arrays[0].tilt_deg = 95.0;
    CHECK(ExpectedPowerModel::create(s).error().message == "arrays/0/tilt_deg: must be within 0..90");
    s = golden_site();
    s.arrays[0].azimuth_deg = 360.0;
    CHECK_FALSE(ExpectedPowerModel::create(s).ok());
    s = golden_site();
    s.inverters[0].ac_kw = 0.0;
    CHECK(ExpectedPowerModel::create(s).error().message == "inverters/0/ac_kw: must be > 0");
    s = golden_site();
    s.linke_monthly = MonthlyLinke{3, 3, 3, 3, 3, 0.5, 3, 3, 3, 3, 3, 3};
    CHECK(ExpectedPowerModel::create(s).error().message == "linke_monthly/5: Linke turbidity must be within 1..10");
    s = golden_site();
    s.latitude_deg = 91.0;
    CHECK_FALSE(ExpectedPowerModel::create(s).ok());
    s = golden_site();
    s.inverters.clear();
    CHECK_FALSE(ExpectedPowerModel::create(s).ok());
    CHECK(ExpectedPowerModel::create(golden_site()).ok());
}

TEST_CASE("PVWatts building blocks") {
    CHECK(pvwatts_dc(1.0, 1000.0, 25.0, -0.0037, 0.0) == doctest::Approx(1000.0));
    CHECK(pvwatts_dc(1.0, 1000.0, 45.0, -0.0037, 0.14) == doctest::Approx(1000.0 * (1 - 0.074) * 0.86));
    CHECK(pvwatts_dc(1.0, 0.0, 25.0, -0.0037, 0.14) == 0.0);
    // At its DC rating (AC / eta_nom) the inverter runs at about its nominal efficiency.
    const double ac = pvwatts_ac(5000.0 / 0.96, 5000.0, 0.96);
    CHECK(ac / (5000.0 / 0.96) == doctest::Approx(0.96 / 0.9637 * (-0.0162 - 0.0059 + 0.9858)));
    CHECK(pvwatts_ac(8000.0, 5000.0) == 5000.0);  // clipped
    CHECK(pvwatts_ac(0.0, 5000.0) == 0.0);
    CHECK(pvwatts_ac(-10.0, 5000.0) == 0.0);
    CHECK(pvwatts_ac(5.0, 5000.0) == 0.0);        // below the self-consumption threshold of the curve
    // Sandia model: E exp(a + b ws) + Ta + E/1000 dT.
    CHECK(cell_temperature_sapm(1000.0, 25.0, 1.0, Mounting::open_rack_glass_polymer) ==
          doctest::Approx(1000.0 * std::exp(-3.56 - 0.075) + 25.0 + 3.0));
    CHECK(cell_temperature_sapm(1000.0, 25.0, 1.0, Mounting::insulated_back_glass_polymer) >
          cell_temperature_sapm(1000.0, 25.0, 1.0, Mounting::open_rack_glass_polymer));
    CHECK(cell_temperature_sapm(0.0, 12.0, 3.0, Mounting::close_mount_glass_glass) == 12.0);
}

TEST_CASE("clear-sky expected power of a south roof") {
    const auto model = ExpectedPowerModel::create(golden_site()).value();
    const ExpectedPower noon = model.at(mst(2016y / 6 / 21, 12, 5), Conditions{.ambient_c = 25.0});
    CHECK_FALSE(noon.from_measured);
    CHECK(noon.sun.zenith_deg < 20.0);
    REQUIRE(noon.arrays.size() == 1);
    REQUIRE(noon.inverters.size() == 1);
    CHECK(noon.arrays[0].poa.global > 900.0);
    CHECK(noon.arrays[0].poa.global < 1150.0);
    CHECK(noon.arrays[0].cell_temperature_c > 45.0);
    CHECK(noon.total_dc_w == doctest::Approx(noon.arrays[0].dc_w));
    CHECK(noon.total_ac_w > 3500.0);
    CHECK(noon.total_ac_w < 4800.0);
    CHECK(noon.total_ac_w < noon.total_dc_w);

    // Hotter air, less power.
    const ExpectedPower hot = model.at(mst(2016y / 6 / 21, 12, 5), Conditions{.ambient_c = 40.0});
    CHECK(hot.total_ac_w < noon.total_ac_w);

    const ExpectedPower night = model.at(mst(2016y / 6 / 21, 23));
    CHECK(night.total_ac_w == 0.0);
    CHECK(night.arrays[0].poa.global == 0.0);
    CHECK(night.sun.apparent_elevation_deg < 0.0);
}

TEST_CASE("measured irradiance replaces the clear sky") {
    const auto model = ExpectedPowerModel::create(golden_site()).value();
    const TimePoint t = mst(2016y / 6 / 21, 12, 5);
    const ExpectedPower clear = model.at(t);
    const ExpectedPower dark = model.at(t, Conditions{.measured = Irradiance{0.0, NAN, NAN}});
    CHECK(dark.from_measured);
    CHECK(dark.total_ac_w == 0.0);
    const ExpectedPower half = model.at(t, Conditions{.measured = Irradiance{clear.irradiance.ghi * 0.5, NAN, NAN}});
    CHECK(half.total_ac_w < clear.total_ac_w * 0.75);
    CHECK(half.total_ac_w > clear.total_ac_w * 0.25);
    // Full components pass through untouched.
    const ExpectedPower same = model.at(t, Conditions{.measured = clear.irradiance});
    CHECK(same.total_ac_w == doctest::Approx(clear.total_ac_w));
}

TEST_CASE("east and west arrays on one inverter add before clipping") {
    SiteModel s = golden_site();
    s.arrays = {{"east", "inv1", 4.0, 30.0, 90.0}, {"west", "inv1", 4.0, 30.0, 270.0}};
    s.inverters = {{"inv1", 5.0}};
    const auto shared = ExpectedPowerModel::create(s).value();

    SiteModel split = s;
    split.arrays[1].inverter_id = "inv2";
    split.inverters = {{"inv1", 5.0}, {"inv2", 5.0}};
    const auto separate = ExpectedPowerModel::create(split).value();

    const TimePoint noon = mst(2016y / 6 / 21, 12, 5);
    const ExpectedPower a = shared.at(noon, Conditions{.ambient_c = 15.0});
    const ExpectedPower b = separate.at(noon, Conditions{.ambient_c = 15.0});
    // Near noon both roofs produce about the same.
    CHECK(a.arrays[0].dc_w == doctest::Approx(a.arrays[1].dc_w).epsilon(0.1));
    CHECK(a.inverters[0].dc_w == doctest::Approx(a.arrays[0].dc_w + a.arrays[1].dc_w));
    // 8 kWp on one 5 kW inverter clips at midday; each array alone on its own 5 kW inverter does not.
    CHECK(a.inverters[0].clipped);
    CHECK(a.total_ac_w == doctest::Approx(5000.0));
    CHECK_FALSE(b.inverters[0].clipped);
    CHECK_FALSE(b.inverters[1].clipped);
    CHECK(b.total_ac_w > a.total_ac_w);

    // Morning: the east roof leads.
    const ExpectedPower morning = shared.at(mst(2016y / 6 / 21, 8));
    CHECK(morning.arrays[0].dc_w > 2.0 * morning.arrays[1].dc_w);
    CHECK_FALSE(morning.inverters[0].clipped);
}

TEST_CASE("daily clear-sky energy") {
    const auto model = ExpectedPowerModel::create(golden_site()).value();
    const DailyEnergy june = model.daily_energy(2016y / 6 / 21, hours(-7));
    REQUIRE(june.inverter_ac_wh.size() == 1);
    CHECK(june.total_ac_wh == doctest::Approx(june.inverter_ac_wh[0]));
    // 5 kWp at 40° N in June under clear sky: ~6-7 kWh/kWp before losses, ~5-6 after.
    CHECK(june.total_ac_wh > 5.0 * 4500.0);
    CHECK(june.total_ac_wh < 5.0 * 7500.0);
    CHECK(june.peak_ac_w <= 5000.0);
    CHECK(june.sun.kind == DayKind::normal);
    const DailyEnergy december = model.daily_energy(2016y / 12 / 21, hours(-7));
    CHECK(december.total_ac_wh < june.total_ac_wh);
    CHECK(december.total_ac_wh > 0.0);
    // The same day by its mean-solar window gives the same energy (nights are zero either way).
    const DailyEnergy around = model.daily_energy_around(mst(2016y / 6 / 21, 15));
    CHECK(around.total_ac_wh == doctest::Approx(june.total_ac_wh).epsilon(0.002));
    // A finer step changes the integral very little.
    const DailyEnergy fine = model.daily_energy(2016y / 6 / 21, hours(-7), minutes(1));
    CHECK(fine.total_ac_wh == doctest::Approx(june.total_ac_wh).epsilon(0.002));
    // Integration equals the sum of trapezoids over at() samples.
    double manual = 0.0;
    double previous = model.at(mst(2016y / 6 / 21, 10)).total_ac_w;
    for (int k = 1; k <= 12; ++k) {
        const double now = model.at(mst(2016y / 6 / 21, 10, 5 * k)).total_ac_w;
        manual += 0.5 * (previous + now) * (5.0 / 60.0);
        previous = now;
    }
    CHECK(model.energy_between(mst(2016y / 6 / 21, 10), mst(2016y / 6 / 21, 11)).total_ac_wh == doctest::Approx(manual));
}

TEST_CASE("polar night gives zero energy, polar day gives energy at midnight") {
    SiteModel s = golden_site();
    s.latitude_deg = 78.22;
    s.longitude_deg = 15.65;
    s.elevation_m = 0.0;
    const auto model = ExpectedPowerModel::create(s).value();
    const DailyEnergy winter = model.daily_energy(2016y / 12 / 21, hours(1));
    CHECK(winter.total_ac_wh == 0.0);
    CHECK(winter.sun.kind == DayKind::polar_night);
    const DailyEnergy summer = model.daily_energy(2016y / 6 / 21, hours(2));
    CHECK(summer.total_ac_wh > 0.0);
    CHECK(summer.sun.kind == DayKind::polar_day);
}

TEST_CASE("Haurwitz fallback and default Linke climatology") {
    SiteModel s = golden_site();
    s.clear_sky = ClearSkyModel::haurwitz;
    const auto haurwitz = ExpectedPowerModel::create(s).value();
    const auto ineichen = ExpectedPowerModel::create(golden_site()).value();
    const TimePoint t = mst(2016y / 8 / 14, 12);
    const double h = haurwitz.at(t).total_ac_w;
    const double i = ineichen.at(t).total_ac_w;
    CHECK(h > 0.7 * i);
    CHECK(h < 1.3 * i);
    // A site's own turbidity takes precedence over the default climatology.
    SiteModel hazy = golden_site();
    hazy.linke_monthly = MonthlyLinke{6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6};
    CHECK(ExpectedPowerModel::create(hazy).value().at(t).irradiance.dni < ineichen.at(t).irradiance.dni);
}

TEST_CASE("sun_high_enough") {
    const auto model = ExpectedPowerModel::create(golden_site()).value();
    CHECK(model.sun_high_enough(mst(2016y / 6 / 21, 12), 60.0));
    CHECK_FALSE(model.sun_high_enough(mst(2016y / 6 / 21, 12), 80.0));
    CHECK_FALSE(model.sun_high_enough(mst(2016y / 6 / 21, 22), 0.0));
}

TEST_CASE("the reusing overload (cached ephemeris) agrees with the one-off call") {
    SiteModel s = golden_site();
    s.arrays = {{"east", "inv1", 4.0, 30.0, 90.0}, {"west", "inv1", 4.0, 30.0, 270.0}};
    const auto model = ExpectedPowerModel::create(s).value();
    ExpectedPower reused;
    for (int k = 0; k < 24 * 4 * 3; ++k) {
        const TimePoint t = mst(2016y / 9 / 1, 0) + minutes(15 * k);
        model.at(t, Conditions{.ambient_c = 20.0}, reused);
        const ExpectedPower once = model.at(t, Conditions{.ambient_c = 20.0});
        CHECK(reused.total_ac_w == doctest::Approx(once.total_ac_w).epsilon(1e-5));
        CHECK(reused.sun.zenith_deg == doctest::Approx(once.sun.zenith_deg).epsilon(1e-7));
        REQUIRE(reused.arrays.size() == 2);
        CHECK(reused.arrays[1].dc_w == doctest::Approx(once.arrays[1].dc_w).epsilon(1e-5));
    }
}
