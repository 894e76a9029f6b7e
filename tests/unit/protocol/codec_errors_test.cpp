// Every validation path of the decoder, with the exact error text: the path of the field, then what is wrong.
#include <doctest/doctest.h>

#include <cstdio>
#include <functional>
#include <nlohmann/json.hpp>

#include "pvfleet/protocol/codec.hpp"
#include "support/protocol_fixtures.hpp"

using namespace pvfleet;
using namespace pvfleet::protocol;
using json = nlohmann::json;

namespace {
struct Case {
    std::string what;
    std::function<void(json&)> mutate;
    std::string error;
};

std::string decode_error(MessageKind kind, const std::string& payload) {
    auto pick = [&]() -> std::optional<Error> {
        switch (kind) {
            case MessageKind::telemetry: if (auto r = decode_telemetry(payload); !r) return r.error(); break;
            case MessageKind::ticket_event: if (auto r = decode_ticket_event(payload); !r) return r.error(); break;
            case MessageKind::status: if (auto r = decode_status(payload); !r) return r.error(); break;
            case MessageKind::command: if (auto r = decode_command(payload); !r) return r.error(); break;
            case MessageKind::command_ack: if (auto r = decode_command_ack(payload); !r) return r.error(); break;
        }
        return std::nullopt;
    };
    auto e = pick();
    return e ? e->message : "(decoded fine)";
}

void run_cases(MessageKind kind, const std::string& valid_payload, const std::vector<Case>& cases) {
    const json base = json::parse(valid_payload);
    REQUIRE(decode_error(kind, valid_payload) == "(decoded fine)");
    for (const auto& c : cases) {
        CAPTURE(c.what);
        json j = base;
        c.mutate(j);
        CHECK(decode_error(kind, j.dump()) == c.error);
        // A compressed payload reports the same error.
        CHECK(decode_error(kind, deflate_payload(j.dump())) == c.error);
    }
}
}  // namespace

TEST_CASE("payload framing errors") {
    CHECK(decode_error(MessageKind::telemetry, "") == "payload: empty");
    CHECK(decode_error(MessageKind::telemetry, "[1,2]") == "payload: first byte 0x5b is neither '{' (JSON) nor 0x78 (zlib)");
    CHECK(decode_error(MessageKind::telemetry, " {}") == "payload: first byte 0x20 is neither '{' (JSON) nor 0x78 (zlib)");
    CHECK(decode_error(MessageKind::telemetry, "{\"v\":1,") == "payload: invalid JSON at byte 8");
    CHECK(decode_error(MessageKind::telemetry, "{\"v\":1}{") == "payload: invalid JSON at byte 8");
    CHECK(decode_error(MessageKind::telemetry, "{\"a\":\"\xff\"}") == "payload: invalid JSON at byte 7");
    std::string big = "{\"pad\":\"" + std::string(2100000, 'x') + "\"}";
    CHECK(decode_error(MessageKind::telemetry, big) == "payload: 2100010 bytes exceeds the 1048576-byte limit");
    std::string deep = "{\"a\":" + std::string(20, '[') + std::string(20, ']') + "}";
    CHECK(decode_error(MessageKind::telemetry, deep) == "payload: JSON nested deeper than 16 levels");
    std::string brackets_in_strings = "{\"a\":\"" + std::string(40, '[') + "\\\"\"}";
    CHECK(decode_error(MessageKind::telemetry, brackets_in_strings) == "v: missing required field");
}

TEST_CASE("compressed framing errors: corrupt, truncated, trailing bytes, zip bomb") {
    const auto good = deflate_payload(encode(test::status_online()).value());
    REQUIRE(decode_status(good).ok());
    CHECK(decode_error(MessageKind::status, good.substr(0, good.size() - 6)) == "payload: corrupt zlib stream (truncated)");
    std::string flipped = good;
    flipped[1] = static_cast<char>(flipped[1] ^ 0x01);
    CHECK(decode_error(MessageKind::status, flipped) == "payload: corrupt zlib stream (incorrect header check)");
    CHECK(decode_error(MessageKind::status, good + "x") == "payload: trailing bytes after the zlib stream");
    CHECK(decode_error(MessageKind::status, deflate_payload("[]")) == "payload: inflated content is not a JSON object");
    const std::string bomb = deflate_payload("{\"pad\":\"" + std::string(5 * 1024 * 1024, ' ') + "\"}");
    CHECK(bomb.size() < 10000);
    CHECK(decode_error(MessageKind::status, bomb) == "payload: inflated size exceeds the 4194304-byte limit");
}

