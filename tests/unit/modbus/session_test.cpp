// The session's retry, backoff, reconnect and timeout logic, run on a fake link and a manual clock.
#include <doctest/doctest.h>

#include "pvfleet/fakes/fake_modbus_bus.hpp"
#include "pvfleet/modbus/session.hpp"

using namespace pvfleet;
using namespace pvfleet::modbus;
using fakes::FakeFault;
using fakes::FakeModbusBus;
using std::chrono::milliseconds;

namespace {

SessionTiming quiet_timing() {
    SessionTiming t;
    t.pause_after_connect = Millis{0};
    t.pause_between_units = Millis{0};
    t.jitter = 0.0;
    return t;
}

struct Rig {
    explicit Rig(SessionTiming timing = quiet_timing()) {
        auto link = std::make_unique<FakeModbusBus>(clock, "fake");
        bus = link.get();
        bus->set_holding(1, 100, {11, 12, 13, 14});
        bus->set_input(1, 30000, {7, 8});
        bus->set_holding(2, 100, {21, 22});
        session = std::make_unique<Session>(std::move(link), timing, clock, sleeper, 42);
    }
    ManualClock clock{TimePoint{std::chrono::hours{24 * 365 * 50}}};
    ManualSleeper sleeper{clock};
    FakeModbusBus* bus = nullptr;
    std::unique_ptr<Session> session;
};

}  // namespace

TEST_CASE("reads holding and input registers, routed by unit id over one link") {
    Rig rig;
    auto a = rig.session->read_registers(1, RegisterKind::holding, 101, 2);
    REQUIRE(a);
    CHECK(*a == Registers{12, 13});
    auto b = rig.session->read_registers(2, RegisterKind::holding, 100, 2);
    REQUIRE(b);
    CHECK(*b == Registers{21, 22});
    auto c = rig.session->read_registers(1, RegisterKind::input, 30000, 2);
    REQUIRE(c);
    CHECK(*c == Registers{7, 8});
    CHECK(rig.bus->successful_connects() == 1);  // one long-lived link for every unit
    CHECK(rig.session->stats().attempts == 3);
}

TEST_CASE("pauses after connect and when the unit id changes") {
    SessionTiming t = quiet_timing();
    t.pause_after_connect = Millis{700};
    t.pause_between_units = Millis{120};
    Rig rig(t);
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    CHECK(rig.sleeper.total_slept() == Millis{700});
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    CHECK(rig.sleeper.total_slept() == Millis{700});  // same unit: no pause
    REQUIRE(rig.session->read_registers(2, RegisterKind::holding, 100, 1));
    CHECK(rig.sleeper.total_slept() == Millis{820});
    // The pause came before the request went out.
    const auto& reqs = rig.bus->requests();
    CHECK(reqs[2].at - reqs[1].at >= Millis{120});
}

TEST_CASE("timeouts are retried with exponential backoff, then reported as timeout") {
    SessionTiming t = quiet_timing();
    t.retries = 2;
    t.retry_backoff = Millis{100};
    Rig rig(t);
    rig.bus->script({FakeFault::timeout, FakeFault::timeout});
    auto ok = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    REQUIRE(ok);  // third attempt answers
    CHECK(rig.bus->requests().size() == 3);
    CHECK(rig.sleeper.total_slept() == Millis{100 + 200});

    rig.bus->clear_log();
    rig.bus->script({FakeFault::timeout, FakeFault::timeout, FakeFault::timeout});
    auto failed = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    REQUIRE_FALSE(failed);
    CHECK(failed.error().kind == ErrorKind::timeout);
    CHECK(rig.bus->requests().size() == 3);
}

TEST_CASE("illegal address is returned at once, never retried") {
    Rig rig;
    auto r = rig.session->read_registers(1, RegisterKind::holding, 200, 2);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::rejected);
    CHECK(rig.bus->requests().size() == 1);
    CHECK(rig.session->stats().rejected == 1);
    // The link stays up: the device answered.
    CHECK(rig.session->connected());
}

TEST_CASE("busy replies back off before asking again") {
    SessionTiming t = quiet_timing();
    t.busy_backoff = Millis{1500};
    Rig rig(t);
    rig.bus->script({FakeFault::busy});
    auto r = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    REQUIRE(r);
    const auto& reqs = rig.bus->requests();
    REQUIRE(reqs.size() == 2);
    CHECK(reqs[1].at - reqs[0].at >= Millis{1500});

    rig.bus->script({FakeFault::busy, FakeFault::busy, FakeFault::busy});
    auto busy = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    REQUIRE_FALSE(busy);
    CHECK(busy.error().kind == ErrorKind::busy);
}

TEST_CASE("a lost link is reopened at once and the request retried") {
    Rig rig;
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    rig.bus->script({FakeFault::link_lost});
    auto r = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    REQUIRE(r);
    CHECK(rig.bus->successful_connects() == 2);
}

