#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "pvfleet/sim/simulation.hpp"
#include "sim_fixtures.hpp"

using namespace pvfleet;
using namespace pvfleet::sim;
using sim::test::at;

namespace {
// SunSpec addresses of the profile (0-based): model 101/103 data at 40072, model 160 data at 40124.
constexpr uint16_t inverter = 40072;
constexpr uint16_t w = inverter + 12;
constexpr uint16_t wh = inverter + 22;
constexpr uint16_t st = inverter + 36;
constexpr uint16_t evt1 = inverter + 38;
constexpr uint16_t mppt_module(int k) { return static_cast<uint16_t>(40124 + 8 + 20 * k); }

Bytes read_pdu(uint16_t address, uint16_t count) {
    return Bytes{0x03, static_cast<uint8_t>(address >> 8), static_cast<uint8_t>(address & 0xFF), 0, static_cast<uint8_t>(count)};
}

uint16_t reg(const Simulation& s, std::size_t device, uint16_t address) { return s.image(device).get(RegisterKind::holding, address); }

struct Fixture {
    ManualClock wall{at("2030-01-01T00:00:00Z")};
    std::unique_ptr<Simulation> sim;
    explicit Fixture(const char* start = "2026-06-21T10:00:00Z", double speed = 60.0, nlohmann::json doc = sim::test::site_json()) {
        SimulationOptions o;
        o.speed = speed;
        o.start = at(start);
        auto created = Simulation::create(sim::test::site(doc), o, wall);
        REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
        sim = std::move(*created);
    }
};
}  // namespace

TEST_CASE("sim time runs at --speed on the wall clock, and jumps") {
    Fixture f;
    CHECK(f.sim->sim_now() == at("2026-06-21T10:00:00Z"));
    f.wall.advance(std::chrono::seconds(10));
    CHECK(f.sim->sim_now() == at("2026-06-21T10:10:00Z"));
    CHECK(f.sim->command("jump +3h") == "ok 2026-06-21T13:10:00.000Z");
    CHECK(f.sim->command("jump 2026-06-21T20:00:00Z") == "ok 2026-06-21T20:00:00.000Z");
    CHECK(f.sim->command("speed 3600").starts_with("ok speed 3600"));
    f.wall.advance(std::chrono::seconds(1));
    CHECK(f.sim->command("time").starts_with("ok 2026-06-21T21:00:00.000Z"));
    CHECK(f.sim->command("jump soon").starts_with("error"));
}

TEST_CASE("energy counter in the registers increases under acceleration") {
    Fixture f;
    const uint32_t before = (uint32_t{reg(*f.sim, 0, wh)} << 16) | reg(*f.sim, 0, wh + 1);
    f.wall.advance(std::chrono::seconds(60));  // one sim hour around noon
    f.sim->tick();
    const uint32_t after = (uint32_t{reg(*f.sim, 0, wh)} << 16) | reg(*f.sim, 0, wh + 1);
    CHECK(after - before > 4000);
    CHECK(after - before < 8000);
    CHECK(reg(*f.sim, 0, st) == 4);  // MPPT
    CHECK(reg(*f.sim, 0, w) > 4000);
}

TEST_CASE("requests route by unit id; unknown units stay silent or answer 0x0B") {
    Fixture f;
    auto plan = f.sim->handle(2, read_pdu(40000, 2));
    CHECK(plan.action == ReplyPlan::Action::reply);
    CHECK(plan.pdu == Bytes{0x03, 4, 0x53, 0x75, 0x6E, 0x53});
    plan = f.sim->handle(2, read_pdu(inverter - 2, 1));
    CHECK(plan.pdu == Bytes{0x03, 2, 0, 101});  // single phase
    plan = f.sim->handle(1, read_pdu(inverter - 2, 1));
    CHECK(plan.pdu == Bytes{0x03, 2, 0, 103});
    CHECK(f.sim->handle(9, read_pdu(40000, 2)).action == ReplyPlan::Action::silent);
    auto doc = sim::test::site_json();
    doc["unknown_unit"] = "exception";
    Fixture g("2026-06-21T10:00:00Z", 60.0, doc);
    plan = g.sim->handle(9, read_pdu(40000, 2));
    CHECK(plan.action == ReplyPlan::Action::reply);
    CHECK(plan.pdu == Bytes{0x83, 0x0B});
}

