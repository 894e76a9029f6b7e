// The plausibility layer, table-driven: each bound at both sides, and every sentinel a map may fail to declare
// (SunSpec, Huawei/Sungrow type maximum, GoodWe all-ones, the type minimum the old simulator answered) decoded
// as a number is refused; counters only step forward as fast as the rating allows.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "pvfleet/acquisition/plausibility.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using acquisition::Plausibility;
using acquisition::Rating;

namespace {

// A 5 kW inverter with 5.6 kWp on it: P = 10 kW, DC limit 11.2 kW.
const Rating kRating{5000.0, 5600.0};
const TimePoint kT0 = from_epoch_ms(1'467'363'600'000LL);

struct Row {
    const char* point;
    double value;
    bool plausible;
    const char* why;
};

bool plausible(const Rating& rating, const std::string& point, double v) {
    Plausibility p(rating);
    domain::Sample s;
    s.values[point] = v;
    p.filter(s, kT0);
    return s.values.contains(point) && !s.implausible.contains(point);
}

}  // namespace

TEST_CASE("plausibility: bounds from the point's kind and the rating") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const Row rows[] = {
        {"ac_power_w", 10000, true, "P = 2 x 5 kW"},
        {"ac_power_w", 10001, false, "above P"},
        {"ac_power_w", -10000, true, "night draw and export limits alike"},
        {"ac_power_w", -10001, false, "below -P"},
        {"ac_power_w", nan, false, "not a number"},
        {"ac_apparent_power_va", 10001, false, "apparent power like active"},
        {"ac_reactive_power_var", -10001, false, "reactive power like active"},
        {"battery_power_w", -10000, true, "charging at 2x rating"},
        {"battery_power_w", 10001, false, "above P"},
        {"dc_power_w", 11200, true, "2 x 5.6 kWp"},
        {"dc_power_w", 11201, false, "above the DC limit"},
        {"grid_power_w", 100000, true, "household connection"},
        {"grid_power_w", -100001, false, "beyond the household connection"},
        {"ac_voltage_v", 0, true, "no grid"},
        {"ac_voltage_v", 500, true, "line-to-line with swell"},
        {"ac_voltage_v", 500.1, false, "above 500 V"},
        {"ac_voltage_v", -0.1, false, "negative"},
        {"ac_frequency_hz", 0, true, "no grid"},
        {"ac_frequency_hz", 39.9, false, "below 40 Hz"},
        {"ac_frequency_hz", 40, true, "40 Hz"},
        {"ac_frequency_hz", 70, true, "70 Hz"},
        {"ac_frequency_hz", 70.1, false, "above 70 Hz"},
        {"dc_voltage_v", 1500, true, "1500 V"},
        {"dc_voltage_v", 1500.1, false, "above 1500 V"},
        {"dc_voltage_v", -1, false, "negative"},
        {"battery_voltage_v", 1000, true, "HV battery"},
        {"battery_voltage_v", 1000.1, false, "above 1000 V"},
        {"ac_current_a", 100, true, "P / 100 V"},
        {"ac_current_a", 100.1, false, "above P / 100 V"},
        {"dc_current_a", 140, true, "DC limit / 80 V"},
        {"dc_current_a", 140.1, false, "above DC limit / 80 V"},
        {"battery_current_a", -250, true, "P / 40 V"},
        {"battery_current_a", -250.1, false, "above P / 40 V"},
        {"temperature_c", -40, true, "-40 C"},
        {"temperature_c", -40.1, false, "below -40 C"},
        {"temperature_c", 100, true, "100 C"},
        {"temperature_c", 100.1, false, "above 100 C"},
        {"battery_temperature_c", 100.1, false, "battery above 100 C"},
        {"ambient_temperature_c", -40.1, false, "ambient below -40 C"},
        {"battery_soc_pct", 100, true, "full"},
        {"battery_soc_pct", 100.1, false, "above 100 %"},
        {"battery_soc_pct", -0.1, false, "negative"},
        {"power_factor", -1, true, "-1"},
        {"power_factor", 1.01, false, "above 1"},
        {"insulation_resistance_ohm", -1, false, "negative"},
        {"insulation_resistance_ohm", 2e6, true, "2 MOhm"},
        {"energy_today_wh", 240000, true, "P x 24 h"},
        {"energy_today_wh", 240001, false, "above P x 24 h"},
        {"energy_total_wh", -1, false, "negative counter"},
        {"energy_total_wh", 10000.0 * 30 * 8766, true, "P x 30 years"},
        {"energy_total_wh", 10000.0 * 30 * 8766 + 1, false, "above P x 30 years"},
        {"grid_import_wh", 100000.0 * 30 * 8766, true, "grid counters scale with the connection"},
        {"insulation_resistance_ohm", 1e9, true, "no upper bound"},
        {"events_per_day", 1e300, true, "unknown points are not judged"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.point);
        CAPTURE(r.value);
        CHECK_MESSAGE(plausible(kRating, r.point, r.value) == r.plausible, r.why);
    }
}