TEST_CASE("fail-after-N: offline device is retried forever with capped exponential backoff, then recovers") {
    SessionTiming t = quiet_timing();
    t.retries = 0;
    t.reconnect_backoff_min = Millis{1000};
    t.reconnect_backoff_max = Millis{8000};
    Rig rig(t);
    rig.bus->fail_after(2, FakeFault::link_lost);
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    rig.bus->set_offline(true);
    auto lost = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    REQUIRE_FALSE(lost);
    CHECK(lost.error().kind == ErrorKind::io);

    // Poll once a second for 10 simulated minutes; collect when connects were attempted.
    std::vector<TimePoint> attempts_at;
    int last_calls = rig.bus->connect_calls();
    for (int i = 0; i < 600; ++i) {
        auto r = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
        CHECK_FALSE(r);
        if (rig.bus->connect_calls() != last_calls) {
            attempts_at.push_back(rig.clock.now());
            last_calls = rig.bus->connect_calls();
        }
        rig.clock.advance(Millis{1000});
    }
    REQUIRE(attempts_at.size() >= 10);
    // Gaps grow 1 s, 2 s, 4 s, 8 s and then stay at the cap: it never gives up.
    std::vector<long long> gaps;
    for (size_t i = 1; i < attempts_at.size(); ++i) {
        gaps.push_back(std::chrono::duration_cast<Millis>(attempts_at[i] - attempts_at[i - 1]).count());
    }
    CHECK(gaps[0] == 2000);  // 1 s backoff after the first failure, rounded up to the next poll
    CHECK(gaps[1] == 4000);
    CHECK(gaps[2] == 8000);
    for (size_t i = 3; i < gaps.size(); ++i) CHECK(gaps[i] == 8000);

    rig.bus->clear_faults();
    rig.bus->set_offline(false);
    bool recovered = false;
    for (int i = 0; i < 10 && !recovered; ++i) {
        recovered = rig.session->read_registers(1, RegisterKind::holding, 100, 1).ok();
        rig.clock.advance(Millis{1000});
    }
    CHECK(recovered);
    CHECK_FALSE(rig.session->reconnect_not_before().has_value());
}

TEST_CASE("jitter spreads reconnect backoff within the configured fraction") {
    SessionTiming t = quiet_timing();
    t.jitter = 0.2;
    t.retries = 0;
    Rig rig(t);
    rig.bus->set_offline(true);
    (void)rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    auto next = rig.session->reconnect_not_before();
    REQUIRE(next);
    const auto wait = std::chrono::duration_cast<Millis>(*next - rig.clock.now()).count();
    CHECK(wait >= 800);
    CHECK(wait <= 1200);
}

TEST_CASE("response timeout follows measured latency within bounds") {
    SessionTiming t = quiet_timing();
    t.timeout_min = Millis{200};
    t.timeout_max = Millis{3000};
    t.timeout_initial = Millis{1000};
    Rig rig(t);
    CHECK(rig.session->response_timeout(1) == Millis{1000});
    rig.bus->set_latency(Millis{400});
    for (int i = 0; i < 20; ++i) REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    const auto slow = rig.session->response_timeout(1);
    CHECK(slow >= Millis{400});
    CHECK(slow <= Millis{1000});
    rig.bus->set_latency(Millis{5});
    for (int i = 0; i < 40; ++i) REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    CHECK(rig.session->response_timeout(1) == Millis{200});  // clamped at the floor
    // The timeout actually used on the wire is the adapted one.
    CHECK(rig.bus->requests().back().timeout == Millis{200});
    // Another unit on the same link has its own estimate.
    CHECK(rig.session->response_timeout(2) == Millis{1000});

    // Timeouts double it (Karn), up to the ceiling.
    rig.bus->script({FakeFault::timeout, FakeFault::timeout, FakeFault::timeout});
    (void)rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    CHECK(rig.session->response_timeout(1) == Millis{1600});
    rig.bus->script({FakeFault::timeout, FakeFault::timeout, FakeFault::timeout});
    (void)rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    CHECK(rig.session->response_timeout(1) == Millis{3000});
}

TEST_CASE("timeouts in a row close a possibly half-open link") {
    SessionTiming t = quiet_timing();
    t.retries = 2;
    Rig rig(t);
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    rig.bus->script({FakeFault::timeout, FakeFault::timeout, FakeFault::timeout});
    CHECK_FALSE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    CHECK_FALSE(rig.session->connected());
    REQUIRE(rig.session->read_registers(1, RegisterKind::holding, 100, 1));
    CHECK(rig.bus->successful_connects() == 2);
}

TEST_CASE("a unit that is not there times out without hurting the others on the link") {
    Rig rig;
    auto missing = rig.session->read_registers(9, RegisterKind::holding, 100, 1);
    REQUIRE_FALSE(missing);
    CHECK(missing.error().kind == ErrorKind::timeout);
    auto present = rig.session->read_registers(1, RegisterKind::holding, 100, 1);
    CHECK(present);
}

TEST_CASE("writes go through the same session") {
    Rig rig;
    const uint16_t words[] = {5, 6};
    REQUIRE(rig.session->write_registers(1, 100, words));
    CHECK(rig.bus->holding(1, 101) == 6);
    const uint16_t bad[] = {1};
    auto r = rig.session->write_registers(1, 5000, bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::rejected);
}
