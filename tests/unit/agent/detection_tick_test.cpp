// The agent's detection tick on simulated time: a device that stops answering is reported to detection on
// every tick, so comm loss opens once its daylight debounce has passed in the time system's clock — not in
// wall-clock time, and not before. The device is an inverter behind a TCP port nobody listens on (refused at
// once); the poll thread is real, its clock and the tick are the simulated time system's.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>
#include <atomic>
#include <thread>

#include "pvfleet/agent/agent.hpp"
#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

unsigned short closed_port() {
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor a(io, {boost::asio::ip::address_v4::loopback(), 0});
    return a.local_endpoint().port();
}

size_t comm_lost_tickets(const agent::Agent& a) {
    size_t n = 0;
    const auto state = a.local_state();
    for (const auto& t : state.at("tickets"))
        if (t.value("kind", "") == "comm_lost") ++n;
    return n;
}

}  // namespace

TEST_CASE("agent: detection's tick runs on the time system; comm loss opens after its debounce, not before") {
    test::TempDir dir;
    auto site = nlohmann::json::parse(R"({
      "format": 1, "site_id": "tick-site", "config_version": "t1", "latitude": 47.99, "longitude": 7.85,
      "time_zone": "Europe/Berlin",
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "goodwe-dt", "ac_kw": 8}],
      "arrays": [{"inverter": "inv1", "dc_kw": 8, "tilt": 30, "azimuth": 180}],
      "poll": {"fast_s": 10, "slow_s": 60}, "store": {"path": "edge.db"},
      "detection": {"comm_lost": {"debounce_min": 30}}})");
    site["endpoints"][0]["tcp"] = "127.0.0.1:" + std::to_string(closed_port());
    site["maps_dir"] = (test::source_dir() / "firmware-config/devices").string();
    auto config = agent::parse_site_config(site, dir.path());
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));

    // Midsummer, 10:00 UTC: full daylight in Freiburg for hours.
    SimulatedTimeSystem time(from_epoch_ms(1'782'036'000'000));  // 2026-06-21T10:00:00Z
    boost::asio::io_context io;
    auto created = agent::Agent::create(std::move(*config), io.get_executor(), time);
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
    auto& agent = **created;
    agent.start();
    CHECK(time.armed_timers() >= 1);  // the tick waits on simulated time

    // The poll thread fails its polls at the simulated poll interval: step time until it has called the device
    // offline and the tick reports it silent (a real thread: give it real moments to run between steps).
    const auto step = [&](Millis by) {
        time.advance(by);
        io.poll();
        io.restart();
    };
    for (int i = 0; i < 400 && agent.stats().no_answers == 0; ++i) {
        step(1s);
        std::this_thread::sleep_for(5ms);
    }
    REQUIRE(agent.stats().no_answers > 0);
    const TimePoint offline_at = time.now();

    // Wall-clock time alone moves nothing: without simulated time no tick fires.
    std::this_thread::sleep_for(300ms);
    io.poll();
    io.restart();
    CHECK(comm_lost_tickets(agent) == 0);

    // Well inside the debounce: still no ticket, though the tick has reported the silence many times.
    const auto no_answers_before = agent.stats().no_answers;
    while (time.now() < offline_at + 25min) step(5s);
    CHECK(agent.stats().no_answers > no_answers_before + 200);  // one per 5 s tick
    CHECK(comm_lost_tickets(agent) == 0);

    // Past it (plus the poll's detection margin): the tick opened exactly one comm_lost ticket.
    while (time.now() < offline_at + 35min) step(5s);
    CHECK(comm_lost_tickets(agent) == 1);

    bool stopped = false;
    agent.stop([&] { stopped = true; });
    for (int i = 0; i < 500 && !stopped; ++i) {  // the stop's helper thread posts back within 1.5 s
        std::this_thread::sleep_for(10ms);
        io.poll();
        io.restart();
    }
    CHECK(stopped);
}

namespace {
class FakeClockSync final : public agent::ClockSync {
public:
    std::atomic<bool> set{false};
    [[nodiscard]] bool synchronised() const override { return set.load(); }
};
}  // namespace

TEST_CASE("agent: nothing is judged before NTP sets the clock; its first jump and a later step are no comm loss") {
    test::TempDir dir;
    auto site = nlohmann::json::parse(R"({
      "format": 1, "site_id": "clock-site", "config_version": "t1", "latitude": 47.99, "longitude": 7.85,
      "time_zone": "Europe/Berlin",
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "goodwe-dt", "ac_kw": 8}],
      "arrays": [{"inverter": "inv1", "dc_kw": 8, "tilt": 30, "azimuth": 180}],
      "poll": {"fast_s": 10, "slow_s": 60}, "store": {"path": "edge.db"},
      "detection": {"comm_lost": {"debounce_min": 30}}})");
    site["endpoints"][0]["tcp"] = "127.0.0.1:" + std::to_string(closed_port());
    site["maps_dir"] = (test::source_dir() / "firmware-config/devices").string();
    auto config = agent::parse_site_config(site, dir.path());
    REQUIRE_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));

    // A gateway without a real-time clock: it boots at 1970; the monotonic clock runs beside the wall clock.
    SimulatedTimeSystem time(from_epoch_ms(30'000));
    ManualClock steady(from_epoch_ms(30'000));
    FakeClockSync sync;
    boost::asio::io_context io;
    auto created = agent::Agent::create(std::move(*config), io.get_executor(), time, {&sync, &steady});
    REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
    auto& agent = **created;
    agent.start();
    const auto step = [&](Millis by) {
        time.advance(by);
        steady.advance(by);
        io.poll();
        io.restart();
    };
    const auto run_for = [&](Millis span) {
        const TimePoint until = steady.now() + span;
        while (steady.now() < until) {
            step(5s);
            std::this_thread::sleep_for(1ms);  // the poll thread's real moment to fail its poll
        }
    };

    // 40 minutes offline on an unset clock: the device is polled and fails, but nothing reaches detection.
    run_for(40min);
    CHECK(agent.stats().no_answers == 0);
    CHECK(comm_lost_tickets(agent) == 0);
    CHECK(agent.local_state()["clock_synchronised"] == false);

    // NTP sets the clock: 1970 → 2026-06-21 10:00 UTC. The gap is counted from here, not from 1970.
    time.set_wall_clock(from_epoch_ms(1'782'036'000'000));
    sync.set = true;
    // Until the poll thread (real, slower than simulated time) has called the device offline in daylight.
    for (int i = 0; i < 2000 && agent.stats().no_answers == 0; ++i) {
        step(1s);
        std::this_thread::sleep_for(2ms);
    }
    REQUIRE(agent.stats().no_answers > 0);
    CHECK(agent.local_state()["clock_synchronised"] == true);
    run_for(10min);
    // A forward step of 3 h (a later NTP correction) is not time without an answer.
    time.set_wall_clock(time.now() + 3h);
    run_for(15min);
    CHECK(agent.clock_stats().steps == 1);
    CHECK(comm_lost_tickets(agent) == 0);  // 25 real minutes < 30
    // Past the debounce in real time: comm loss opens, once.
    for (int i = 0; i < 40 && comm_lost_tickets(agent) == 0; ++i) run_for(1min);
    CHECK(comm_lost_tickets(agent) == 1);

    bool stopped = false;
    agent.stop([&] { stopped = true; });
    for (int i = 0; i < 500 && !stopped; ++i) {
        std::this_thread::sleep_for(10ms);
        io.poll();
        io.restart();
    }
    CHECK(stopped);
}
