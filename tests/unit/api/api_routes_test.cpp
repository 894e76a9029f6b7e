// Route handlers through Router::handle, no sockets, no database file: when the repository under a route
// fails, the route answers with a problem+json (500, or 503 when the database is busy) and the router
// survives; a canned row comes out as the route's JSON.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pvfleet/api/api.hpp"
#include "pvfleet/storage/db.hpp"

using namespace pvfleet;
using nlohmann::json;

namespace {

constexpr TimePoint kNow{Millis{1'468'915'200'000}};  // 2016-07-19 08:00 UTC

// A connection whose statements all fail with `kind`, or all return `rows`; it counts what it was asked.
class ScriptedDb final : public storage::Db {
public:
    std::optional<ErrorKind> fail_with;
    storage::QueryResult rows;
    int statements = 0;

    [[nodiscard]] storage::Engine engine() const override { return storage::Engine::sqlite; }
    Result<storage::QueryResult> run(std::string_view, const storage::Params&) override {
        ++statements;
        if (fail_with) return Error{"database unavailable", *fail_with};
        return rows;
    }
    Status run_script(std::string_view) override { return fail(); }
    Status begin() override { return fail(); }
    Status commit() override { return fail(); }
    void rollback() noexcept override {}

private:
    Status fail() {
        if (fail_with) return Error{"database unavailable", *fail_with};
        return {};
    }
};

struct Api {
    // `role`: every request is logged in with it (the real hook reads the session from the database; nullopt
    // keeps that hook).
    explicit Api(std::optional<std::string> role = "back_office") {
        context.db = &db;
        context.clock = &clock;
        api::add_routes(router, context);
        if (!role) return;
        router.before = [role = *role](http::Request& req, const http::Route&) -> http::Checked<> {
            req.user = "someone";
            req.role = role;
            return {};
        };
    }
    http::Response call(const std::string& method, const std::string& target, const std::string& body = {}) {
        http::Request req;
        req.method = method;
        req.target = target;
        REQUIRE(http::parse_target(target, req.path, req.query));
        req.body = body;
        if (method != "GET") req.headers["content-type"] = "application/json";
        if (method == "PATCH") req.headers["if-match"] = "\"v1\"";
        return router.handle(req);
    }
    ScriptedDb db;
    ManualClock clock{kNow};
    api::ApiContext context;
    http::Router router;
};

// Routes whose first step reads the database (as the back office, who passes the site checks without one).
const std::vector<std::pair<std::string, std::string>> kReadingRoutes{
    {"GET", "/api/sites/s1/telemetry?resolution=raw"},
    {"GET", "/api/sites/s1/telemetry?resolution=5min"},
    {"GET", "/api/sites/s1/telemetry?resolution=day&device=inv1&point=ac_power_w"},
    {"GET", "/api/sites/s1/status"},
    {"GET", "/api/tickets?site_id=s1&state=open"},
    {"GET", "/api/sites/s1/commands"},
    {"GET", "/api/work-orders?sort=urgency&open=1"},
    {"GET", "/api/work-orders?site_id=s1&cursor=7"},
    {"GET", "/api/work-orders/7"},
    {"PATCH", "/api/work-orders/7"},
    {"POST", "/api/work-orders/7/notes"},
    {"POST", "/api/sites/s1/tickets/t1/acknowledge"},
    {"POST", "/api/sites/s1/tickets/t1/resolve"},
};

std::string body_for(const std::string& method, const std::string& path) {
    if (method == "PATCH") return R"({"state":"assigned"})";
    if (path.find("/notes") != std::string::npos) return R"({"text":"replaced the inverter"})";
    return method == "POST" ? "{}" : "";
}

}  // namespace

