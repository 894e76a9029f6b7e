// pvfleet-edge scan and probe as an installer runs them: exit codes, messages, JSON.
#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

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

namespace {


}  // namespace

TEST_CASE("probe --profile auto identifies SunSpec and vendor-map devices served by pvfleet-sim at noon") {
    test::TempDir dir;
    // Three inverters behind one endpoint, each laid out by a different register map.
    std::ofstream(dir / "site.json") << R"({
      "name": "probe-test", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
      "time_zone": "Europe/Berlin", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
      "devices": [
        {"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2,
         "manufacturer": "pvfleet", "model": "SIM-8K", "serial": "SIM0001"},
        {"name": "inv2", "unit": 247, "profile": "goodwe-et", "ac_kw": 10.0, "phases": 3, "mppts": 2,
         "manufacturer": "GoodWe", "model": "GW10K-ET", "serial": "9010KETU000W0001"},
        {"name": "inv3", "unit": 127, "profile": "goodwe-dt", "ac_kw": 8.0, "phases": 3, "mppts": 2,
         "manufacturer": "GoodWe", "model": "GW8K-DT", "serial": "5008KDTU000W0002"}
      ],
      "arrays": [
        {"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 4.5, "tilt_deg": 35, "azimuth_deg": 180},
        {"id": "b", "device": "inv1", "mppt": 2, "dc_kwp": 4.0, "tilt_deg": 35, "azimuth_deg": 180},
        {"id": "c", "device": "inv2", "mppt": 1, "dc_kwp": 5.5, "tilt_deg": 30, "azimuth_deg": 180},
        {"id": "d", "device": "inv2", "mppt": 2, "dc_kwp": 5.5, "tilt_deg": 30, "azimuth_deg": 180},
        {"id": "e", "device": "inv3", "mppt": 1, "dc_kwp": 4.0, "tilt_deg": 30, "azimuth_deg": 180},
        {"id": "f", "device": "inv3", "mppt": 2, "dc_kwp": 4.0, "tilt_deg": 30, "azimuth_deg": 180}
      ]})";
    test::ChildProcess sim({PVFLEET_SIM_EXE, "--site", (dir / "site.json").string(), "--listen", "127.0.0.1:0",
                            "--start", "2026-06-21T13:30:00+02:00"},
                           dir / "sim.log");
    const auto tcp = test::wait_for_log_line(dir / "sim.log", "listening tcp ");
    REQUIRE_MESSAGE(!tcp.empty(), test::read_file(dir / "sim.log"));
    const std::string where = tcp.substr(0, tcp.find(' '));

    struct Expect {
        const char* unit;
        const char* profile;
        const char* model;
        const char* serial;
        double ac_w;
    };
    for (const auto& e : {Expect{"1", "sunspec", "SIM-8K", "SIM0001", 8000}, Expect{"247", "goodwe-et", "GW10K-ET", "9010KETU000W0001", 10000},
                          Expect{"127", "goodwe-dt", "GW8K-DT", "5008KDTU000W0002", 8000}}) {
        const std::string profile_name = e.profile;
        CAPTURE(profile_name);
        auto r = run_edge(dir, {"probe", "--tcp", where, "--unit", e.unit, "--json"});
        REQUIRE_MESSAGE(r.status == 0, r.err);
        const auto j = nlohmann::json::parse(r.out);
        CHECK(j["device"]["profile"] == e.profile);
        CHECK(j["device"]["model"] == e.model);
        CHECK(j["device"]["serial"] == e.serial);
        const auto& p = j["points"];
        CHECK(p["inverter_state"] == "producing");
        // midsummer noon, clear sky: well into production, never above the AC rating
        CHECK(p["ac_power_w"].get<double>() > 0.4 * e.ac_w);
        CHECK(p["ac_power_w"].get<double>() <= e.ac_w * 1.001);
        REQUIRE(p["dc_voltage_v"].size() == 2);
        CHECK(p["dc_voltage_v"][0].get<double>() > 150);
        CHECK(p["ac_frequency_hz"].get<double>() == doctest::Approx(50).epsilon(0.01));
        CHECK(p["energy_total_wh"].get<double>() > 0);
        CHECK(p["ac_voltage_v"].size() == 3);
    }
    // text form names the profile and how it was found
    auto text = run_edge(dir, {"probe", "--tcp", where, "--unit", "247"});
    CHECK(text.status == 0);
    CHECK(text.out.find("profile: goodwe-et (identify register") != std::string::npos);
    // a unit id nobody answers: exit 1, the message says what was tried
    auto none = run_edge(dir, {"probe", "--tcp", where, "--unit", "9", "--timeout", "200"});
    CHECK(none.status == 1);
    CHECK(none.err.find("unit 9") != std::string::npos);
    CHECK(none.err.find("tried SunSpec") != std::string::npos);
    auto bad_profile = run_edge(dir, {"probe", "--tcp", where, "--profile", "nosuch"});
    CHECK(bad_profile.status == 2);
    CHECK(bad_profile.err.find("--profile: unknown 'nosuch' (expected auto, sunspec, goodwe-dt, goodwe-et") != std::string::npos);
}
