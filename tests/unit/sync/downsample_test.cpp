#include <doctest/doctest.h>

#include "support/sync_samples.hpp"
#include "pvfleet/store/downsample.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

TEST_CASE("downsample: 5-minute windows, mean of powers, last of counters, union of events") {
    std::vector<domain::Sample> raw;
    for (int i = 0; i < 60; ++i) {  // 10 minutes at 10 s, two devices
        auto a = sync::test::sample("inv1", sync::test::t0() + i * 10s, 100.0 * (i % 30));
        a.values["energy_total_wh"] = 1000 + i;
        if (i == 3) a.events = {"ground_fault"};
        raw.push_back(a);
        raw.push_back(sync::test::sample("inv2", sync::test::t0() + i * 10s, 50));
    }
    auto agg = store::downsample(raw, 300s);
    REQUIRE(agg.size() == 4);
    CHECK(agg[0].device_id == "inv1");
    CHECK(agg[0].t == sync::test::t0());
    CHECK(agg[1].t == sync::test::t0() + 300s);
    CHECK(agg[0].value("ac_power_w") == doctest::Approx(1450.0));  // mean of 0..2900
    CHECK(agg[0].value("energy_total_wh") == 1029);                 // last value of the window
    CHECK(agg[1].value("energy_total_wh") == 1059);
    CHECK(agg[0].events == std::vector<std::string>{"ground_fault"});
    CHECK(agg[1].events.empty());
    CHECK(agg[2].device_id == "inv2");
    REQUIRE(agg[2].arrays.at("dc_voltage_v").size() == 2);
    CHECK(*agg[2].arrays.at("dc_voltage_v")[0] == doctest::Approx(612.4));
    CHECK(agg[3].state == domain::InverterState::producing);
}
