// A gateway's first boot: `pvfleet-edge run --config SITE.json` without SITE.json stays up in commissioning
// mode (the local page alone), and the installer's path through the page — log in, scan the bus, probe the
// inverter, save a site config — ends with the agent polling pvfleet-sim in the same process. A config file
// copied onto the gateway by other means is picked up the same way.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "page_client.hpp"
#include "pvfleet/local_ui/password.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using nlohmann::json;
using test::find_after;
using test::http;
using test::wait_for_job;

namespace {

// pvfleet-sim with one SunSpec inverter on a free port; returns HOST:PORT.
std::string start_sim(const test::TempDir& dir, std::unique_ptr<test::ChildProcess>& sim) {
    std::ofstream(dir / "sim.json") << R"({
      "name": "first-boot", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
      "time_zone": "Europe/Berlin", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
      "devices": [
        {"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2,
         "manufacturer": "pvfleet", "model": "SIM-8K", "serial": "SIM0001"}],
      "arrays": [{"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 8.5, "tilt_deg": 35, "azimuth_deg": 180}]})";
    sim = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{PVFLEET_SIM_EXE, "--site", (dir / "sim.json").string(), "--listen",
                                 "127.0.0.1:0"},
        dir / "sim.log");
    const auto tcp = test::wait_for_log_line(dir / "sim.log", "listening tcp ");
    REQUIRE_MESSAGE(!tcp.empty(), test::read_file(dir / "sim.log"));
    return tcp.substr(0, tcp.find(' '));
}

// The device's readings in the page's state, once the running agent has polled it.
bool polled(int port, const std::string& cookie) {
    const auto r = http(port, "GET", "/local/api/state", "", cookie);
    if (r.status != 200) return false;
    const auto s = json::parse(r.body);
    return s.value("mode", "") == "running" && !s["devices"].empty() && !s["devices"][0]["readings"].is_null();
}

}  // namespace

TEST_CASE("first boot: no site config → commissioning page; scan, probe, save → the agent polls") {
    test::TempDir dir;
    std::unique_ptr<test::ChildProcess> sim;
    const std::string where = start_sim(dir, sim);
    const std::string password = "installer-42";
    auto hash = local_ui::make_password_hash(password, 20'000);
    REQUIRE(hash.ok());
    std::ofstream(dir / "local-ui.hash") << *hash << "\n";

    const auto config_file = dir / "site.json";
    test::ChildProcess agent({PVFLEET_EDGE_EXE, "run", "--config", config_file.string(), "--commissioning-listen",
                              "127.0.0.1", "--commissioning-port", "0", "--clock", "trust"},
                             dir / "agent.log");
    const auto bound = find_after(dir / "agent.log", "local ui listening on 127.0.0.1:", 30s);
    REQUIRE_MESSAGE(!bound.empty(), test::read_file(dir / "agent.log"));
    const int port = std::stoi(bound);
    CHECK(agent.running());  // up, not exiting for want of a config (no crash loop under systemd)
    CHECK(test::read_file(dir / "agent.log").find("commissioning mode") != std::string::npos);

    const auto page = http(port, "GET", "/local/");
    CHECK(page.status == 200);
    CHECK(page.body.find("data-testid=\"commissioning-guide\"") != std::string::npos);
    const auto login = http(port, "POST", "/local/api/login", json{{"password", password}}.dump());
    REQUIRE(login.status == 204);
    const auto set_cookie = login.headers.at("set-cookie");
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));

    auto state = json::parse(http(port, "GET", "/local/api/state", "", cookie).body);
    CHECK(state["mode"] == "commissioning");
    CHECK(state["site_id"].is_null());
    CHECK(state["devices"].empty());
    CHECK(state["config_file"] == config_file.string());
    // Nothing configured to act on yet.
    auto configured = wait_for_job(
        port, cookie, http(port, "POST", "/local/api/probe", R"({"device_id": "inv1"})", cookie), 10s);
    CHECK(configured["state"] == "failed");
    CHECK(configured["error"].get<std::string>().find("no site config yet") != std::string::npos);

    // 1. Scan the bus behind HOST:PORT.
    auto scan = wait_for_job(
        port, cookie,
        http(port, "POST", "/local/api/scan", json{{"tcp", where}, {"unit_from", 1}, {"unit_to", 3}}.dump(), cookie),
        60s);
    REQUIRE_MESSAGE(scan["state"] == "done", scan.dump());
    REQUIRE(scan["result"]["units"].size() == 1);
    CHECK(scan["result"]["units"][0]["unit"] == 1);
    // 2. Probe what answered.
    auto probe = wait_for_job(port, cookie,
                              http(port, "POST", "/local/api/probe",
                                   json{{"tcp", where}, {"unit", 1}, {"profile", "auto"}}.dump(), cookie),
                              60s);
    REQUIRE_MESSAGE(probe["state"] == "done", probe.dump());
    CHECK(probe["result"].dump().find("SIM-8K") != std::string::npos);

