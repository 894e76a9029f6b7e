// Every route of the REST API over real HTTP: auth and its failures, role limits, bad JSON, unknown fields,
// If-Match conflicts, pagination, and the work-order flow from an ingested gateway ticket to closed. The
// OpenAPI document is checked against the real routes.
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "support/sync_samples.hpp"
#include "support/mqtt_broker.hpp"
#include "support/server_process.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "support/http_client.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

struct Api {
    int port = 0;
    std::string token;
    test::HttpResponse call(const std::string& method, const std::string& target, const json& body = nullptr,
                            std::map<std::string, std::string> headers = {}) const {
        if (!token.empty() && headers.count("Authorization") == 0)
            headers["Authorization"] = "Bearer " + token;
        return test::http_request("127.0.0.1", port, method, target,
                                  body.is_null() ? std::string() : body.dump(), headers);
    }
};

json parse(const test::HttpResponse& r) {
    try {
        return json::parse(r.body);
    } catch (const std::exception&) {
        return json();
    }
}

int http_port_from_log(const std::string& log) {
    const auto p = log.rfind("http listening on ");
    if (p == std::string::npos) return 0;
    const auto colon = log.find(':', p + 18);
    return std::stoi(log.substr(colon + 1));
}

std::string ticket_payload(const std::string& site, protocol::Seq seq, const std::string& id,
                           const std::string& device, domain::TicketEventKind kind) {
    protocol::TicketEventMessage m;
    m.site_id = site;
    m.seq = seq;
    m.sent_at = sync::test::t0();
    m.event = sync::test::ticket_event(id, sync::test::t0());
    m.event.kind = kind;
    m.event.ticket.device_id = device;
    m.event.ticket.kind = domain::FaultKind::string_fault;
    m.event.ticket.summary = "MPPT 2 of " + device + " far below MPPT 1";
    if (kind == domain::TicketEventKind::resolved) m.event.ticket.state = domain::TicketState::resolved;
    return *protocol::encode(m);
}

}  // namespace