TEST_CASE("plausibility: without a rating, the household connection bounds power") {
    CHECK(plausible(Rating{}, "ac_power_w", 100000));
    CHECK_FALSE(plausible(Rating{}, "ac_power_w", 100001));
    CHECK(plausible(Rating{std::nullopt, 4000.0}, "ac_power_w", 8000));  // DC rating alone
    CHECK_FALSE(plausible(Rating{std::nullopt, 4000.0}, "ac_power_w", 8001));
}

TEST_CASE("plausibility: sentinels a map does not declare are refused, decoded as the register would be") {
    // value = raw sentinel interpreted by the register's type, times its scale.
    const Row rows[] = {
        {"battery_power_w", -2147483648.0, false, "s32 minimum (SunSpec int32 0x80000000, old simulator)"},
        {"grid_power_w", 2147483648.0, false, "s32 minimum with scale -1 (GoodWe meter power)"},
        {"battery_current_a", -3276.8, false, "s16 minimum x 0.1 (SunSpec int16 0x8000)"},
        {"ac_power_w", 32767, false, "s16 maximum (Huawei/Sungrow 0x7FFF)"},
        {"ac_power_w", 2147483647.0, false, "s32 maximum (Huawei/Sungrow 0x7FFFFFFF)"},
        {"dc_voltage_v", 6553.5, false, "u16 maximum x 0.1 (0xFFFF)"},
        {"dc_current_a", 6553.5, false, "u16 maximum x 0.1 (0xFFFF)"},
        {"ac_frequency_hz", 655.35, false, "u16 maximum x 0.01 (0xFFFF)"},
        {"dc_power_w", 4294967295.0, false, "u32 maximum (0xFFFFFFFF)"},
        {"energy_total_wh", 429496729500.0, false, "u32 maximum x 100 Wh (GoodWe 0xFFFFFFFF)"},
        {"temperature_c", 3276.7, false, "s16 maximum x 0.1 (GoodWe 0x7FFF)"},
        {"temperature_c", -3276.8, false, "s16 minimum x 0.1"},
        {"battery_soc_pct", 65535, false, "u16 maximum"},
        {"ac_power_w", std::numeric_limits<double>::infinity(), false, "f32 infinity"},
        // Honest limits of the layer: some sentinels look like readings and need the map's declaration.
        {"temperature_c", -0.1, true, "GoodWe 0xFFFF as s16 x 0.1 = -0.1 C: only the map's absent list catches it"},
        {"battery_current_a", -0.1, true, "a GoodWe ET without a battery answers 0xFFFF: the presence register catches it"},
    };
    for (const auto& r : rows) {
        CAPTURE(r.point);
        CAPTURE(r.value);
        CHECK_MESSAGE(plausible(kRating, r.point, r.value) == r.plausible, r.why);
    }
}

TEST_CASE("plausibility: refused array entries leave the array, named with their index") {
    Plausibility p(kRating);
    domain::Sample s;
    s.arrays["dc_current_a"] = {5.1, 6553.5};
    s.arrays["dc_voltage_v"] = {6553.5, 331.0};
    s.arrays["ac_voltage_v"] = {6553.5};
    CHECK(p.filter(s, kT0) == 3);
    CHECK(s.arrays["dc_current_a"] == std::vector<std::optional<double>>{5.1});  // ends at the last value
    CHECK(s.arrays["dc_voltage_v"] == std::vector<std::optional<double>>{std::nullopt, 331.0});
    CHECK_FALSE(s.arrays.contains("ac_voltage_v"));
    CHECK(s.implausible.at("dc_current_a[1]") == 6553.5);
    CHECK(s.implausible.at("dc_voltage_v[0]") == 6553.5);
    CHECK(s.implausible.at("ac_voltage_v[0]") == 6553.5);
}

