// Our Modbus session over real TCP against an independent implementation: Debian's python3-pymodbus server
// (tests/support/pymodbus_server.py). Unit u holds u*1000+a at holding address a (0..99),
// u*1000+500+a at input address a; other addresses answer "illegal data address"; unlisted units are silent.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>

#include "pvfleet/modbus/session.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace pvfleet::modbus;
using namespace std::chrono_literals;

namespace {

const char* kPython = "/usr/bin/python3";  // Debian's interpreter: that is where python3-pymodbus lives

bool pymodbus_available() {
    return std::filesystem::exists(kPython) &&
           test::run_command({kPython, "-c", "import sys, types; [sys.modules.setdefault(n, types.ModuleType(n)) "
                                              "for n in ('serial', 'serial_asyncio')]; import pymodbus"})
                   .status == 0;
}

std::unique_ptr<test::ChildProcess> start_server(int port, const test::TempDir& dir, std::vector<std::string> units) {
    std::vector<std::string> argv{kPython, PYMODBUS_SERVER_SCRIPT, std::to_string(port)};
    argv.insert(argv.end(), units.begin(), units.end());
    auto child = std::make_unique<test::ChildProcess>(argv, dir / "pymodbus.log");
    REQUIRE_MESSAGE(test::wait_for_tcp_port(port, 20s), "pymodbus server did not start; log: " << (dir / "pymodbus.log"));
    return child;
}

SessionTiming fast_timing() {
    SessionTiming t;
    t.pause_after_connect = 0ms;
    t.pause_between_units = 0ms;
    t.timeout_min = 100ms;
    t.timeout_initial = 500ms;
    t.timeout_max = 500ms;
    t.retries = 1;
    t.retry_backoff = 20ms;
    t.reconnect_backoff_min = 100ms;
    t.reconnect_backoff_max = 400ms;
    return t;
}

}  // namespace

TEST_CASE("session against pymodbus: unit routing, input registers, exceptions, silent units, restart") {
    if (!pymodbus_available()) {
        MESSAGE("python3-pymodbus not installed: skipped");
        return;
    }
    test::TempDir dir;
    const int port = test::free_tcp_port();
    auto server = start_server(port, dir, {"1", "3"});

    SystemClock clock;
    SystemSleeper sleeper;
    EndpointConfig endpoint{TcpAddress{"127.0.0.1", static_cast<uint16_t>(port)}, fast_timing()};
    auto session = make_session(endpoint, clock, sleeper);
    CHECK(session->describe() == "tcp 127.0.0.1:" + std::to_string(port));

    SUBCASE("several unit ids behind one address share one connection") {
        auto a = session->read_registers(1, RegisterKind::holding, 10, 3);
        REQUIRE_MESSAGE(a, a.error().message);
        CHECK(*a == Registers{1010, 1011, 1012});
        auto b = session->read_registers(3, RegisterKind::holding, 0, 2);
        REQUIRE_MESSAGE(b, b.error().message);
        CHECK(*b == Registers{3000, 3001});
        auto c = session->read_registers(3, RegisterKind::input, 99, 1);
        REQUIRE(c);
        CHECK(*c == Registers{3599});
        auto full = session->read_registers(1, RegisterKind::holding, 0, 100);
        REQUIRE(full);
        CHECK(full->back() == 1099);
        CHECK(session->stats().connects == 1);
        const uint16_t words[] = {42, 43};
        REQUIRE(session->write_registers(1, 20, words));
        auto back = session->read_registers(1, RegisterKind::holding, 20, 2);
        REQUIRE(back);
        CHECK(*back == Registers{42, 43});
    }

    SUBCASE("illegal data address is reported as rejected, once, and the link stays usable") {
        auto r = session->read_registers(1, RegisterKind::holding, 98, 5);
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == ErrorKind::rejected);
        CHECK(r.error().message.find("Illegal data address") != std::string::npos);
        CHECK(session->stats().attempts == 1);
        auto ok = session->read_registers(1, RegisterKind::holding, 0, 1);
        REQUIRE(ok);
        CHECK(session->stats().connects == 1);
    }

    SUBCASE("a silent unit times out within bounds and does not disturb the next unit") {
        const auto t0 = std::chrono::steady_clock::now();
        auto r = session->read_registers(2, RegisterKind::holding, 0, 1);
        const auto spent = std::chrono::steady_clock::now() - t0;
        REQUIRE_FALSE(r);
        CHECK(r.error().kind == ErrorKind::timeout);
        CHECK(spent < 2s);
        auto ok = session->read_registers(1, RegisterKind::holding, 5, 1);
        REQUIRE_MESSAGE(ok, ok.error().message);
        CHECK(*ok == Registers{1005});  // no late answer from unit 2 mistaken for this one
    }

    SUBCASE("server restart: requests fail while it is gone, then the session reconnects by itself") {
        REQUIRE(session->read_registers(1, RegisterKind::holding, 0, 1));
        server->stop();
        server.reset();
        auto down = session->read_registers(1, RegisterKind::holding, 0, 1);
        REQUIRE_FALSE(down);
        CHECK(down.error().kind == ErrorKind::io);
        server = start_server(port, dir, {"1", "3"});
        CHECK(test::wait_until([&] { return session->read_registers(1, RegisterKind::holding, 0, 1).ok(); }, 5s,
                               100ms));
        CHECK(session->stats().connects == 2);
    }
}

TEST_CASE("nothing listening: connect fails fast as io and backs off") {
    const int port = test::free_tcp_port();
    SystemClock clock;
    SystemSleeper sleeper;
    EndpointConfig endpoint{TcpAddress{"127.0.0.1", static_cast<uint16_t>(port)}, fast_timing()};
    auto session = make_session(endpoint, clock, sleeper);
    auto r = session->read_registers(1, RegisterKind::holding, 0, 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == ErrorKind::io);
    CHECK(r.error().message.find("127.0.0.1") != std::string::npos);
    CHECK(session->reconnect_not_before().has_value());
    auto again = session->read_registers(1, RegisterKind::holding, 0, 1);
    REQUIRE_FALSE(again);
    CHECK(again.error().message.find("next attempt in") != std::string::npos);
    CHECK(session->stats().connect_failures == 1);
}
