// The pure parts of set_config and probe: checking a pushed config, merging a patch into the config file's
// object, ordering set_configs, installing the config file and rolling it back, and the probe's ack detail.
#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/agent/probe_detail.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::agent;
using namespace std::chrono_literals;

namespace {

nlohmann::json valid_site() {
    return nlohmann::json::parse(R"({
      "format": 1, "site_id": "unit-site", "config_version": "v1", "latitude": 47.99, "longitude": 7.85,
      "endpoints": [{"id": "lan", "tcp": "127.0.0.1:5020"}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "ac_kw": 5}],
      "arrays": [{"inverter": "inv1", "dc_kw": 5, "tilt": 30, "azimuth": 180}],
      "store": {"path": "edge.db"}})");
}

SiteConfig running_from(const std::filesystem::path& file) {
    auto c = parse_site_config(valid_site(), file.parent_path());
    REQUIRE(c.ok());
    c->config_file = file;
    return *c;
}

}  // namespace

TEST_CASE("check_pushed_config: parsed like the file, relative paths from its folder, same site only") {
    const auto running = running_from("/etc/pvfleet/site.json");

    auto next = valid_site();
    next["config_version"] = "v2";
    auto ok = check_pushed_config(next.dump(), running);
    REQUIRE(ok.ok());
    CHECK(ok->config_version == "v2");
    CHECK(ok->store_path == std::filesystem::path("/etc/pvfleet/edge.db"));
    CHECK(ok->config_file == running.config_file);

    auto bad = valid_site();
    bad["poll"] = {{"fast_s", 0}};
    bad["inverters"][0]["endpoint"] = "wifi";
    auto refused = check_pushed_config(bad.dump(), running);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos);
    CHECK(refused.error().message.find("inverters/0/endpoint: no endpoint 'wifi'") != std::string::npos);

    auto other = valid_site();
    other["site_id"] = "another-site";
    auto foreign = check_pushed_config(other.dump(), running);
    REQUIRE_FALSE(foreign.ok());
    CHECK(foreign.error().message == "site_id: 'another-site' is not this site ('unit-site')");

    CHECK_FALSE(check_pushed_config("{not json", running).ok());
    CHECK_FALSE(check_pushed_config("[1]", running).ok());
}

TEST_CASE(
    "apply_config_patch: RFC 7396 over the file's object, config_version set, the file's key order kept") {
    const std::string file = R"({
  "format": 1, "site_id": "unit-site", "config_version": "v1",
  "endpoints": [{"id": "lan", "tcp": "127.0.0.1:5020"}],
  "poll": {"fast_s": 10, "slow_s": 300},
  "detection": {"not_producing": {"debounce_min": 30}, "offline": {"after_min": 20}},
  "store": {"path": "edge.db"}
})";
    const std::string patch =
        R"({"poll": {"slow_s": 600}, "detection": {"offline": null}, "endpoints": [{"id": "lan", "tcp": "10.0.0.2:502"}], "sync": {"batch_interval_s": 30}})";
    auto merged = apply_config_patch(file, patch, "fleet-7");
    REQUIRE_MESSAGE(merged.ok(), (merged.ok() ? "" : merged.error().message));
    const auto j = nlohmann::ordered_json::parse(*merged);
    CHECK(j["config_version"] == "fleet-7");
    CHECK(j["site_id"] == "unit-site");
    CHECK(j["poll"] ==
          nlohmann::ordered_json::parse(R"({"fast_s": 10, "slow_s": 600})"));  // merged key by key
    CHECK(j["detection"] ==
          nlohmann::ordered_json::parse(R"({"not_producing": {"debounce_min": 30}})"));  // null removes
    CHECK(j["endpoints"].size() == 1);  // an array is replaced whole
    CHECK(j["endpoints"][0]["tcp"] == "10.0.0.2:502");
    CHECK(j["store"]["path"] == "edge.db");  // what the patch does not name stays
    std::vector<std::string> keys;
    for (const auto& [k, v] : j.items()) keys.push_back(k);
    CHECK(keys == std::vector<std::string>{"format", "site_id", "config_version", "endpoints", "poll",
                                           "detection", "store", "sync"});

    CHECK(apply_config_patch("[1]", "{}", "v2").error().message == "is not a JSON object");
    CHECK(apply_config_patch("{", "{}", "v2").error().message == "is not a JSON object");
    CHECK(apply_config_patch(file, "[]", "v2").error().message == "patch: not a JSON object");
}

