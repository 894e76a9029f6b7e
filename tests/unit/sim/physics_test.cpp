#include <doctest/doctest.h>

#include "pvfleet/sim/physics.hpp"
#include "sim_fixtures.hpp"

using namespace pvfleet;
using namespace pvfleet::sim;
using sim::test::at;

namespace {
// Steps the physics from `from` to `to` in `step` increments.
void run(SitePhysics& p, TimePoint to, std::chrono::seconds step, const std::vector<PhysicsOverride>& o = {}) {
    while (p.now() < to) p.advance(std::min<TimePoint>(to, p.now() + step), o);
}
}  // namespace

TEST_CASE("night: sleeping, no power; noon under a clear sky: producing near nameplate") {
    auto p = SitePhysics::create(sim::test::site(), 1, at("2026-06-21T00:00:00Z")).value();
    p.advance(at("2026-06-21T00:00:00Z"), {});
    CHECK(p.reading(0).state == domain::InverterState::sleeping);
    CHECK(p.reading(0).ac_power_w == 0.0);
    CHECK(p.reading(0).energy_today_wh == doctest::Approx(0.0));
    const double total_at_midnight = p.reading(0).energy_total_wh;
    run(p, at("2026-06-21T11:30:00Z"), std::chrono::seconds(30));
    const auto& noon = p.reading(0);
    CHECK(noon.state == domain::InverterState::producing);
    CHECK(noon.ac_power_w > 4000.0);
    CHECK(noon.ac_power_w <= 8000.0);
    CHECK(noon.dc_power_w > noon.ac_power_w);  // inverter losses
    REQUIRE(noon.mppt.size() == 2);
    for (const auto& m : noon.mppt) {
        CHECK(m.voltage_v > 250.0);
        CHECK(m.voltage_v < 430.0);
        CHECK(m.current_a == doctest::Approx(m.power_w / m.voltage_v));
    }
    CHECK(noon.temperature_c > 30.0);  // warmed by its losses
    CHECK(noon.ac_frequency_hz == doctest::Approx(50.0).epsilon(0.002));
    CHECK(noon.phase_voltage_v.size() == 3);
    CHECK(noon.phase_voltage_v[0] == doctest::Approx(230.0).epsilon(0.04));
    CHECK(noon.energy_today_wh > 15'000.0);
    CHECK(noon.energy_total_wh - total_at_midnight == doctest::Approx(noon.energy_today_wh));
}

TEST_CASE("daily energy matches the solar module's clear-sky integral and resets at local midnight") {
    const auto spec = sim::test::site();
    auto p = SitePhysics::create(spec, 1, at("2026-06-20T22:00:00Z")).value();  // 00:00 CEST
    run(p, at("2026-06-21T21:59:00Z"), std::chrono::seconds(60));
    const double day = p.reading(1).energy_today_wh;
    CHECK(day > 15'000.0);  // 3 kWp garage on midsummer: ~5-6 kWh/kWp
    CHECK(day < 24'000.0);
    run(p, at("2026-06-21T22:01:00Z"), std::chrono::seconds(60));  // past midnight Europe/Berlin
    CHECK(p.reading(1).energy_today_wh == doctest::Approx(0.0));
    CHECK(p.reading(1).state == domain::InverterState::sleeping);
}

TEST_CASE("clouds are reproducible by seed and reduce production") {
    auto doc = sim::test::site_json();
    doc["clouds"] = "scattered";
    auto a = SitePhysics::create(sim::test::site(doc), 42, at("2026-06-21T00:00:00Z")).value();
    auto b = SitePhysics::create(sim::test::site(doc), 42, at("2026-06-21T00:00:00Z")).value();
    auto c = SitePhysics::create(sim::test::site(doc), 43, at("2026-06-21T00:00:00Z")).value();
    int differs = 0;
    double mean = 0.0;
    for (int minute = 0; minute < 24 * 60; minute += 7) {
        const auto t = at("2026-06-21T00:00:00Z") + std::chrono::minutes(minute);
        CHECK(a.cloud_factor(t) == b.cloud_factor(t));
        differs += a.cloud_factor(t) != c.cloud_factor(t);
        CHECK(a.cloud_factor(t) > 0.2);
        CHECK(a.cloud_factor(t) <= 1.0);
        mean += a.cloud_factor(t);
    }
    mean /= (24 * 60 + 6) / 7;
    CHECK(differs > 50);
    CHECK(mean < 0.95);
    CHECK(mean > 0.6);
    doc["clouds"] = "overcast";
    auto o = SitePhysics::create(sim::test::site(doc), 1, at("2026-06-21T11:00:00Z")).value();
    o.advance(at("2026-06-21T11:00:00Z"), {});
    CHECK(o.reading(0).ac_power_w < 2500.0);
}

TEST_CASE("string loss zeroes one MPPT; a tripping event stops production") {
    auto p = SitePhysics::create(sim::test::site(), 1, at("2026-06-21T11:00:00Z")).value();
    p.advance(at("2026-06-21T11:00:00Z"), {});
    const double both = p.reading(0).ac_power_w;
    std::vector<PhysicsOverride> o(2);
    o[0].mppt_lost = {false, true};
    p.advance(at("2026-06-21T11:00:10Z"), o);
    CHECK(p.reading(0).mppt[1].power_w == 0.0);
    CHECK(p.reading(0).mppt[1].current_a == 0.0);
    CHECK(p.reading(0).mppt[0].power_w > 0.0);
    CHECK(p.reading(0).ac_power_w < both * 0.9);
    o[0] = {};
    o[1].events = {"ground_fault"};
    p.advance(at("2026-06-21T11:00:20Z"), o);
    CHECK(p.reading(1).state == domain::InverterState::fault);
    CHECK(p.reading(1).ac_power_w == 0.0);
    CHECK(p.reading(1).events.count("ground_fault") == 1);
    CHECK(p.reading(0).state == domain::InverterState::producing);
    o[1].events = {"cabinet_open"};  // a warning: keeps producing
    p.advance(at("2026-06-21T11:00:30Z"), o);
    CHECK(p.reading(1).state == domain::InverterState::producing);
}

TEST_CASE("morning wake-up passes through starting") {
    auto p = SitePhysics::create(sim::test::site(), 1, at("2026-06-21T02:00:00Z")).value();
    bool saw_starting = false;
    bool saw_producing_after_starting = false;
    while (p.now() < at("2026-06-21T06:00:00Z")) {
        p.advance(p.now() + std::chrono::seconds(20), {});
        if (p.reading(0).state == domain::InverterState::starting) saw_starting = true;
        if (saw_starting && p.reading(0).state == domain::InverterState::producing) saw_producing_after_starting = true;
    }
    CHECK(saw_starting);
    CHECK(saw_producing_after_starting);
}
