// The gateway's clock as a source of timestamps (agent/clock_sync.hpp): when the OS says it is set, and the
// gate that holds samples until it is, restamps them from the monotonic clock, and watches steps both ways.
// Time is simulated: the wall clock is a SimulatedTimeSystem (set_wall_clock is NTP stepping it), the
// monotonic clock a ManualClock advanced beside it.
#include <doctest/doctest.h>

#include <fstream>

#include "pvfleet/agent/clock_sync.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

const TimePoint kFloor = from_epoch_ms(1'767'225'600'000);  // 2026-01-01T00:00:00Z, the build's floor
const TimePoint kTrue = from_epoch_ms(1'782'036'000'000);   // 2026-06-21T10:00:00Z, what NTP says

class FakeSync final : public agent::ClockSync {
public:
    bool set = false;
    [[nodiscard]] bool synchronised() const override { return set; }
};

// The wall clock and the monotonic clock of a gateway, advanced together; NTP steps only the wall clock.
struct Gateway {
    SimulatedTimeSystem wall{from_epoch_ms(10'000)};  // booted at 1970
    ManualClock steady{from_epoch_ms(5'000)};
    FakeSync sync;
    agent::ClockGate gate{sync, wall, steady, {8, Millis{60'000}}};
    std::vector<Millis> steps;
    Gateway() {
        gate.on_step([this](Millis by) { steps.push_back(by); });
    }
    void advance(Millis by) {
        wall.advance(by);
        steady.advance(by);
    }
    domain::Sample sample(const std::string& device) const {
        domain::Sample s;
        s.device_id = device;
        s.t = wall.now();  // stamped by its poll thread
        s.values["ac_power_w"] = 1000;
        return s;
    }
};

void touch(const std::filesystem::path& p) {
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << "";
}

}  // namespace

TEST_CASE("SystemClockSync: the floor always, then the kernel or timesyncd's flag, then the policy") {
    test::TempDir root;
    ManualClock wall(kTrue);
    bool kernel = false;
    auto make = [&](agent::ClockPolicy policy) {
        return agent::SystemClockSync(wall, {policy, kFloor, root.path(), [&] { return kernel; }});
    };
    using P = agent::ClockPolicy;
    // Nothing known: no real-time clock, no daemon that would ever set it: trusted (waiting would lose
    // everything); `wait` waits anyway.
    CHECK(make(P::automatic).synchronised());
    CHECK_FALSE(make(P::wait).synchronised());
    CHECK(make(P::trust).synchronised());
    // A time-sync daemon is there and has not set the clock: auto waits for it.
    touch(root / "var/lib/systemd/timesync/clock");
    CHECK_FALSE(make(P::automatic).synchronised());
    CHECK(make(P::automatic).why_not().find("time-sync daemon") != std::string::npos);
    // ... unless a real-time clock set the time at boot.
    touch(root / "dev/rtc0");
    CHECK(make(P::automatic).synchronised());
    std::filesystem::remove(root / "dev/rtc0");
    // Synchronised: timesyncd's flag file, or the kernel's NTP status.
    touch(root / "run/systemd/timesync/synchronized");
    CHECK(make(P::automatic).synchronised());
    CHECK(make(P::wait).synchronised());
    std::filesystem::remove(root / "run/systemd/timesync/synchronized");
    kernel = true;
    CHECK(make(P::wait).synchronised());
    // Before the build date nothing is trusted, whatever the kernel or the policy say.
    wall.set(from_epoch_ms(86'400'000));  // 1970-01-02
    for (auto p : {P::automatic, P::wait, P::trust}) CHECK_FALSE(make(p).synchronised());
    CHECK(make(P::trust).why_not().find("before this build") != std::string::npos);
    // Once synchronised, it stays so for the process (the kernel flags a clock unsynchronised again after
    // hours without NTP; it still keeps good time).
    wall.set(kTrue);
    kernel = false;
    auto sticky = make(P::wait);
    CHECK_FALSE(sticky.synchronised());
    kernel = true;
    CHECK(sticky.synchronised());
    kernel = false;
    CHECK(sticky.synchronised());
    CHECK(agent::parse_clock_policy("auto") == P::automatic);
    CHECK_FALSE(agent::parse_clock_policy("sometimes").has_value());
}

TEST_CASE("ClockGate: samples wait for the clock, then get the time they were taken at") {
    Gateway g;
    std::vector<TimePoint> taken_after_boot;  // monotonic instants of the polls
    for (int i = 0; i < 5; ++i) {
        CHECK(g.gate.admit(g.sample("inv1")).empty());  // held: a 1970 stamp goes nowhere
        taken_after_boot.push_back(g.steady.now());
        g.advance(10s);
    }
    std::vector<domain::Sample> released;
    CHECK_FALSE(g.gate.tick(released));  // nothing judged on an unset clock
    CHECK(released.empty());
    CHECK(g.gate.stats().held == 5);

    // NTP sets the clock (a jump of 56 years); the next tick releases what was held, restamped.
    g.wall.set_wall_clock(kTrue);
    g.sync.set = true;
    g.advance(2s);
    CHECK(g.gate.tick(released));
    REQUIRE(released.size() == 5);
    for (size_t i = 0; i < released.size(); ++i) {
        // now − (monotonic now − monotonic at the poll): the true time of each poll, 10 s apart.
        CHECK(released[i].t == g.wall.now() - (g.steady.now() - taken_after_boot[i]));
        if (i > 0) CHECK(released[i].t - released[i - 1].t == 10s);
    }
    CHECK(released.back().t == kTrue - 10s);  // the last poll: 10 s before NTP set the clock
    CHECK(g.gate.stats().restamped == 5);
    CHECK(g.steps.empty());  // setting the clock is not a step: nothing was judged on the old one

    // From now on samples pass with their own stamps.
    g.advance(8s);
    auto next = g.gate.admit(g.sample("inv1"));
    REQUIRE(next.size() == 1);
    CHECK(next[0].t == kTrue + 10s);
}

TEST_CASE("ClockGate: a sample stamped before the clock was set, arriving after, gets the time it arrives") {
    Gateway g;
    auto early = g.sample("inv1");  // stamped at 1970 on the poll thread...
    g.wall.set_wall_clock(kTrue);   // ...the clock set before the executor takes it
    g.sync.set = true;
    auto out = g.gate.admit(std::move(early));
    REQUIRE(out.size() == 1);
    CHECK(out[0].t == kTrue);
    CHECK(g.gate.stats().restamped == 1);
}

TEST_CASE("ClockGate: a long wait keeps the newest samples, up to max_held") {
    Gateway g;  // max_held 8
    for (int i = 0; i < 20; ++i) {
        CHECK(g.gate.admit(g.sample("inv1")).empty());
        g.advance(10s);
    }
    CHECK(g.gate.stats().dropped_overflow == 12);
    g.wall.set_wall_clock(kTrue);
    g.sync.set = true;
    auto out = g.gate.admit(g.sample("inv1"));
    REQUIRE(out.size() == 9);  // the 8 newest held, then this one
    CHECK(out.front().t == kTrue - 80s);
    CHECK(out.back().t == kTrue);
}

TEST_CASE("ClockGate: after synchronisation a step forward is reported and samples go on") {
    Gateway g;
    g.wall.set_wall_clock(kTrue);
    g.sync.set = true;
    std::vector<domain::Sample> r;
    CHECK(g.gate.tick(r));
    for (int i = 0; i < 3; ++i) {
        g.advance(10s);
        CHECK(g.gate.admit(g.sample("inv1")).size() == 1);
    }
    // NTP steps the clock forward by 3 h (it had been running slow): reported once, as +3 h.
    g.wall.set_wall_clock(g.wall.now() + 3h);
    g.advance(10s);
    auto out = g.gate.admit(g.sample("inv1"));
    REQUIRE(out.size() == 1);
    CHECK(out[0].t == kTrue + 40s + 3h);
    REQUIRE(g.steps.size() == 1);
    CHECK(g.steps[0] == Millis{3h});
    CHECK(g.gate.tick(r));
    CHECK(g.gate.may_judge_now());
    // A small correction (NTP slewing, jitter) is no step.
    g.wall.set_wall_clock(g.wall.now() + 500ms);
    g.advance(10s);
    CHECK(g.gate.admit(g.sample("inv1")).size() == 1);
    CHECK(g.steps.size() == 1);
}

TEST_CASE("ClockGate: after a step back no device gets a stamp at or before its newest, and nothing is judged") {
    Gateway g;
    g.wall.set_wall_clock(kTrue);
    g.sync.set = true;
    std::vector<domain::Sample> r;
    CHECK(g.gate.tick(r));
    std::vector<TimePoint> stamps;
    for (int i = 0; i < 6; ++i) {
        g.advance(10s);
        for (const auto& s : g.gate.admit(g.sample("inv1"))) stamps.push_back(s.t);
    }
    const TimePoint newest = stamps.back();
    // NTP steps the clock back by 2 min (it had been running fast).
    g.wall.set_wall_clock(g.wall.now() - 2min);
    int passed = 0;
    for (int i = 0; i < 15; ++i) {
        g.advance(10s);
        for (const auto& s : g.gate.admit(g.sample("inv1"))) {
            stamps.push_back(s.t);
            ++passed;
        }
        // Time-based detection waits until the clock is back at what it judged already.
        CHECK(g.gate.tick(r) == (g.wall.now() >= newest));
        CHECK(g.gate.may_judge_now() == (g.wall.now() >= newest));
    }
    REQUIRE(g.steps.size() == 1);
    CHECK(g.steps[0] == -Millis{2min});
    // Stamps given out stay strictly increasing: no negative interval, no key stored twice.
    for (size_t i = 1; i < stamps.size(); ++i) CHECK(stamps[i] > stamps[i - 1]);
    CHECK(passed == 3);  // the polls from newest − 110 s to newest itself (12) were dropped
    CHECK(g.gate.stats().dropped_behind == 12);
    // Another device is judged on its own newest stamp.
    CHECK(g.gate.admit(g.sample("inv2")).size() == 1);
}