TEST_CASE("envelope errors shared by every kind") {
    run_cases(MessageKind::status, encode(test::status_online()).value(), {
        {"version missing", [](json& j) { j.erase("v"); }, "v: missing required field"},
        {"version 2", [](json& j) { j["v"] = 2; }, "v: unsupported protocol version 2 (expected 1)"},
        {"version -1", [](json& j) { j["v"] = -1; }, "v: unsupported protocol version -1 (expected 1)"},
        {"version text", [](json& j) { j["v"] = "1"; }, "v: expected integer, got string"},
        {"version float", [](json& j) { j["v"] = 1.0; }, "v: expected integer, got number"},
        {"kind missing", [](json& j) { j.erase("kind"); }, "kind: missing required field"},
        {"kind unknown", [](json& j) { j["kind"] = "weather"; },
         "kind: unknown 'weather' (expected telemetry, ticket_event, status, command, command_ack)"},
        {"kind other", [](json& j) { j["kind"] = "telemetry"; }, "kind: expected 'status', got 'telemetry'"},
        {"site missing", [](json& j) { j.erase("site_id"); }, "site_id: missing required field"},
        {"site bad", [](json& j) { j["site_id"] = "Bad/Site"; }, "site_id: 'Bad/Site' is not a valid site id"},
        {"site number", [](json& j) { j["site_id"] = 42; }, "site_id: expected string, got integer"},
    });
}