TEST_CASE("faults show in replies and registers") {
    Fixture f;
    SUBCASE("offline for a sim duration") {
        CHECK(f.sim->command("fault inv1 offline 30m") == "ok fault inv1 offline");
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).action == ReplyPlan::Action::silent);
        CHECK(f.sim->handle(2, read_pdu(40000, 2)).action == ReplyPlan::Action::reply);
        CHECK(f.sim->tcp_open());  // inv2 still answers on the endpoint
        f.wall.advance(std::chrono::seconds(31));  // 31 sim minutes
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).action == ReplyPlan::Action::reply);
    }
    SUBCASE("every device offline closes the endpoint") {
        f.sim->command("fault inv1 offline");
        f.sim->command("fault inv2 offline");
        CHECK_FALSE(f.sim->tcp_open());
        CHECK(f.sim->command("clear all") == "ok clear all");
        CHECK(f.sim->tcp_open());
    }
    SUBCASE("string loss") {
        CHECK(reg(*f.sim, 0, mppt_module(1) + 11) > 500);
        CHECK(f.sim->command("fault inv1 string_loss mppt=2") == "ok fault inv1 string_loss");
        CHECK(reg(*f.sim, 0, mppt_module(1) + 11) == 0);   // DCW
        CHECK(reg(*f.sim, 0, mppt_module(1) + 9) == 0);    // DCA
        CHECK(reg(*f.sim, 0, mppt_module(0) + 11) > 2000);
        CHECK(f.sim->command("fault inv1 string_loss mppt=3").starts_with("error inv1 has 2 MPPT"));
    }
    SUBCASE("fault event sets SunSpec Evt1 bit and state FAULT") {
        CHECK(f.sim->command("fault inv2 event ground_fault") == "ok fault inv2 event");
        CHECK(reg(*f.sim, 1, evt1 + 1) == 0x0001);
        CHECK(reg(*f.sim, 1, st) == 7);
        f.wall.advance(std::chrono::seconds(1));
        f.sim->tick();
        CHECK(reg(*f.sim, 1, w) == 0);
        CHECK(f.sim->command("fault inv2 event over_temperature") == "ok fault inv2 event");
        CHECK(reg(*f.sim, 1, evt1 + 1) == 0x0081);
        f.sim->command("clear inv2 event");
        CHECK(reg(*f.sim, 1, evt1 + 1) == 0);
    }
    SUBCASE("slow, exception, truncate, drop") {
        f.sim->command("fault inv1 slow 1500ms");
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).delay == Millis{1500});
        f.sim->command("fault inv1 exception 4");
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).pdu == Bytes{0x83, 0x04});
        f.sim->command("clear inv1");
        f.sim->command("fault inv1 truncate");
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).truncate);
        CHECK_FALSE(f.sim->handle(1, read_pdu(40000, 2)).truncate);  // once without a duration
        f.sim->command("fault inv1 drop_connection 10m");
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).action == ReplyPlan::Action::drop_connection);
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).action == ReplyPlan::Action::drop_connection);
        f.wall.advance(std::chrono::seconds(11));
        CHECK(f.sim->handle(1, read_pdu(40000, 2)).action == ReplyPlan::Action::reply);
    }
    SUBCASE("counter reset") {
        CHECK(f.sim->reading(0).energy_total_wh > 1e6);
        CHECK(f.sim->command("fault inv1 counter_reset") == "ok fault inv1 counter_reset");
        CHECK(f.sim->reading(0).energy_total_wh == 0.0);
        f.wall.advance(std::chrono::seconds(10));
        f.sim->tick();
        CHECK(f.sim->reading(0).energy_total_wh > 0.0);
        CHECK(f.sim->reading(0).energy_total_wh < 2000.0);
    }
    SUBCASE("status is JSON with faults") {
        f.sim->command("fault inv1 exception 6 1h");
        const auto status = nlohmann::json::parse(f.sim->command("status"));
        CHECK(status["devices"][0]["faults"][0]["type"] == "exception");
        CHECK(status["devices"][0]["faults"][0]["until"] == "2026-06-21T11:00:00.000Z");
        CHECK(status["devices"][1]["state"] == "producing");
    }
    CHECK(f.sim->command("fault inv7 offline").starts_with("error unknown device 'inv7'"));
    CHECK(f.sim->command("dance").starts_with("error unknown command"));
}