TEST_CASE("plausibility: energy counters step forward at most P x elapsed + slack") {
    Plausibility p(kRating);  // P = 10 kW
    auto read = [&](TimePoint t, double wh) {
        domain::Sample s;
        s.values["energy_total_wh"] = wh;
        p.filter(s, t);
        return s.values.contains("energy_total_wh");
    };
    CHECK(read(kT0, 1'000'000));                  // first reading: the baseline
    CHECK(read(kT0 + 5min, 1'000'000 + 1833));    // 10 kW x 5 min = 833 Wh + 1 kWh slack
    CHECK_FALSE(read(kT0 + 10min, 1'001'833 + 1900));  // 1.9 kWh in 5 min: above 1.833 kWh
    CHECK(read(kT0 + 15min, 1'001'833 + 500));    // judged against the last accepted reading
    CHECK(read(kT0 + 20min, 1'000'000));          // backwards: MonotonicCounters' judgement, not ours
    CHECK(read(kT0 + 12h, 1'002'333 + 110'000));  // a long gap allows more: 10 kW x 11.75 h
    // A bit flip far ahead is refused; a counter that really moved (device replaced) is taken after
    // kCounterRebaseAfter readings that agree with each other.
    const double moved = 9e8;
    for (int i = 0; i < acquisition::kCounterRebaseAfter - 1; ++i)
        CHECK_FALSE(read(kT0 + 13h + std::chrono::minutes(5 * i), moved + 100.0 * i));
    CHECK(read(kT0 + 13h + std::chrono::minutes(5 * (acquisition::kCounterRebaseAfter - 1)), moved + 1200));
    CHECK(read(kT0 + 15h, moved + 2000));
}

TEST_CASE("plausibility: a counter held still catches up by what was produced meanwhile") {
    Plausibility p(kRating);  // P = 10 kW
    auto read = [&](TimePoint t, double wh) {
        domain::Sample s;
        s.values["energy_total_wh"] = wh;
        p.filter(s, t);
        return s.values.contains("energy_total_wh");
    };
    CHECK(read(kT0, 1'000'000));
    for (int i = 1; i <= 12; ++i) CHECK(read(kT0 + std::chrono::minutes(15 * i), 1'000'000));  // frozen 3 h
    // 5 kW for 3 h 15 min since it last moved: 16.25 kWh in one step, within 10 kW x 3.25 h + slack.
    CHECK(read(kT0 + 3h + 15min, 1'016'250));
    // From there on it is judged from this step: 15 min allow 10 kW x 0.25 h + 1 kWh = 3.5 kWh.
    CHECK_FALSE(read(kT0 + 3h + 30min, 1'016'250 + 4'000));
    CHECK(read(kT0 + 3h + 30min, 1'016'250 + 3'000));
    // Held still again: a catch-up larger than 10 kW over the time since it last moved is still refused.
    CHECK(read(kT0 + 4h, 1'019'250));
    CHECK_FALSE(read(kT0 + 5h, 1'019'250 + 26'000));  // 26 kWh in 1.5 h since 3:30 > 15 + 1 kWh
}

TEST_CASE("plausibility: energy_today_wh restarts at night and is rate-checked like the others") {
    Plausibility p(kRating);
    auto read = [&](TimePoint t, double wh) {
        domain::Sample s;
        s.values["energy_today_wh"] = wh;
        p.filter(s, t);
        return s.values.contains("energy_today_wh");
    };
    CHECK(read(kT0, 20'000));
    CHECK(read(kT0 + 10h, 0));        // midnight reset
    CHECK(read(kT0 + 10h + 5min, 500));
    CHECK_FALSE(read(kT0 + 10h + 10min, 65'535));  // u16 0xFFFF x 1 Wh in 5 min
}