TEST_CASE("telemetry validation errors") {
    run_cases(MessageKind::telemetry, encode(test::telemetry_batch()).value(), {
        {"seq missing", [](json& j) { j.erase("seq"); }, "seq: missing required field"},
        {"seq zero", [](json& j) { j["seq"] = 0; }, "seq: must be at least 1"},
        {"seq negative", [](json& j) { j["seq"] = -4; }, "seq: expected non-negative integer, got -4"},
        {"seq text", [](json& j) { j["seq"] = "12"; }, "seq: expected integer, got string"},
        {"seq float", [](json& j) { j["seq"] = 12.5; }, "seq: expected integer, got number"},
        {"seq 2^53", [](json& j) { j["seq"] = 9007199254740992ULL; },
         "seq: 9007199254740992 exceeds the largest seq 9007199254740991"},
        {"seq 2^63", [](json& j) { j["seq"] = 9223372036854775808ULL; },
         "seq: 9223372036854775808 exceeds the largest seq 9007199254740991"},
        {"historical text", [](json& j) { j["historical"] = "yes"; }, "historical: expected boolean, got string"},
        {"sent_at missing", [](json& j) { j.erase("sent_at"); }, "sent_at: missing required field"},
        {"sent_at iso text", [](json& j) { j["sent_at"] = "2016-07-19T08:00:00Z"; },
         "sent_at: expected UTC timestamp in ms (integer), got string"},
        {"sent_at negative", [](json& j) { j["sent_at"] = -1; }, "sent_at: timestamp -1 is before 1970"},
        {"sent_at far future", [](json& j) { j["sent_at"] = 99999999999999999ULL; },
         "sent_at: timestamp 99999999999999999 is after the year 3000"},
        {"resolution zero", [](json& j) { j["resolution_s"] = 0; }, "resolution_s: 0 is outside 1..86400"},
        {"aggregate without resolution", [](json& j) { j.erase("resolution_s"); j["aggregate"] = true; },
         "resolution_s: required when aggregate is true"},
        {"devices missing", [](json& j) { j.erase("devices"); }, "devices: missing required field"},
        {"devices object", [](json& j) { j["devices"] = json::object(); }, "devices: expected array, got object"},
        {"device not object", [](json& j) { j["devices"][1] = 3; }, "devices/1: expected object, got integer"},
        {"device id bad", [](json& j) { j["devices"][0]["device_id"] = "inv 1"; },
         "devices/0/device_id: 'inv 1' is not a valid device id"},
        {"device twice", [](json& j) { j["devices"][1]["device_id"] = "inv1"; },
         "devices/1/device_id: 'inv1' appears in more than one block"},
        {"t0 missing", [](json& j) { j["devices"][0].erase("t0"); }, "devices/0/t0: missing required field"},
        {"dt empty", [](json& j) { j["devices"][0]["dt"] = json::array(); }, "devices/0/dt: must not be empty"},
        {"dt negative", [](json& j) { j["devices"][0]["dt"][2] = -10000; },
         "devices/0/dt/2: negative delta -10000 (samples must be in time order)"},
        {"dt text", [](json& j) { j["devices"][0]["dt"][2] = "10s"; }, "devices/0/dt/2: expected integer, got string"},
        {"dt overflow", [](json& j) { j["devices"][0]["dt"][2] = 18446744073709551615ULL; },
         "devices/0/dt/2: timestamp after the year 3000"},
        {"points missing", [](json& j) { j["devices"][0].erase("points"); }, "devices/0/points: missing required field"},
        {"points array", [](json& j) { j["devices"][0]["points"] = json::array(); },
         "devices/0/points: expected object, got array"},
        {"unknown point", [](json& j) { j["devices"][0]["points"]["ac_power_kw"] = json::array(); },
         "devices/0/points/ac_power_kw: unknown point (not canonical and no valid 'x_' vendor prefix)"},
        {"bad vendor point", [](json& j) { j["devices"][0]["points"]["x_Bad"] = json::array(); },
         "devices/0/points/x_Bad: unknown point (not canonical and no valid 'x_' vendor prefix)"},
        {"column short", [](json& j) { j["devices"][0]["points"]["ac_power_w"].erase(5); },
         "devices/0/points/ac_power_w: 5 entries, expected 6 (one per entry of dt)"},
        {"column not array", [](json& j) { j["devices"][0]["points"]["ac_power_w"] = 5; },
         "devices/0/points/ac_power_w: expected array, got integer"},
        {"scalar mistyped", [](json& j) { j["devices"][0]["points"]["ac_power_w"][3] = "4783"; },
         "devices/0/points/ac_power_w/3: expected number or null, got string"},
        {"scalar array", [](json& j) { j["devices"][0]["points"]["ac_power_w"][3] = json::array({1}); },
         "devices/0/points/ac_power_w/3: expected number or null, got array"},
        {"mppt scalar", [](json& j) { j["devices"][0]["points"]["dc_voltage_v"][1] = 600; },
         "devices/0/points/dc_voltage_v/1: expected array or null, got integer"},
        {"mppt entry text", [](json& j) { j["devices"][0]["points"]["dc_voltage_v"][1][1] = "598"; },
         "devices/0/points/dc_voltage_v/1/1: expected number or null, got string"},
        {"state unknown", [](json& j) { j["devices"][0]["points"]["inverter_state"][0] = "dancing"; },
         "devices/0/points/inverter_state/0: unknown 'dancing' (expected off, sleeping, starting, producing, "
         "throttled, shutting_down, fault, standby, unknown)"},
        {"state number", [](json& j) { j["devices"][0]["points"]["inverter_state"][0] = 4; },
         "devices/0/points/inverter_state/0: expected string or null, got integer"},
        {"events not list", [](json& j) { j["devices"][0]["points"]["events"][0] = "fan_warning"; },
         "devices/0/points/events/0: expected array or null, got string"},
        {"event empty", [](json& j) { j["devices"][0]["points"]["events"][3][1] = ""; },
         "devices/0/points/events/3/1: must not be empty"},
        {"mppt entries beyond the bound", [](json& j) { j["devices"][0]["points"]["dc_voltage_v"][1] = json(std::vector<double>(65, 600.0)); },
         "devices/0/points/dc_voltage_v/1: 65 entries, more than 64"},
        {"events beyond the bound", [](json& j) { j["devices"][0]["points"]["events"][3] = json(std::vector<std::string>(65, "fan_warning")); },
         "devices/0/points/events/3: 65 entries, more than 64"},
    });
    // The largest seq passes.
    json j = json::parse(encode(test::telemetry_batch()).value());
    j["seq"] = kMaxSeq;
    CHECK(decode_error(MessageKind::telemetry, j.dump()) == "(decoded fine)");
}

