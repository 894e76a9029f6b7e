// Impossible values never reach the edge store (and so never the server): pvfleet-sim serves a GoodWe ET
// without battery and meter answering those registers with the type's minimum (as the simulator once did, and
// as a device with an undocumented sentinel might), the agent reads it with a map that neither gates nor
// declares them. The plausibility layer drops -2147483648 W, +2147483648 W and -3276.8 A: no stored sample
// carries them, and detection opens implausible_values naming the point and the value.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <nlohmann/json.hpp>

#include "pvfleet/store/gateway_store.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

// firmware-config/devices copied to `dir`, goodwe-et changed by `change`.
void copy_maps(const std::filesystem::path& dir, const std::function<void(nlohmann::json&)>& change) {
    std::filesystem::create_directories(dir);
    const auto src = test::source_dir() / "firmware-config/devices";
    std::filesystem::copy(src, dir, std::filesystem::copy_options::recursive);
    const auto file = dir / "goodwe-et.json";
    auto map = nlohmann::json::parse(test::read_file(file));
    map.erase("equipment");  // no presence registers: the old map
    auto& regs = map["registers"];
    for (auto it = regs.begin(); it != regs.end();) {
        const auto id = it->value("id", "");
        it = id == "battery_mode" || id == "meter_comm_status" ? regs.erase(it) : it + 1;
    }
    change(map);
    std::ofstream(file, std::ios::trunc) << map.dump(2);
}

}  // namespace

TEST_CASE("pvfleet-edge run: type-minimum answers for a missing battery and meter are never stored") {
    test::TempDir dir;
    // The simulator's map answers the battery and meter registers it has no value for with the s16/s32 minimum.
    copy_maps(dir / "sim-maps", [](nlohmann::json& map) {
        for (auto& r : map["registers"]) {
            const auto a = r.value("address", 0);
            if (a == 35181) r["absent"] = {32768};
            if (a == 35182 || a == 36025) r["absent"] = {2147483648LL};
        }
    });
    copy_maps(dir / "agent-maps", [](nlohmann::json&) {});

    std::ofstream(dir / "sim.json") << R"({
      "name": "implausible", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
      "time_zone": "Europe/Berlin", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
      "devices": [{"name": "inv2", "unit": 247, "profile": "goodwe-et", "ac_kw": 10.0, "phases": 3, "mppts": 2,
                   "manufacturer": "GoodWe", "model": "GW10K-ET", "serial": "9010KETU000W0001"}],
      "arrays": [{"id": "c", "device": "inv2", "mppt": 1, "dc_kwp": 5.5, "tilt_deg": 30, "azimuth_deg": 180},
                 {"id": "d", "device": "inv2", "mppt": 2, "dc_kwp": 5.5, "tilt_deg": 30, "azimuth_deg": 180}]})";
    test::ChildProcess sim({PVFLEET_SIM_EXE, "--site", (dir / "sim.json").string(), "--listen", "127.0.0.1:0",
                            "--maps", (dir / "sim-maps").string()},
                           dir / "sim.log");
    const auto tcp = test::wait_for_log_line(dir / "sim.log", "listening tcp ");
    REQUIRE_MESSAGE(!tcp.empty(), test::read_file(dir / "sim.log"));

    auto site = nlohmann::json::parse(R"({
      "format": 1, "site_id": "implausible-1", "config_version": "t1", "latitude": 47.99, "longitude": 7.85,
      "time_zone": "Europe/Berlin",
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv2", "endpoint": "lan", "unit": 247, "profile": "goodwe-et", "ac_kw": 10}],
      "arrays": [{"inverter": "inv2", "dc_kw": 11, "tilt": 30, "azimuth": 180}],
      "detection": {"data_quality": {"implausible_samples": 3, "implausible_min": 0}},
      "poll": {"fast_s": 1, "slow_s": 5}, "store": {"path": "edge.db"}})");
    site["endpoints"][0]["tcp"] = tcp.substr(0, tcp.find(' '));
    site["maps_dir"] = (dir / "agent-maps").string();
    std::ofstream(dir / "site.json") << site.dump(2);
    test::ChildProcess agent({PVFLEET_EDGE_EXE, "run", "--config", (dir / "site.json").string()}, dir / "agent.log");

    // The ticket names the refused point and value; the stored samples carry none of them.
    std::vector<domain::Ticket> tickets;
    std::vector<domain::Sample> samples;
    const bool ticketed = test::wait_until(
        [&] {
            auto store = store::GatewayStore::open((dir / "edge.db").string());
            if (!store) return false;
            auto t = (*store)->tickets(false);
            auto s = (*store)->samples("inv2", from_epoch_ms(0), SystemClock{}.now() + 24h);
            if (!t || !s) return false;
            tickets = *t;
            samples = *s;
            return samples.size() >= 5 && !tickets.empty();
        },
        60s);
    REQUIRE_MESSAGE(ticketed, test::read_file(dir / "agent.log"));
    REQUIRE(tickets.size() == 1);
    CHECK(tickets[0].kind == domain::FaultKind::implausible_values);
    CHECK(tickets[0].device_id == "inv2");
    std::set<std::string> named;
    for (const auto& e : tickets[0].evidence) named.insert(e.name);
    CHECK(named.contains("battery_power_w"));
    CHECK(named.contains("battery_current_a"));
    CHECK(named.contains("grid_power_w"));
    CHECK(tickets[0].summary.find("-2147483648") != std::string::npos);

    for (const auto& s : samples) {
        CHECK_FALSE(s.values.contains("battery_power_w"));
        CHECK_FALSE(s.values.contains("battery_current_a"));
        CHECK_FALSE(s.values.contains("grid_power_w"));
        for (const auto& [point, v] : s.values) {
            if (!point.ends_with("_wh")) CHECK_MESSAGE(std::abs(v) < 1e5, point << " = " << v);
        }
    }
    CHECK(samples.back().values.contains("ac_power_w"));  // the rest of the reading is stored as usual
}