TEST_CASE("the SunSpec model chain walks from SunS to the end marker") {
    Fixture f;
    for (std::size_t device = 0; device < 2; ++device) {
        uint16_t a = 40002;
        std::vector<uint16_t> ids;
        while (reg(*f.sim, device, a) != 0xFFFF) {
            ids.push_back(reg(*f.sim, device, a));
            a = static_cast<uint16_t>(a + 2 + reg(*f.sim, device, a + 1));
            REQUIRE(ids.size() < 10);
        }
        CHECK(reg(*f.sim, device, a + 1) == 0);
        CHECK(ids == std::vector<uint16_t>{1, static_cast<uint16_t>(device == 0 ? 103 : 101), 160, 120});
        CHECK(f.sim->image(device).defined_range(RegisterKind::holding, 40000, static_cast<uint16_t>(a + 2 - 40000)));
    }
    CHECK(reg(*f.sim, 0, 40124 + 8 + 40 + 2 + 1) == 8000);  // model 120 WRtg of the 8 kW inverter
}

TEST_CASE("refuse_tcp closes the endpoint at night") {
    auto doc = sim::test::site_json();
    doc["night"] = "refuse_tcp";
    Fixture f("2026-06-21T23:00:00Z", 60.0, doc);
    CHECK_FALSE(f.sim->tcp_open());
    f.sim->command("jump 2026-06-22T10:00:00Z");
    CHECK(f.sim->tcp_open());
    Fixture g("2026-06-21T23:00:00Z", 60.0);
    CHECK(g.sim->tcp_open());  // "sleep" answers at night
    CHECK(reg(*g.sim, 0, st) == 2);  // SLEEPING
    CHECK(reg(*g.sim, 0, w) == 0);
}

TEST_CASE("scenario events fire at their sim times") {
    ManualClock wall{at("2030-01-01T00:00:00Z")};
    SimulationOptions o;
    o.speed = 60.0;
    o.start = at("2026-06-21T09:00:00Z");
    o.scenario = parse_scenario(R"({"events": [
        {"at": "+1h", "device": "inv1", "fault": "string_loss", "mppt": 2, "duration": "30m"},
        {"at": "2026-06-21T09:30:00Z", "device": "inv2", "fault": "event", "event": "ground_fault"}]})").value();
    auto sim = Simulation::create(sim::test::site(), o, wall).value();
    wall.advance(std::chrono::seconds(31));
    sim->tick();
    CHECK(sim->reading(1).state == domain::InverterState::fault);
    CHECK(sim->reading(0).mppt[1].power_w > 0.0);
    wall.advance(std::chrono::seconds(30));
    sim->tick();
    CHECK(sim->reading(0).mppt[1].power_w == 0.0);
    wall.advance(std::chrono::seconds(31));
    sim->tick();
    CHECK(sim->reading(0).mppt[1].power_w > 0.0);

    o.scenario = parse_scenario(R"({"events": [{"at": "+1h", "device": "inv5", "fault": "offline"}]})").value();
    CHECK(Simulation::create(sim::test::site(), o, wall).error().message == "scenario/events/0/device: unknown device 'inv5'");
}