namespace {
// A telemetry payload with `devices` blocks of `samples` samples each and `points` vendor scalar columns.
json sized_batch(std::size_t devices, std::size_t samples, std::size_t points) {
    json j = json::parse(encode(test::telemetry_batch()).value());
    json blocks = json::array();
    for (std::size_t d = 0; d < devices; ++d) {
        json block{{"device_id", "inv" + std::to_string(d)}, {"t0", 1468915200000}};
        block["dt"] = json(std::vector<int>(samples, 0));
        json columns = json::object();
        for (std::size_t p = 0; p < points; ++p) {
            char name[32];
            std::snprintf(name, sizeof name, "x_p%03zu", p);
            columns[name] = json(std::vector<double>(samples, 1.5));
        }
        block["points"] = std::move(columns);
        blocks.push_back(std::move(block));
    }
    j["devices"] = std::move(blocks);
    return j;
}
}  // namespace

TEST_CASE("telemetry batch bounds: samples, devices, points and readings per message, named") {
    REQUIRE(kMaxBatchSamples == 20000);
    CHECK(decode_error(MessageKind::telemetry, sized_batch(1, 20000, 1).dump()) == "(decoded fine)");
    CHECK(decode_error(MessageKind::telemetry, sized_batch(1, 20001, 0).dump()) ==
          "devices/0/dt: the batch has more than 20000 samples");
    CHECK(decode_error(MessageKind::telemetry, sized_batch(2, 10001, 0).dump()) ==
          "devices/1/dt: the batch has more than 20000 samples");
    CHECK(decode_error(MessageKind::telemetry, sized_batch(256, 1, 1).dump()) == "(decoded fine)");
    CHECK(decode_error(MessageKind::telemetry, sized_batch(257, 1, 1).dump()) ==
          "devices: 257 device blocks, more than 256");
    CHECK(decode_error(MessageKind::telemetry, sized_batch(1, 1, 256).dump()) == "(decoded fine)");
    CHECK(decode_error(MessageKind::telemetry, sized_batch(1, 1, 257).dump()) ==
          "devices/0/points: 257 points, more than 256");
    // 20 000 samples of 11 points: the eleventh column passes 200 000 readings.
    const std::string many_readings = sized_batch(1, 20000, 11).dump();
    REQUIRE(many_readings.size() < kMaxPayloadBytes);
    CHECK(decode_error(MessageKind::telemetry, many_readings) ==
          "devices/0/points/x_p010/0: the batch has more than 200000 readings");
    // The reported attack: a few kB of zlib inflating to 450 000 samples.
    const std::string bomb = deflate_payload(sized_batch(1, 450000, 0).dump());
    CHECK(bomb.size() < 10000);
    CHECK(decode_error(MessageKind::telemetry, bomb) == "devices/0/dt: the batch has more than 20000 samples");

    // The encoder refuses what the decoder would.
    auto batch = test::telemetry_batch();
    batch.samples.resize(kMaxBatchSamples + 1, batch.samples[0]);
    CHECK(encode(batch).error().message == "samples: 20001 samples, more than 20000 in one batch");
}

TEST_CASE("a number too large for a double is refused, not turned into infinity") {
    auto payload = encode(test::telemetry_batch()).value();
    const auto at = payload.find("4783");
    REQUIRE(at != std::string::npos);
    payload.replace(at, 4, "1e999");
    auto r = decode_telemetry(payload);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message == "payload: number out of range ('1e999')");
}