TEST_CASE("a patch making an invalid config is refused by the same check, with its key paths") {
    const auto running = running_from("/etc/pvfleet/site.json");
    auto merged = apply_config_patch(
        valid_site().dump(2),
        R"({"poll": {"fast_s": 0}, "inverters": [{"id": "inv1", "endpoint": "wifi", "unit": 1}]})", "v2");
    REQUIRE(merged.ok());
    auto refused = check_pushed_config(*merged, running);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos);
    CHECK(refused.error().message.find("inverters/0/endpoint: no endpoint 'wifi'") != std::string::npos);

    merged = apply_config_patch(valid_site().dump(2), R"({"poll": {"fast_s": 5}})", "v2");
    REQUIRE(merged.ok());
    auto ok = check_pushed_config(*merged, running);
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
    CHECK(ok->config_version == "v2");
    CHECK(ok->intervals.fast == 5s);
}

TEST_CASE("set_config ordering: only one issued before the applied one is stale") {
    const TimePoint applied = from_epoch_ms(1'700'000'000'000);
    CHECK_FALSE(is_stale_config(applied, std::nullopt));
    CHECK_FALSE(is_stale_config(applied, applied));
    CHECK_FALSE(is_stale_config(applied + 1ms, applied));
    CHECK(is_stale_config(applied - 1ms, applied));

    CHECK(encode_issued_at(applied) == "1700000000000");
    CHECK(decode_issued_at("1700000000000") == applied);
    CHECK_FALSE(decode_issued_at("").has_value());
    CHECK_FALSE(decode_issued_at("17x").has_value());
}

TEST_CASE("install_config_file: new file in place, previous kept; restore puts it back") {
    test::TempDir dir;
    const auto file = dir / "site.json";
    std::ofstream(file) << "old\n";

    REQUIRE(install_config_file(file, "new\n").ok());
    CHECK(test::read_file(file) == "new\n");
    CHECK(test::read_file(previous_config_path(file)) == "old\n");
    CHECK_FALSE(std::filesystem::exists(new_config_path(file)));

    // A second change keeps only the config it replaced.
    REQUIRE(install_config_file(file, "newer\n").ok());
    CHECK(test::read_file(previous_config_path(file)) == "new\n");

    REQUIRE(restore_previous_config_file(file).ok());
    CHECK(test::read_file(file) == "new\n");
    CHECK_FALSE(std::filesystem::exists(previous_config_path(file)));
    // Nothing left to restore.
    CHECK_FALSE(restore_previous_config_file(file).ok());

    // No current file: nothing is installed (there would be nothing to roll back to).
    const auto missing = dir / "missing.json";
    CHECK_FALSE(install_config_file(missing, "x").ok());
    CHECK_FALSE(std::filesystem::exists(missing));
    CHECK_FALSE(std::filesystem::exists(new_config_path(missing)));
}

TEST_CASE("probe_detail: device id, time and points; arrays then points dropped above the limit") {
    domain::Sample s;
    s.device_id = "inv2";
    s.t = from_epoch_ms(1'468'915'320'000);
    s.values["ac_power_w"] = 1234.5;
    s.arrays["dc_power_w"] = {600.0, std::nullopt};
    s.state = domain::InverterState::producing;
    devices::DeviceIdentity id;
    id.profile = "goodwe-et";
    id.vendor = "GoodWe";

    const auto full = nlohmann::json::parse(probe_detail(s, id));
    CHECK(full["device_id"] == "inv2");
    CHECK(full["t"] == "2016-07-19T08:02:00.000Z");
    CHECK(full["device"]["profile"] == "goodwe-et");
    CHECK(full["points"]["ac_power_w"] == 1234.5);
    CHECK(full["points"]["dc_power_w"] == nlohmann::json::array({600.0, nullptr}));
    CHECK(full["points"]["inverter_state"] == "producing");
    CHECK_FALSE(full.contains("truncated"));
    // Per-input readings for the wiring check, as read: what the map does not read (voltage, current here) or
    // the device reports absent stays null, nothing is computed.
    CHECK(full["mppt_inputs"] ==
          nlohmann::json::parse(R"([{"input": 1, "voltage_v": null, "current_a": null, "power_w": 600.0},
                                    {"input": 2, "voltage_v": null, "current_a": null, "power_w": null}])"));

    for (int i = 0; i < 400; ++i) s.arrays["array_" + std::to_string(i)] = {1.0, 2.0, 3.0, 4.0};
    const auto text = probe_detail(s, id, 4096);
    CHECK(text.size() <= 4096);
    const auto cut = nlohmann::json::parse(text);
    CHECK(cut["truncated"] == true);
    CHECK_FALSE(cut.contains("mppt_inputs"));
    CHECK(cut["points"]["ac_power_w"] == 1234.5);
    CHECK_FALSE(cut["points"].contains("dc_power_w"));

    const auto bare = nlohmann::json::parse(probe_detail(s, id, 10));
    CHECK(bare["device_id"] == "inv2");
    CHECK_FALSE(bare.contains("points"));
}
