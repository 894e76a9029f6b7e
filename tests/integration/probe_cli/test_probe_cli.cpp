// pvfleet-edge scan and probe as an installer runs them: exit codes, messages, JSON.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>

#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

const char* kPython = "/usr/bin/python3";

bool pymodbus_available() {
    return std::filesystem::exists(kPython) &&
           test::run_command({kPython, "-c", "import sys, types; [sys.modules.setdefault(n, types.ModuleType(n)) "
                                              "for n in ('serial', 'serial_asyncio')]; import pymodbus"})
                   .status == 0;
}

// Runs the agent with stderr captured into a file; returns status, stdout and stderr.
struct CliResult {
    int status;
    std::string out;
    std::string err;
};

CliResult run_edge(const test::TempDir& dir, std::vector<std::string> args) {
    const auto err_path = dir / "stderr.txt";
    // Cross builds run our ARM binary under the emulator ctest uses (see tests/support/process.cpp).
    std::string cmd = std::string("exec ${PVFLEET_TEST_EMULATOR:-} ") + PVFLEET_EDGE_EXE;
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " 2>'" + err_path.string() + "'";
    auto r = test::run_command({"/bin/sh", "-c", cmd}, 120s);
    return {r.status, r.out, std::filesystem::exists(err_path) ? test::read_file(err_path) : ""};
}

}  // namespace

TEST_CASE("scan lists the unit ids that answer, with data or an exception") {
    if (!pymodbus_available()) {
        MESSAGE("python3-pymodbus not installed: skipped");
        return;
    }
    test::TempDir dir;
    const int port = test::free_tcp_port();
    test::ChildProcess server({kPython, PYMODBUS_SERVER_SCRIPT, std::to_string(port), "2", "5"}, dir / "server.log");
    REQUIRE(test::wait_for_tcp_port(port, 20s));
    const std::string where = "127.0.0.1:" + std::to_string(port);

    auto data = run_edge(dir, {"scan", "--tcp", where, "--units", "1-6", "--register", "0", "--json"});
    CHECK(data.status == 0);
    auto j = nlohmann::json::parse(data.out);
    CHECK(j["endpoint"] == "tcp " + where);
    REQUIRE(j["units"].size() == 2);
    CHECK(j["units"][0]["unit"] == 2);
    CHECK(j["units"][0]["answer"] == "data");
    CHECK(j["units"][0]["detail"] == "register 0 = 2000");
    CHECK(j["units"][1]["unit"] == 5);

    // Register 40000 is outside the server's bank: the units answer with an exception and still count.
    auto exc = run_edge(dir, {"scan", "--tcp", where, "--units", "1-6"});
    CHECK(exc.status == 0);
    CHECK(exc.out.find("unit 2: answers (exception: Illegal data address)") != std::string::npos);
    CHECK(exc.out.find("unit 5: answers") != std::string::npos);
    CHECK(exc.out.find("unit 3") == std::string::npos);

    auto none = run_edge(dir, {"scan", "--tcp", where, "--units", "7-9", "--timeout", "200"});
    CHECK(none.status == 1);
    CHECK(none.err.find("no unit answered on tcp " + where + " (tried units 7-9") != std::string::npos);
}

TEST_CASE("scan and probe: nothing listening exits 1 and says what was tried; bad usage exits 2") {
    test::TempDir dir;
    const std::string where = "127.0.0.1:" + std::to_string(test::free_tcp_port());
    auto scan = run_edge(dir, {"scan", "--tcp", where, "--units", "1-3"});
    CHECK(scan.status == 1);
    CHECK(scan.err.find("tcp " + where) != std::string::npos);
    CHECK(scan.err.find("Connection refused") != std::string::npos);

    auto probe = run_edge(dir, {"probe", "--tcp", where, "--unit", "3"});
    CHECK(probe.status == 1);
    CHECK(probe.err.find("tcp " + where) != std::string::npos);
    CHECK(probe.err.find("unit 3") != std::string::npos);

    CHECK(run_edge(dir, {"scan"}).status == 2);
    CHECK(run_edge(dir, {"scan", "--tcp", where, "--units", "0-300"}).status == 2);
    CHECK(run_edge(dir, {"probe", "--tcp", "nohost:99999"}).status == 2);
    CHECK(run_edge(dir, {"probe", "--tcp", where, "--bogus"}).status == 2);
}