TEST_CASE("ticket event validation errors") {
    run_cases(MessageKind::ticket_event, encode(test::ticket_event()).value(), {
        {"event unknown", [](json& j) { j["event"] = "exploded"; },
         "event: unknown 'exploded' (expected opened, updated, acknowledged, resolved, closed)"},
        {"at missing", [](json& j) { j.erase("at"); }, "at: missing required field"},
        {"ticket missing", [](json& j) { j.erase("ticket"); }, "ticket: missing required field"},
        {"ticket id empty", [](json& j) { j["ticket"]["id"] = ""; }, "ticket/id: must not be empty"},
        {"ticket device", [](json& j) { j["ticket"]["device_id"] = "a/b"; },
         "ticket/device_id: 'a/b' is not a valid device id"},
        {"fault kind", [](json& j) { j["ticket"]["fault_kind"] = "gremlins"; },
         "ticket/fault_kind: unknown 'gremlins' (expected not_producing, comm_lost, inverter_fault, string_fault, "
         "underperformance, grid_outage, counter_backwards, frozen_values, clock_drift, preventive, implausible_values)"},
        {"severity", [](json& j) { j["ticket"]["severity"] = "huge"; },
         "ticket/severity: unknown 'huge' (expected info, minor, major, critical)"},
        {"state", [](json& j) { j["ticket"]["state"] = 1; }, "ticket/state: expected string, got integer"},
        {"summary missing", [](json& j) { j["ticket"].erase("summary"); }, "ticket/summary: missing required field"},
        {"evidence object", [](json& j) { j["ticket"]["evidence"] = json::object(); },
         "ticket/evidence: expected array, got object"},
        {"evidence observed", [](json& j) { j["ticket"]["evidence"][1]["observed"] = "low"; },
         "ticket/evidence/1/observed: expected number, got string"},
        {"evidence expected", [](json& j) { j["ticket"]["evidence"][0]["expected"] = true; },
         "ticket/evidence/0/expected: expected number, got boolean"},
        {"evidence t", [](json& j) { j["ticket"]["evidence"][0].erase("t"); },
         "ticket/evidence/0/t: missing required field"},
        {"acknowledged_at", [](json& j) { j["ticket"]["acknowledged_at"] = "today"; },
         "ticket/acknowledged_at: expected UTC timestamp in ms (integer), got string"},
        {"input zero", [](json& j) { j["ticket"]["input"] = 0; },
         "ticket/input: expected an input number 1..64, got 0"},
        {"input text", [](json& j) { j["ticket"]["input"] = "2"; }, "ticket/input: expected integer, got string"},
        {"input negative", [](json& j) { j["ticket"]["input"] = -1; },
         "ticket/input: expected non-negative integer, got -1"},
    });
}

TEST_CASE("status validation errors") {
    run_cases(MessageKind::status, encode(test::status_online()).value(), {
        {"state", [](json& j) { j["state"] = "asleep"; }, "state: unknown 'asleep' (expected online, offline)"},
        {"agent version", [](json& j) { j.erase("agent_version"); }, "agent_version: missing required field"},
        {"online needs uptime", [](json& j) { j.erase("uptime_s"); }, "uptime_s: missing required field"},
        {"online needs devices", [](json& j) { j.erase("devices"); }, "devices: missing required field"},
        {"online devices null", [](json& j) { j["devices"] = nullptr; }, "devices: expected array, got null"},
        {"online uptime null", [](json& j) { j["uptime_s"] = nullptr; }, "uptime_s: expected integer, got null"},
        {"backlog negative", [](json& j) { j["backlog_depth"] = -1; },
         "backlog_depth: expected non-negative integer, got -1"},
        {"device poll", [](json& j) { j["devices"][0]["last_ok_poll"] = 1.5; },
         "devices/0/last_ok_poll: expected UTC timestamp in ms (integer), got number"},
        {"quota field", [](json& j) { j["quota"].erase("dropped_samples"); },
         "quota/dropped_samples: missing required field"},
        {"last_seq zero", [](json& j) { j["last_seq"] = 0; }, "last_seq: must be at least 1"},
        {"last_seq 2^62", [](json& j) { j["last_seq"] = 4611686018427387904ULL; },
         "last_seq: 4611686018427387904 exceeds the largest seq 9007199254740991"},
        {"offline will may omit uptime, not mistype it", [](json& j) { j["state"] = "offline"; j["uptime_s"] = "1h"; },
         "uptime_s: expected integer, got string"},
    });
}