    // 3. The page's starting point must be edited: as it is, it is refused with the key path.
    const auto template_text = http(port, "GET", "/local/api/config", "", cookie);
    REQUIRE(template_text.status == 200);
    auto site = json::parse(template_text.body);
    CHECK(site["local_ui"]["password_file"] == (dir / "local-ui.hash").string());
    const auto refused = http(port, "POST", "/local/api/config/validate", site.dump(), cookie);
    CHECK(refused.status == 422);
    CHECK(refused.body.find("site_id: 'CHANGE-ME' must match") != std::string::npos);
    // A profile no map names is refused too (the register maps are checked, not only the keys).
    auto wrong = site;
    wrong["site_id"] = "first-boot-1";
    wrong["inverters"][0]["profile"] = "fronius";
    const auto no_map = http(port, "POST", "/local/api/config/validate", wrong.dump(), cookie);
    CHECK(no_map.status == 422);
    CHECK(no_map.body.find("inverters/0/profile: no register map 'fronius'") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(config_file));

    site["site_id"] = "first-boot-1";
    site["latitude"] = 47.99;
    site["longitude"] = 7.85;
    site["endpoints"][0]["tcp"] = where;
    site["endpoints"][0]["timing"] = {{"pause_after_connect_ms", 0}};
    site["inverters"][0]["profile"] = "sunspec";
    site["inverters"][0]["ac_kw"] = 8;
    site["poll"] = {{"fast_s", 1}, {"slow_s", 2}};
    site["maps_dir"] = (test::source_dir() / "firmware-config/devices").string();
    CHECK(http(port, "POST", "/local/api/config/validate", site.dump(), cookie).status == 200);
    const auto saved = http(port, "POST", "/local/api/config/save", site.dump(), cookie);
    REQUIRE_MESSAGE(saved.status == 202, saved.body);
    CHECK(json::parse(saved.body)["config_version"] == "1");

    // The agent starts in this process; the page stays (same spec: same port, same session) and shows it.
    CHECK(test::wait_until([&] { return polled(port, cookie); }, 60s, 200ms));
    CHECK(agent.running());
    CHECK(std::filesystem::exists(config_file));
    CHECK_FALSE(std::filesystem::exists(dir / "site.json.new"));
    CHECK(json::parse(test::read_file(config_file))["site_id"] == "first-boot-1");
    state = json::parse(http(port, "GET", "/local/api/state", "", cookie).body);
    CHECK(state["site_id"] == "first-boot-1");
    CHECK(state["clock_synchronised"] == true);
    // Saving again is a config change of a running agent now: the site id stays.
    wrong = site;
    wrong["site_id"] = "another-site";
    const auto other = http(port, "POST", "/local/api/config/validate", wrong.dump(), cookie);
    CHECK(other.status == 422);
    CHECK(other.body.find("is not this site") != std::string::npos);
    CHECK(agent.stop() == 0);
}

TEST_CASE("first boot: without a password file the page waits; a config file copied in starts the agent") {
    test::TempDir dir;
    std::unique_ptr<test::ChildProcess> sim;
    const std::string where = start_sim(dir, sim);
    const auto config_file = dir / "etc" / "site.json";
    std::filesystem::create_directories(config_file.parent_path());
    test::ChildProcess agent({PVFLEET_EDGE_EXE, "run", "--config", config_file.string(), "--commissioning-port",
                              "0", "--clock", "trust"},
                             dir / "agent.log");
    CHECK_FALSE(find_after(dir / "agent.log", "commissioning page not served: no password file ", 30s).empty());
    CHECK(agent.running());

    // A bad file copied in is reported and left alone: still commissioning, still up.
    std::ofstream(config_file) << R"({"format": 1, "site_id": "copied-1"})";
    CHECK_FALSE(find_after(dir / "agent.log", "config_version: ", 30s).empty());
    CHECK(agent.running());

    auto site = json::parse(R"({
      "format": 1, "site_id": "copied-1", "config_version": "c1", "latitude": 47.99, "longitude": 7.85,
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "sunspec", "ac_kw": 8}],
      "arrays": [{"inverter": "inv1", "dc_kw": 8.5, "tilt": 35, "azimuth": 180}],
      "poll": {"fast_s": 1, "slow_s": 2}, "store": {"path": "../edge.db"}})");
    site["endpoints"][0]["tcp"] = where;
    site["maps_dir"] = (test::source_dir() / "firmware-config/devices").string();
    std::ofstream(config_file.string() + ".tmp") << site.dump(2);
    std::filesystem::rename(config_file.string() + ".tmp", config_file);
    CHECK_FALSE(find_after(dir / "agent.log", "site config c1 found: leaving commissioning ", 30s).empty());
    CHECK(test::wait_until([&] { return std::filesystem::exists(dir / "edge.db"); }, 30s, 100ms));
    CHECK(agent.running());
    CHECK(agent.stop() == 0);
}