TEST_CASE("api: auth, roles, records, work orders, errors and the OpenAPI document over real HTTP") {
    if (test::find_program("mosquitto").empty()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    test::TempDir dir;
    const int mport = test::free_tcp_port();
    sync::itest::Mosquitto broker(
        dir / "broker", mport, {"listener " + std::to_string(mport) + " 127.0.0.1", "allow_anonymous true"});
    REQUIRE(broker.start());
    itest::ServerProcessOptions so;
    so.broker_uri = "tcp://127.0.0.1:" + std::to_string(mport);
    itest::ServerProcess server(dir / "server", so);
    // The first admin comes from the CLI, as on a fresh installation.
    {
        std::ofstream(dir / "pw") << "correct horse battery\n";
        const auto r = test::run_command({PVFLEET_SERVER_BIN, "user", "add", "--config",
                                          (dir / "server" / "server.json").string(), "--name", "admin",
                                          "--role", "admin", "--password-file", (dir / "pw").string()});
        REQUIRE_MESSAGE(r.status == 0, r.out);
    }
    REQUIRE_MESSAGE(server.start(), server.log());
    Api anon;
    anon.port = http_port_from_log(server.log());
    REQUIRE(anon.port > 0);

    // ---- auth ----
    CHECK(anon.call("GET", "/api/health").status == 200);
    CHECK(anon.call("GET", "/api/work-orders").status == 401);
    CHECK(anon.call("GET", "/api/work-orders").header("content-type") == "application/problem+json");
    CHECK(anon.call("POST", "/api/login", {{"user", "admin"}, {"password", "wrong password"}},
                    {{"Content-Type", "application/json"}})
              .status == 401);
    auto login = [&](const std::string& user, const std::string& pw) {
        Api a;
        a.port = anon.port;
        auto r = anon.call("POST", "/api/login", {{"user", user}, {"password", pw}},
                           {{"Content-Type", "application/json"}});
        REQUIRE_MESSAGE(r.status == 200, r.body);
        a.token = parse(r)["token"];
        CHECK(r.header("set-cookie").find("HttpOnly") != std::string::npos);
        return a;
    };
    Api admin = login("admin", "correct horse battery");
    CHECK(parse(admin.call("GET", "/api/me"))["role"] == "admin");
    // Cookie auth works as the web app uses it.
    CHECK(anon.call("GET", "/api/me", nullptr, {{"Cookie", "pvfleet_session=" + admin.token}}).status == 200);
    CHECK(anon.call("GET", "/api/me", nullptr, {{"Authorization", "Bearer nonsense"}}).status == 401);
    // Only the exact cookie name; a user name over 128 bytes is refused before anything else.
    CHECK(anon.call("GET", "/api/me", nullptr, {{"Cookie", "notpvfleet_session=" + admin.token}}).status ==
          401);
    const auto long_name =
        anon.call("POST", "/api/login", {{"user", std::string(129, 'a')}, {"password", "x"}},
                  {{"Content-Type", "application/json"}});
    CHECK(long_name.status == 400);
    CHECK(parse(long_name)["field"] == "user");

    // Bad JSON, wrong content type, unknown fields, missing fields.
    const std::map<std::string, std::string> json_ct{{"Content-Type", "application/json"}};
    auto raw = test::http_request(
        "127.0.0.1", anon.port, "POST", "/api/customers", "{not json",
        {{"Authorization", "Bearer " + admin.token}, {"Content-Type", "application/json"}});
    CHECK(raw.status == 400);
    CHECK(parse(raw)["title"] == "Bad Request");
    raw = test::http_request(
        "127.0.0.1", anon.port, "POST", "/api/customers", "name=x",
        {{"Authorization", "Bearer " + admin.token}, {"Content-Type", "application/x-www-form-urlencoded"}});
    CHECK(raw.status == 415);
    auto r = admin.call("POST", "/api/customers", {{"name", "Li Wei"}, {"colour", "red"}}, json_ct);
    CHECK(r.status == 400);
    CHECK(parse(r)["field"] == "colour");
    r = admin.call("POST", "/api/users",
                   {{"name", "tech1"}, {"role", "plumber"}, {"password", "long enough password"}}, json_ct);
    CHECK(r.status == 400);
    CHECK(parse(r)["field"] == "role");

    // Users of each role.
    for (const auto& [name, role] :
         std::vector<std::pair<std::string, std::string>>{{"office", "back_office"},
                                                          {"tech1", "technician"},
                                                          {"tech2", "technician"},
                                                          {"boss", "manager"}}) {
        r = admin.call("POST", "/api/users",
                       {{"name", name}, {"role", role}, {"password", "password of " + name}}, json_ct);
        REQUIRE_MESSAGE(r.status == 201, r.body);
    }
    Api office = login("office", "password of office");
    Api tech1 = login("tech1", "password of tech1");
    Api tech2 = login("tech2", "password of tech2");
    Api boss = login("boss", "password of boss");
    CHECK(office
              .call("POST", "/api/users", {{"name", "x1"}, {"role", "admin"}, {"password", "password of x1"}},
                    json_ct)
              .status == 403);
    CHECK(tech1.call("GET", "/api/customers").status == 403);

    // ---- customers and sites ----
    r = office.call("POST", "/api/customers",
                    {{"name", "王芳"},
                     {"phone", "+86 138 0000 1234"},
                     {"email", "wang.fang@example.cn"},
                     {"address", "上海市浦东新区 1 号"}},
                    json_ct);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    const auto customer = parse(r);
    const std::int64_t cid = customer["id"];
    const std::string etag = r.header("etag");
    CHECK(!etag.empty());
    CHECK(boss.call("POST", "/api/customers", {{"name", "x"}}, json_ct).status == 403);  // managers read only
    CHECK(boss.call("GET", "/api/customers/" + std::to_string(cid)).status == 200);
    // If-Match: missing → 428, stale → 412, right → 200 and a new ETag.
    CHECK(
        office.call("PATCH", "/api/customers/" + std::to_string(cid), {{"notes", "gate code 1234"}}, json_ct)
            .status == 428);
    auto headers = json_ct;
    headers["If-Match"] = "\"v999\"";
    CHECK(office.call("PATCH", "/api/customers/" + std::to_string(cid), {{"notes", "x"}}, headers).status ==
          412);
    headers["If-Match"] = etag;
    r = office.call("PATCH", "/api/customers/" + std::to_string(cid), {{"notes", "gate code 1234"}}, headers);
    CHECK_MESSAGE(r.status == 200, r.body);
    CHECK(r.header("etag") != etag);
    CHECK(office.call("PATCH", "/api/customers/" + std::to_string(cid), {{"notes", "lost update"}}, headers)
              .status == 412);
    // Search and pagination.
    for (int i = 0; i < 3; ++i)
        office.call("POST", "/api/customers", {{"name", "Customer " + std::to_string(i)}}, json_ct);
    auto page = parse(office.call("GET", "/api/customers?limit=2"));
    CHECK(page["items"].size() == 2);
    REQUIRE(page["next_cursor"].is_string());
    auto page2 =
        parse(office.call("GET", "/api/customers?limit=2&cursor=" + page["next_cursor"].get<std::string>()));
    CHECK(page2["items"].size() == 2);
    CHECK(page2["items"][0]["id"] != page["items"][0]["id"]);
    CHECK(parse(office.call("GET", "/api/customers?q=wang.fang"))["items"].size() == 1);
    CHECK(office.call("GET", "/api/customers?limit=0").status == 400);
    CHECK(office.call("GET", "/api/sites?limit=1000").status ==
          200);  // the largest page the web app asks for
    CHECK(office.call("GET", "/api/sites?limit=1001").status == 400);

    // ---- a gateway reports a fault before it is linked: unassigned queue ----
    {
        mqtt::ClientOptions o;
        o.server_uri = so.broker_uri;
        o.client_id = "gw-sh-01";
        sync::itest::IoThread io;
        std::unique_ptr<mqtt::Client> client;
        io.run([&] {
            auto created = mqtt::Client::create(io.context().get_executor(), o);
            REQUIRE(created.ok());
            client = std::move(*created);
            client->start();
        });
        REQUIRE(sync::itest::wait_until(
            [&] {
                bool c = false;
                io.run([&] { c = client->connected(); });
                return c;
            },
            10s));
        std::atomic<int> done{0};
        io.run([&] {
            client->publish(
                {protocol::topic_for("sh-01", protocol::MessageKind::ticket_event),
                 ticket_payload("sh-01", 1, "T-1", "inv1", domain::TicketEventKind::opened), 1, false},
                [&](Status) { ++done; });
        });
        // Telemetry of two batches; the second repeats one reading of the first (a replay after a restart),
        // which is stored once: the first value stands.
        using sync::test::sample;
        const TimePoint t = sync::test::t0();
        protocol::TelemetryBatch b2;
        b2.site_id = "sh-01";
        b2.seq = 2;
        b2.sent_at = t + 3min;
        b2.samples = {sample("inv1", t, 100), sample("inv1", t + 60s, 200), sample("inv1", t + 120s, 300),
                      sample("inv2", t + 90s, 50)};
        protocol::TelemetryBatch b3 = b2;
        b3.seq = 3;
        b3.sent_at = t + 4min;
        b3.samples = {sample("inv1", t + 120s, 999), sample("inv1", t + 180s, 400)};
        io.run([&] {
            for (const auto* b : {&b2, &b3}) {
                client->publish({protocol::topic_for("sh-01", protocol::MessageKind::telemetry), *protocol::encode(*b),
                                 1, false},
                                [&](Status) { ++done; });
            }
        });
        REQUIRE(sync::itest::wait_until([&] { return done.load() == 3; }, 10s));
        io.run([&] { client.reset(); });
    }
    REQUIRE(sync::itest::wait_until(
        [&] { return parse(office.call("GET", "/api/work-orders?unassigned_site=1"))["items"].size() == 1; },
        20s));
    auto wo = parse(office.call("GET", "/api/work-orders?unassigned_site=1"))["items"][0];
    const std::string wo_path = "/api/work-orders/" + std::to_string(wo["id"].get<std::int64_t>());
    CHECK(wo["site_id"] == "sh-01");
    CHECK(wo["state"] == "new");
    // Link the gateway's site to the customer.
    r = office.call("GET", "/api/sites/sh-01");
    REQUIRE(r.status == 200);
    headers = json_ct;
    headers["If-Match"] = r.header("etag");
    r = office.call(
        "PUT", "/api/sites/sh-01",
        {{"customer_id", cid},
         {"name", "Wang home"},
         {"time_zone", "Asia/Shanghai"},
         {"latitude", 31.2},
         {"longitude", 121.5},
         {"arrays", json::array({{{"name", "roof"}, {"kwp", 6.4}, {"tilt_deg", 25}, {"azimuth_deg", 180}}})}},
        headers);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    r = office.call("PUT", "/api/sites/sh-01", {{"time_zone", "Mars/Olympus"}},
                    {{"Content-Type", "application/json"}, {"If-Match", r.header("etag")}});
    CHECK(r.status == 400);
    CHECK(parse(r)["field"] == "time_zone");
    CHECK(parse(office.call("GET", "/api/work-orders?unassigned_site=1"))["items"].empty());
    // Clear-sky expectation from the site's location and arrays: a June day in Shanghai for 6.4 kWp.
    auto expected = parse(office.call("GET", "/api/sites/sh-01/expected?from=2026-06-20&to=2026-06-21"));
    REQUIRE(expected["days"].size() == 2);
    CHECK(expected["days"][0]["kwh"].get<double>() > 25.0);
    CHECK(expected["days"][0]["kwh"].get<double>() < 55.0);
    auto curve = parse(office.call("GET", "/api/sites/sh-01/expected?day=2026-06-21"));
    CHECK(curve["points"].size() == 289);
    CHECK(office.call("GET", "/api/sites/sh-01/expected?from=2026-06-21&to=2025-01-01").status == 400);
    CHECK(office.call("GET", "/api/sites/nowhere/expected?from=2026-06-21&to=2026-06-21").status == 404);
    CHECK(parse(office.call("GET", "/api/work-orders?customer_id=" + std::to_string(cid)))["items"].size() ==
          1);

    // ---- the work-order flow ----
    r = office.call("GET", wo_path);
    REQUIRE(r.status == 200);
    CHECK(parse(r)["customer"]["name"] == "王芳");
    CHECK(tech1.call("GET", wo_path).status == 404);  // not theirs yet
    headers = json_ct;
    headers["If-Match"] = r.header("etag");
    CHECK(office.call("PATCH", wo_path, {{"assignee", "office"}}, headers).status ==
          400);  // not a technician
    r = office.call("PATCH", wo_path, {{"assignee", "tech1"}}, headers);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(parse(r)["state"] == "assigned");
    CHECK(office.call("PATCH", wo_path, {{"state", "done"}}, headers).status == 412);  // stale ETag
    headers["If-Match"] = r.header("etag");
    CHECK(office.call("PATCH", wo_path, {{"due_at", "next tuesday"}}, headers).status == 400);
    r = office.call("PATCH", wo_path, {{"due_at", "2030-01-15T09:00:00Z"}}, headers);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(parse(r)["due_at"] == "2030-01-15T09:00:00.000Z");
    CHECK(tech2.call("GET", wo_path).status == 404);
    CHECK(parse(tech1.call("GET", "/api/work-orders"))["items"].size() == 1);
    CHECK(parse(tech2.call("GET", "/api/work-orders"))["items"].empty());
    r = tech1.call("GET", wo_path);
    headers["If-Match"] = r.header("etag");
    CHECK(tech1.call("PATCH", wo_path, {{"state", "closed"}}, headers).status !=
          200);  // technicians do not close
    r = tech1.call("PATCH", wo_path, {{"state", "in_progress"}}, headers);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    headers["If-Match"] = r.header("etag");
    CHECK(boss.call("POST", wo_path + "/notes", {{"text", "x"}}, json_ct).status == 403);
    r = tech1.call("POST", wo_path + "/notes",
                   {{"text", "String 2 connector burnt; replaced"},
                    {"parts", json::array({{{"part", "MC4 connector"}}})}},
                   json_ct);
    CHECK_MESSAGE(r.status == 201, r.body);
    r = tech1.call("PATCH", wo_path, {{"state", "done"}}, headers);
    REQUIRE_MESSAGE(r.status == 200, r.body);
    r = office.call("GET", wo_path);
    headers["If-Match"] = r.header("etag");
    CHECK(parse(r)["notes"].size() == 1);
    CHECK(parse(r)["history"].size() >= 4);
    r = office.call("PATCH", wo_path, {{"state", "closed"}}, headers);
    CHECK_MESSAGE(r.status == 200, r.body);
    CHECK(parse(r)["state"] == "closed");

    // Ticket commands go to the gateway through the broker.
    CHECK(
        office.call("POST", "/api/sites/sh-01/tickets/T-1/acknowledge", {{"note", "seen"}}, json_ct).status ==
        202);
    CHECK(
        office.call("POST", "/api/sites/sh-01/tickets/T-404/acknowledge", {{"note", "x"}}, json_ct).status ==
        404);
    CHECK(parse(office.call("GET", "/api/sites/sh-01/commands"))["items"].size() == 1);
    CHECK(parse(office.call("GET", "/api/tickets?site_id=sh-01"))["items"].size() == 1);
    CHECK(office.call("GET", "/api/sites/sh-01/telemetry?resolution=5min").status == 200);
    {
        // Raw readings in [from, to], in time order across devices, each once.
        const std::string raw_path = "/api/sites/sh-01/telemetry?resolution=raw&from=2016-07-19T08:01:00Z"
                                "&to=2016-07-19T08:03:00Z";
        auto items = parse(office.call("GET", raw_path))["items"];
        REQUIRE(items.size() == 4);
        CHECK(items[0]["t"] == "2016-07-19T08:01:00.000Z");
        CHECK(items[1]["device_id"] == "inv2");
        CHECK(items[1]["t"] == "2016-07-19T08:01:30.000Z");
        CHECK(items[2]["points"]["values"]["ac_power_w"] == 300);
        CHECK(items[2]["points"]["arrays"]["dc_voltage_v"].size() == 2);
        CHECK(items[3]["t"] == "2016-07-19T08:03:00.000Z");
        CHECK(items[3]["points"]["values"]["ac_power_w"] == 400);
        CHECK(parse(office.call("GET", raw_path))["truncated"] == false);
        items = parse(office.call("GET", raw_path + "&device=inv1&point=energy_total_wh"))["items"];
        REQUIRE(items.size() == 3);
        CHECK(items[0]["points"] == json{{"values", {{"energy_total_wh", 1020}}}});
        CHECK(parse(office.call("GET", raw_path + "&device=inv3"))["items"].empty());
    }
    CHECK(office.call("GET", "/api/sites/sh-01/telemetry?resolution=hourly").status == 400);
    CHECK(office.call("GET", "/api/sites/sh-01/telemetry?from=yesterday").status == 400);
    auto stats = parse(boss.call("GET", "/api/stats"));
    CHECK(stats["sites"] == 1);
    CHECK(stats.contains("sla"));
    CHECK(stats["expected_today_kwh"].is_number());
    CHECK(stats["sites_with_expectation"] == 1);
    CHECK(stats["expected_so_far_kwh"].get<double>() <= stats["expected_today_kwh"].get<double>() + 1e-9);
    CHECK(stats["expected_today_kwh"].get<double>() > 0.0);
    CHECK(office.call("DELETE", "/api/customers/" + std::to_string(cid)).status == 405);
    CHECK(office.call("GET", "/api/nothing-here").status == 404);

    // ---- OpenAPI: every documented path answers (not 404/405), with path parameters filled in ----
    auto doc = parse(anon.call("GET", "/api/openapi.json"));
    REQUIRE(doc.contains("paths"));
    CHECK(doc["openapi"] == "3.1.0");
    int checked = 0;
    for (const auto& [path, ops] : doc["paths"].items()) {
        std::string concrete = std::regex_replace(path, std::regex("\\{id\\}"), "1");
        concrete = std::regex_replace(concrete, std::regex("\\{site_id\\}"), "sh-01");
        concrete = std::regex_replace(concrete, std::regex("\\{[a-z_]+\\}"), "x");
        for (const auto& [method, op] : ops.items()) {
            std::string m = method;
            std::transform(m.begin(), m.end(), m.begin(), ::toupper);
            if (m != "GET") continue;  // writes were exercised above
            const auto res = admin.call(m, concrete);
            CAPTURE(concrete);
            CHECK(res.status != 405);
            ++checked;
        }
    }
    CHECK(checked >= 10);
    CHECK(doc["paths"].contains("/api/work-orders/{id}"));
    CHECK(doc["paths"]["/api/work-orders/{id}"].contains("patch"));

    // ---- login rate limit: the 6th wrong password in a row is refused without checking ----
    int last = 0;
    for (int i = 0; i < 6; ++i)
        last = anon.call("POST", "/api/login", {{"user", "boss"}, {"password", "nope"}}, json_ct).status;
    CHECK(last == 429);
    CHECK(anon.call("POST", "/api/login", {{"user", "boss"}, {"password", "password of boss"}}, json_ct)
              .status == 429);
    CHECK(server.stop() == 0);
}