TEST_CASE("command validation errors") {
    const auto commands = test::commands();
    run_cases(MessageKind::command, encode(commands[0]).value(), {
        {"command id", [](json& j) { j["command_id"] = "c 1"; }, "command_id: 'c 1' is not a valid command id"},
        {"issued_at", [](json& j) { j.erase("issued_at"); }, "issued_at: missing required field"},
        {"type", [](json& j) { j["command"] = "reboot"; },
         "command: unknown 'reboot' (expected ack_ticket, resolve_ticket, set_config, resend, probe, update, log_bundle)"},
        {"args missing", [](json& j) { j.erase("args"); }, "args: missing required field"},
        {"ticket id", [](json& j) { j["args"].erase("ticket_id"); }, "args/ticket_id: missing required field"},
        {"by empty", [](json& j) { j["args"]["by"] = ""; }, "args/by: must not be empty"},
    });
    run_cases(MessageKind::command, encode(commands[2]).value(),
              {
                  {"config text", [](json& j) { j["args"]["config"] = "{}"; },
                   "args/config: expected object, got string"},
                  {"config missing", [](json& j) { j["args"].erase("config"); },
                   "args/config: missing required field"},
                  {"config and patch", [](json& j) { j["args"]["patch"] = json::object(); },
                   "args: either config or patch, not both"},
                  {"config with a version", [](json& j) { j["args"]["config_version"] = "v2"; },
                   "args/config_version: only with a patch (a whole config carries its own)"},
              });
    REQUIRE(commands[5].type() == CommandType::set_config);
    run_cases(MessageKind::command, encode(commands[5]).value(),
              {
                  {"patch text", [](json& j) { j["args"]["patch"] = "{}"; },
                   "args/patch: expected object, got string"},
                  {"patch array", [](json& j) { j["args"]["patch"] = json::array(); },
                   "args/patch: expected object, got array"},
                  {"patch names the site", [](json& j) { j["args"]["patch"]["site_id"] = "other-site"; },
                   "args/patch/site_id: may not be changed by a fleet patch"},
                  {"patch removes the site", [](json& j) { j["args"]["patch"]["site_id"] = nullptr; },
                   "args/patch/site_id: may not be changed by a fleet patch"},
                  {"patch sets the version", [](json& j) { j["args"]["patch"]["config_version"] = "v3"; },
                   "args/patch/config_version: set by the command's config_version, not inside the patch"},
                  {"patch too large", [](json& j) { j["args"]["patch"]["pad"] = std::string(70000, 'x'); },
                   "args/patch: 70067 bytes exceeds the 65536-byte limit"},
                  {"version missing", [](json& j) { j["args"].erase("config_version"); },
                   "args/config_version: missing required field"},
                  {"version empty", [](json& j) { j["args"]["config_version"] = ""; },
                   "args/config_version: must not be empty"},
                  {"version long", [](json& j) { j["args"]["config_version"] = std::string(65, 'v'); },
                   "args/config_version: longer than 64 bytes"},
                  {"version number", [](json& j) { j["args"]["config_version"] = 2; },
                   "args/config_version: expected string, got integer"},
              });
    {  // exactly at the limit: accepted
        json j = json::parse(encode(commands[5]).value());
        j["args"]["patch"] = {{"pad", ""}};
        j["args"]["patch"]["pad"] = std::string(kMaxConfigPatchBytes - json{{"pad", ""}}.dump().size(), 'x');
        REQUIRE(j["args"]["patch"].dump().size() == kMaxConfigPatchBytes);
        auto decoded = decode_command(j.dump());
        REQUIRE_MESSAGE(decoded, (decoded ? "" : decoded.error().message));
        CHECK(std::get<SetConfigCommand>(decoded->body).patch_json.size() == kMaxConfigPatchBytes);
        // As deep as check_config_patch lets a patch be: the command still decodes.
        j["args"]["patch"] = json::parse("{\"a\":" + std::string(13, '[') + std::string(13, ']') + "}");
        decoded = decode_command(j.dump());
        CHECK_MESSAGE(decoded, (decoded ? "" : decoded.error().message));
    }
    run_cases(MessageKind::command, encode(commands[3]).value(), {
        {"from zero", [](json& j) { j["args"]["from_seq"] = 0; }, "args/from_seq: must be at least 1"},
        {"to below from", [](json& j) { j["args"]["to_seq"] = 999; }, "args/to_seq: 999 is below from_seq 1000"},
        {"to beyond the largest seq", [](json& j) { j["args"]["to_seq"] = 9007199254740992ULL; },
         "args/to_seq: 9007199254740992 exceeds the largest seq 9007199254740991"},
    });
    run_cases(MessageKind::command, encode(commands[4]).value(), {
        {"probe device", [](json& j) { j["args"]["device_id"] = "#"; }, "args/device_id: '#' is not a valid device id"},
    });
    run_cases(MessageKind::command, encode(commands[6]).value(), {
        {"hours missing", [](json& j) { j["args"].erase("hours"); }, "args/hours: missing required field"},
        {"hours zero", [](json& j) { j["args"]["hours"] = 0; }, "args/hours: expected 1..168, got 0"},
        {"hours beyond a week", [](json& j) { j["args"]["hours"] = 169; }, "args/hours: expected 1..168, got 169"},
        {"hours text", [](json& j) { j["args"]["hours"] = "24"; }, "args/hours: expected integer, got string"},
        {"max_bytes small", [](json& j) { j["args"]["max_bytes"] = 65535; },
         "args/max_bytes: expected 65536..16777216, got 65535"},
        {"max_bytes large", [](json& j) { j["args"]["max_bytes"] = 16777217; },
         "args/max_bytes: expected 65536..16777216, got 16777217"},
        {"upload over http", [](json& j) { j["args"]["upload_url"] = "http://pv.example.com/api/log-bundles/x/upload"; },
         "args/upload_url: must be an https:// URL of at most 2048 printable characters"},
        {"upload with a space", [](json& j) { j["args"]["upload_url"] = "https://pv.example.com/a b"; },
         "args/upload_url: must be an https:// URL of at most 2048 printable characters"},
        {"upload missing", [](json& j) { j["args"].erase("upload_url"); }, "args/upload_url: missing required field"},
    });
    run_cases(MessageKind::command_ack, encode(test::command_ack()).value(), {
        {"status", [](json& j) { j["status"] = "ok"; },
         "status: unknown 'ok' (expected accepted, done, duplicate, stale, rejected, failed)"},
        {"command", [](json& j) { j.erase("command"); }, "command: missing required field"},
        {"detail", [](json& j) { j["detail"] = 3; }, "detail: expected string, got integer"},
    });
}