TEST_CASE("api routes: a failing repository is a 500 problem without internals, for every reading route") {
    Api api;
    api.db.fail_with = ErrorKind::io;
    for (const auto& [method, target] : kReadingRoutes) {
        CAPTURE(method);
        CAPTURE(target);
        const int before = api.db.statements;
        const auto r = api.call(method, target, body_for(method, target));
        CHECK(api.db.statements > before);  // the route did reach its repository
        CHECK(r.status == 500);
        CHECK(r.content_type == "application/problem+json");
        const json j = json::parse(r.body);
        CHECK(j.at("title") == "Internal Server Error");
        CHECK(j.at("detail") == "the server could not complete the request");
        CHECK(r.body.find("database unavailable") == std::string::npos);
    }
}

TEST_CASE("api routes: a busy database is a 503 problem") {
    Api api;
    api.db.fail_with = ErrorKind::busy;
    for (const auto& [method, target] : kReadingRoutes) {
        CAPTURE(target);
        const auto r = api.call(method, target, body_for(method, target));
        CHECK(r.status == 503);
        CHECK(r.content_type == "application/problem+json");
        CHECK(json::parse(r.body).at("title") == "Service Unavailable");
    }
}

TEST_CASE("api routes: a technician's site check fails with the repository, before anything else is read") {
    Api api("technician");
    api.db.fail_with = ErrorKind::io;
    for (const std::string target :
         {"/api/sites/s1/telemetry", "/api/sites/s1/status", "/api/sites/s1/expected"}) {
        CAPTURE(target);
        api.db.statements = 0;
        const auto r = api.call("GET", target);
        CHECK(r.status == 500);
        CHECK(api.db.statements == 1);
    }
}

TEST_CASE("api routes: the dashboard shows what it can when its queries fail") {
    Api api("manager");
    api.db.fail_with = ErrorKind::io;
    const auto r = api.call("GET", "/api/stats");
    REQUIRE(r.status == 200);
    const json j = json::parse(r.body);
    CHECK(j.at("sites") == 0);
    CHECK(j.at("sites_offline") == 0);
    CHECK(j.at("open_work_orders_by_severity").at("critical") == 0);
    CHECK(j.at("sla") == json{{"green", 0}, {"yellow", 0}, {"red", 0}});
    CHECK(j.at("mttr_hours").is_null());
    CHECK(j.at("generation_today_kwh") == 0.0);
    CHECK(j.at("expected_today_kwh").is_null());
    CHECK(j.at("at") == "2016-07-19T08:00:00.000Z");
}

TEST_CASE("api routes: the session check fails with the database as a 500, not a crash") {
    Api api(std::nullopt);
    api.db.fail_with = ErrorKind::io;
    http::Request req;
    req.method = "GET";
    req.target = req.path = "/api/tickets";
    req.headers["authorization"] = "Bearer " + std::string(64, 'a');  // well-formed: it is looked up
    const auto r = api.router.handle(req);
    CHECK(r.status == 500);
    CHECK(r.content_type == "application/problem+json");
}

TEST_CASE("api routes: rows from the repository become the route's JSON") {
    Api api;
    storage::Row row;
    row.cols = {std::string("c-1"),
                std::string("ack_ticket"),
                std::int64_t{1'468'915'200'000},
                std::string("office"),
                std::string("acked"),
                std::string(""),
                nullptr};
    api.db.rows.rows = {row};
    const auto r = api.call("GET", "/api/sites/s1/commands");
    REQUIRE(r.status == 200);
    const json j = json::parse(r.body);
    REQUIRE(j.at("items").size() == 1);
    const json& c = j.at("items").at(0);
    CHECK(c.at("command_id") == "c-1");
    CHECK(c.at("issued_at") == "2016-07-19T08:00:00.000Z");
    CHECK(c.at("issued_by") == "office");
    CHECK(c.at("status") == "acked");
    CHECK(c.at("acked_at").is_null());
}

TEST_CASE("api routes: a refusal keeps its status and headers through the router (401 before any statement)") {
    Api api(std::nullopt);
    http::Request req;
    req.method = "GET";
    req.target = req.path = "/api/tickets";
    const auto r = api.router.handle(req);
    CHECK(r.status == 401);
    CHECK(r.headers.at("WWW-Authenticate") == "Bearer realm=\"pvfleet\"");
    CHECK(api.db.statements == 0);
}