TEST_CASE("unknown extra fields are tolerated within v1") {
    json j = json::parse(encode(test::telemetry_batch()).value());
    j["future_field"] = {{"a", 1}};
    j["devices"][0]["future_block_field"] = "x";
    auto r = decode_telemetry(j.dump());
    REQUIRE(r.ok());
    CHECK(r->samples.size() == 7);
}

TEST_CASE("encoding refuses what decoding would refuse, naming the field") {
    auto batch = test::telemetry_batch();
    batch.site_id = "Bad/Site";
    CHECK(encode(batch).error().message == "site_id: 'Bad/Site' is not a valid site id");
    batch = test::telemetry_batch();
    batch.samples[2].values["ac_power_kw"] = 4.7;
    CHECK(encode(batch).error().message ==
          "samples/2/values/ac_power_kw: unknown point (not canonical and no valid 'x_' vendor prefix)");
    batch = test::telemetry_batch();
    batch.samples[1].values["dc_voltage_v"] = 600;
    CHECK(encode(batch).error().message == "samples/1/values/dc_voltage_v: not a scalar point");
    batch = test::telemetry_batch();
    batch.seq = 0;
    CHECK(encode(batch).error().message == "seq: must be at least 1");
    batch.seq = kMaxSeq + 1;
    CHECK(encode(batch).error().message == "seq: 9007199254740992 exceeds the largest seq 9007199254740991");
    auto last = test::status_online();
    last.last_seq = std::uint64_t{1} << 62;
    CHECK(encode(last).error().message == "last_seq: 4611686018427387904 exceeds the largest seq 9007199254740991");
    auto resend = test::commands()[3];
    std::get<ResendCommand>(resend.body).to_seq = kMaxSeq + 1;
    CHECK(encode(resend).error().message == "args/to_seq: 9007199254740992 exceeds the largest seq 9007199254740991");
    auto status = test::status_online();
    status.uptime_s.reset();
    CHECK(encode(status).error().message == "uptime_s: required when online");
    auto command = test::commands()[2];
    std::get<SetConfigCommand>(command.body).config_json = "[1]";
    CHECK(encode(command).error().message == "args/config: config_json is not a JSON object");
    command = test::commands()[2];
    std::get<SetConfigCommand>(command.body).config_version = "v2";
    CHECK(encode(command).error().message ==
          "args/config_version: only with a patch (a whole config carries its own)");
    auto patch = test::commands()[5];
    auto& set = std::get<SetConfigCommand>(patch.body);
    set.config_version.clear();
    CHECK(encode(patch).error().message == "args/config_version: must be 1..64 bytes");
    set.config_version = "v2";
    set.patch_json = R"({"site_id":"x"})";
    CHECK(encode(patch).error().message == "args/patch/site_id: may not be changed by a fleet patch");
    set.patch_json = "[]";
    CHECK(encode(patch).error().message == "args/patch: patch_json is not a JSON object");
    set.patch_json = "{}";
    set.config_json = "{}";
    CHECK(encode(patch).error().message == "args: either config or patch, not both");
    // The check the server runs on a fleet patch: errors inside the patch, for the caller to place.
    CHECK(check_config_patch(R"({"poll":{"fast_s":5}})"));
    CHECK(check_config_patch(R"({"site_id":"x"})").error().path == "site_id");
    CHECK(check_config_patch("[1]").error().message == "expected a JSON object");
    CHECK(check_config_patch("{").error().message == "not JSON");
    // Nested as deep as a command can carry it (14 levels), and one deeper.
    CHECK(check_config_patch(std::string(13, '[').insert(0, "{\"a\":") + std::string(13, ']') + "}"));
    CHECK(check_config_patch(std::string(14, '[').insert(0, "{\"a\":") + std::string(14, ']') + "}")
              .error()
              .message == "nested deeper than 14 levels");
    auto bundle = test::commands()[6];
    std::get<LogBundleCommand>(bundle.body).hours = 0;
    CHECK(encode(bundle).error().message == "args/hours: expected 1..168, got 0");
    bundle = test::commands()[6];
    std::get<LogBundleCommand>(bundle.body).max_bytes = 32 * 1024 * 1024;
    CHECK(encode(bundle).error().message == "args/max_bytes: expected 65536..16777216, got 33554432");
    bundle = test::commands()[6];
    std::get<LogBundleCommand>(bundle.body).upload_url = "ftp://x/";
    CHECK(encode(bundle).error().message ==
          "args/upload_url: must be an https:// URL of at most 2048 printable characters");
}

TEST_CASE("log_bundle: max_bytes may be left out (2 MiB)") {
    json j = json::parse(encode(test::commands()[6]).value());
    j["args"].erase("max_bytes");
    auto r = decode_command(j.dump());
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(std::get<LogBundleCommand>(r->body).max_bytes == 2 * 1024 * 1024);
    CHECK(std::get<LogBundleCommand>(r->body).hours == 24);
    j["args"]["max_bytes"] = nullptr;
    r = decode_command(j.dump());
    REQUIRE(r.ok());
    CHECK(std::get<LogBundleCommand>(r->body).max_bytes == LogBundleCommand::kDefaultBytes);
}
