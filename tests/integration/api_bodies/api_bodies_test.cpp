// Request bodies and roles of the REST API, through Router::handle over a real SQLite file (no sockets, so
// every route × role and every member × wrong JSON type is cheap to try). Both tables come from the router's
// own route list and docs/api.md, so a route added later without roles or an example body fails here.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "fixture.hpp"

using namespace pvfleet;
using api_test::Fixture;
using nlohmann::json;

namespace {

bool is_write(const std::string& method) {
    return method == "POST" || method == "PUT" || method == "PATCH" || method == "DELETE";
}

json body_of(const http::Response& r) {
    return json::parse(r.body, nullptr, false);
}

std::string field_of(const http::Response& r) {
    const json j = body_of(r);
    return j.is_object() && j.contains("field") && j["field"].is_string() ? j["field"].get<std::string>()
                                                                          : "";
}

std::string describe(const http::Response& r) {
    return std::to_string(r.status) + " " + r.content_type + " " + r.body;
}

// A documented request body: docs/api.md, section "Request bodies". A route whose body comes in kinds shows
// one example of each (the first is `example`); a free-form member (a JSON merge patch) takes any JSON
// inside, so only the member itself is given wrong types.
struct Documented {
    bool has_body = true;
    json example;
    std::vector<json> examples;
    std::set<std::string> nullable;
    std::set<std::string> free_form;
};

// The comma-separated names after `label` on an item's line, up to the next " — " or the end.
std::set<std::string> names_after(const std::string& rest, const std::string& label) {
    std::set<std::string> out;
    const auto n = rest.find(label);
    if (n == std::string::npos) return out;
    std::string list = rest.substr(n + label.size());
    list = list.substr(0, list.find(" — "));
    std::istringstream names(list);
    std::string name;
    while (std::getline(names, name, ',')) {
        name.erase(0, name.find_first_not_of(' '));
        name.erase(name.find_last_not_of(" )") + 1);
        out.insert(name);
    }
    return out;
}

std::map<std::string, Documented> documented_bodies() {
    std::istringstream in(test::read_file(test::source_dir() / "docs" / "api.md"));
    const std::regex item(R"(^- `(POST|PUT|PATCH|DELETE) (/api/[^`]*)`(.*)$)");
    std::map<std::string, Documented> out;
    std::string line;
    std::string current;
    bool in_json = false;
    std::string text;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!in_json && std::regex_match(line, m, item)) {
            current = m[1].str() + " " + m[2].str();
            Documented d;
            const std::string rest = m[3].str();
            d.has_body = rest.find("no body") == std::string::npos;
            d.nullable = names_after(rest, "nullable: ");
            d.free_form = names_after(rest, "free-form: ");
            out[current] = d;
        } else if (!current.empty() && line.find("```json") != std::string::npos) {
            in_json = true;
            text.clear();
        } else if (in_json && line.find("```") != std::string::npos) {
            in_json = false;
            auto& d = out[current];
            d.examples.push_back(json::parse(text));
            d.example = d.examples.front();
        } else if (in_json) {
            text += line + "\n";
        }
    }
    return out;
}

// The path with its parameters filled from the fixture's records (site-a and its work order, ticket, device).
std::string concrete_path(const Fixture& f, const std::string& pattern) {
    std::string path = pattern;
    auto fill = [&](const std::string& param, const std::string& value) {
        for (auto p = path.find(param); p != std::string::npos; p = path.find(param))
            path.replace(p, param.size(), value);
    };
    fill("{id}", pattern.rfind("/api/customers", 0) == 0        ? std::to_string(f.customer_id)
                 : pattern.rfind("/api/leads/", 0) == 0         ? std::to_string(f.lead_id)
                 : pattern.rfind("/api/lead-channels/", 0) == 0 ? std::to_string(f.channel_id)
                 : pattern.rfind("/api/projects/", 0) == 0      ? std::to_string(f.project_id)
                 : pattern.rfind("/api/inbox/", 0) == 0         ? std::to_string(f.notification_id)
                 : pattern.rfind("/api/webhooks/", 0) == 0      ? std::to_string(f.webhook_id)
                                                           : std::to_string(f.order_of_site.at("site-a")));
    fill("{milestone_id}", std::to_string(f.milestone_id));
    fill("{instalment_id}", "1");  // the first instalment the sweep's POST makes (the fixture has none)
    fill("{instalment_id}",
         "1");  // the first instalment the sweep's POST makes (the fixture's contract has none)
    fill("{name}", "tech");
    fill("{site_id}", "site-a");
    fill("{ticket_id}", f.ticket_of_site.at("site-a"));
    fill("{device_id}", "inv1");
    fill("{serial}", f.certificate_serial);
    fill("{sha256}", std::string(64, 'a'));
    REQUIRE_MESSAGE(path.find('{') == std::string::npos,
                    "a path parameter the test cannot fill: " << pattern);
    return path;
}

// The ETag a PUT/PATCH needs: a stale If-Match on the valid body answers 412 with the current one.
std::map<std::string, std::string> current_etag(Fixture& f, const std::string& method,
                                                const std::string& path, const json& example) {
    if (method != "PUT" && method != "PATCH") return {};
    auto r = f.call(method, path, "admin", example.dump(), {{"if-match", "\"v0\""}});
    if (r.status != 412 || r.headers.count("ETag") == 0) return {};
    return {{"if-match", r.headers.at("ETag")}};
}

// Every node of the example (not the root), by JSON pointer.
void members(const json& j, const json::json_pointer& at, std::vector<json::json_pointer>& out) {
    if (j.is_object())
        for (const auto& [k, v] : j.items()) {
            out.push_back(at / k);
            members(v, at / k, out);
        }
    else if (j.is_array())
        for (std::size_t i = 0; i < j.size(); ++i) {
            out.push_back(at / i);
            members(j[i], at / i, out);
        }
}

// A replacement value written as JSON text (1e400 cannot be a json value: it is spliced into the text).
struct Replacement {
    std::string text;
    // Whether a member whose example value is `v` takes this JSON type at all (then only "no 500" is asked).
    bool (*same_type)(const json& v);
};
const std::vector<Replacement> kReplacements{
    {"null", [](const json&) { return false; }},  // nullable members: see Documented::nullable
    {"true", [](const json& v) { return v.is_boolean(); }},
    {"0", [](const json& v) { return v.is_number(); }},
    {"1.5", [](const json& v) { return v.is_number_float(); }},
    {"1e400", [](const json&) { return false; }},  // never a finite double
    {"-1e400", [](const json&) { return false; }},
    {"\"string\"", [](const json& v) { return v.is_string(); }},
    {"[]", [](const json& v) { return v.is_array(); }},
    {"{}", [](const json& v) { return v.is_object(); }},
};

}  // namespace

TEST_CASE(
    "api bodies: every write route has a documented example, and every wrong JSON type of every member "
    "is a 400 naming its path") {
    auto docs = documented_bodies();
    REQUIRE(docs.count("POST /api/login") == 1);
    Fixture f(docs.at("POST /api/login").example.at("password").get<std::string>());
    // The renewal's documented members, with values bound to this run's CA and keys.
    if (docs.count("POST /api/renew") == 1) {
        for (const auto& [member, value] : docs.at("POST /api/renew").example.items())
            CHECK_MESSAGE(f.renew_example.contains(member), "POST /api/renew: " << member << " is no member");
        docs.at("POST /api/renew").example = f.renew_example;
        docs.at("POST /api/renew").examples = {f.renew_example};
    }

    std::set<std::string> routes;
    for (const auto& route : f.router.routes())
        if (is_write(route.method)) {
            const std::string key = route.method + " " + route.pattern;
            routes.insert(key);
            CHECK_MESSAGE(docs.count(key) == 1,
                          key << " has no example body in docs/api.md (Request bodies)");
        }
    for (const auto& [key, d] : docs) {
        CHECK_MESSAGE(routes.count(key) == 1, "docs/api.md documents a body for " << key << ", not a route");
        for (const auto& example : d.examples)
            CHECK_MESSAGE((!d.has_body || example.is_object()), key << ": the example must be a JSON object");
    }

    int wrong_types = 0;
    for (const auto& route : f.router.routes()) {
        const std::string key = route.method + " " + route.pattern;
        if (!is_write(route.method) || docs.count(key) == 0 || !docs.at(key).has_body) continue;
        const Documented& d = docs.at(key);
        const std::string path = concrete_path(f, route.pattern);
        CAPTURE(key);
        for (const json& example : d.examples) {
            CAPTURE(example.dump());
            {
                auto r = f.call(route.method, path, "admin", example.dump(),
                                current_etag(f, route.method, path, example));
                CHECK_MESSAGE((r.status >= 200 && r.status < 300), "the documented example: " << describe(r));
            }
            std::vector<json::json_pointer> pointers;
            members(example, json::json_pointer(), pointers);
            for (const auto& pointer : pointers) {
                const std::string field = pointer.to_string().substr(1);
                const bool inside_free_form =
                    std::any_of(d.free_form.begin(), d.free_form.end(),
                                [&](const std::string& m) { return field.rfind(m + "/", 0) == 0; });
                if (inside_free_form) continue;
                const json& original = example.at(pointer);
                for (const auto& replacement : kReplacements) {
                    json mutated = example;
                    mutated[pointer] = "@@replacement@@";
                    std::string text = mutated.dump();
                    text.replace(text.find("\"@@replacement@@\""), 17, replacement.text);
                    const bool taken = replacement.text == "null" ? d.nullable.count(field) == 1
                                                                  : replacement.same_type(original);
                    CAPTURE(text);
                    auto r = f.call(route.method, path, "admin", text,
                                    current_etag(f, route.method, path, example));
                    if (taken) {
                        // A value of the right type may be refused on its merits, but never with a 500, and a
                        // 400 names this member (or one inside it).
                        CHECK_MESSAGE(r.status < 500, describe(r));
                        if (r.status == 400) {
                            const std::string named = field_of(r);
                            CHECK_MESSAGE((named == field || named.rfind(field + "/", 0) == 0), describe(r));
                        }
                        continue;
                    }
                    ++wrong_types;
                    CHECK_MESSAGE(r.status == 400, describe(r));
                    CHECK_MESSAGE(r.content_type == "application/problem+json", describe(r));
                    CHECK_MESSAGE(field_of(r) == field, describe(r));
                }
            }
        }
    }
    MESSAGE(wrong_types << " wrong-typed bodies tried");
    CHECK(wrong_types > 200);
}

TEST_CASE("api roles: every route × role from the route table; a refused request changes nothing") {
    Fixture f;
    int tried = 0;
    for (const auto& route : f.router.routes()) {
        const std::string path = concrete_path(f, route.pattern);
        const std::string body = is_write(route.method) ? "{}" : "";
        CAPTURE(route.method + " " + path);
        if (route.info.roles.empty()) {
            // Open routes (login, health, the API description): no session needed, none refused.
            auto r = f.call(route.method, path, "", body);
            CHECK_MESSAGE((r.status != 401 && r.status != 403), describe(r));
            continue;
        }
        {
            const auto before = f.fingerprint();
            auto r = f.call(route.method, path, "", body);
            CHECK_MESSAGE(r.status == 401, describe(r));
            CHECK(f.fingerprint() == before);
        }
        for (const auto& [role, user] : api_test::kUserOfRole) {
            CAPTURE(role);
            const bool declared =
                std::find(route.info.roles.begin(), route.info.roles.end(), role) != route.info.roles.end();
            const auto before = f.fingerprint();
            auto r = f.call(route.method, path, user, body);
            ++tried;
            if (declared) {
                // The fixture's technician has an open work order at site-a, the site every path names.
                CHECK_MESSAGE((r.status != 401 && r.status != 403), describe(r));
            } else {
                CHECK_MESSAGE(r.status == 403, describe(r));
                CHECK(f.fingerprint() == before);
            }
            // The session's own state (logging out, reading one's inbox, one's notification settings) is every
            // role's to change.
            if (role == "manager" && is_write(route.method) && route.pattern != "/api/logout" &&
                route.pattern.rfind("/api/inbox", 0) != 0 && route.pattern.rfind("/api/me/", 0) != 0)
                CHECK_MESSAGE(!declared, "the read-only manager is declared on a write route");
        }
    }
    CHECK(tried > 80);
}

TEST_CASE("api roles: technicians act on a gateway's tickets only where a work order of theirs is open") {
    Fixture f;
    const std::string note = R"({"note": "on my way"})";
    for (const std::string action : {"acknowledge", "resolve"}) {
        CAPTURE(action);
        // site-b: tech2's order; site-c: nobody's; site-d: tech's, but cancelled; site-x: no such site.
        for (const std::string site : {"site-b", "site-c", "site-d", "site-x"}) {
            CAPTURE(site);
            const std::string ticket = f.ticket_of_site.count(site) ? f.ticket_of_site.at(site) : "t-1";
            const auto before = f.fingerprint();
            auto r = f.call("POST", "/api/sites/" + site + "/tickets/" + ticket + "/" + action, "tech", note);
            CHECK_MESSAGE(r.status == 403, describe(r));
            CHECK(f.fingerprint() == before);
        }
        const std::size_t sent = f.sent.size();
        auto mine = f.call("POST", "/api/sites/site-a/tickets/t-site-a/" + action, "tech", note);
        CHECK_MESSAGE(mine.status == 202, describe(mine));
        REQUIRE(f.sent.size() == sent + 1);
        CHECK(f.sent.back().site_id == "site-a");
        auto missing = f.call("POST", "/api/sites/site-a/tickets/t-none/" + action, "tech", note);
        CHECK_MESSAGE(missing.status == 404, describe(missing));
        // The back office acts on any site.
        auto office = f.call("POST", "/api/sites/site-c/tickets/t-site-c/" + action, "office", note);
        CHECK_MESSAGE(office.status == 202, describe(office));
        CHECK(f.sent.size() == sent + 2);
    }
    // Nor do they record visits (serial swaps) on their order once it is over.
    const auto before = f.fingerprint();
    auto late =
        f.call("POST", "/api/work-orders/" + std::to_string(f.order_of_site.at("site-d")) + "/notes", "tech",
               R"({"text": "x", "parts": [{"part": "fan", "device_id": "inv1", "new_serial": "9"}]})");
    CHECK_MESSAGE(late.status == 403, describe(late));
    CHECK(f.fingerprint() == before);
}

TEST_CASE("api roles: technicians read only the sites of their work orders") {
    Fixture f;
    const std::vector<std::string> reads{"", "/devices", "/status", "/telemetry", "/expected?day=2016-07-19"};
    for (const auto& suffix : reads) {
        CAPTURE(suffix);
        for (const std::string site : {"site-b", "site-c"}) {
            auto r = f.call("GET", "/api/sites/" + site + suffix, "tech");
            CHECK_MESSAGE(r.status == 404, describe(r));
            CHECK_MESSAGE(r.body.find("among your work orders") != std::string::npos, describe(r));
            auto office = f.call("GET", "/api/sites/" + site + suffix, "office");
            CHECK_MESSAGE(office.body.find("among your work orders") == std::string::npos, describe(office));
        }
        // Their open order's site, and the site of an order of theirs that is over (its history stays
        // theirs).
        for (const std::string site : {"site-a", "site-d"}) {
            auto r = f.call("GET", "/api/sites/" + site + suffix, "tech");
            CHECK_MESSAGE(r.body.find("among your work orders") == std::string::npos, describe(r));
        }
    }
    CHECK(f.call("GET", "/api/sites/site-a", "tech").status == 200);
    CHECK(f.call("GET", "/api/sites/site-a/devices", "tech").status == 200);
    // Other technicians' orders stay out of reach, for reads and writes.
    const std::string other = std::to_string(f.order_of_site.at("site-b"));
    CHECK(f.call("GET", "/api/work-orders/" + other, "tech").status == 404);
    CHECK(f.call("POST", "/api/work-orders/" + other + "/notes", "tech", R"({"text": "x"})").status == 404);
}

TEST_CASE("api roles: a read-only role's write is refused whole, and a no-op PATCH writes nothing") {
    Fixture f;
    const std::int64_t id = f.order_of_site.at("site-a");
    const std::string path = "/api/work-orders/" + std::to_string(id);
    auto etag = [&] { return f.call("GET", path, "admin").headers.at("ETag"); };
    const std::int64_t version = f.order_version(id);

    for (const std::string body : {"{}", R"({"reason": "just looking"})", R"({"state": "assigned"})"}) {
        CAPTURE(body);
        const auto before = f.fingerprint();
        auto r = f.call("PATCH", path, "manager", body, {{"if-match", etag()}});
        CHECK_MESSAGE(r.status == 403, describe(r));
        CHECK(f.fingerprint() == before);
        // Everyone else: a no-op answers the unchanged order and its unchanged ETag.
        for (const std::string user : {"admin", "office", "tech"}) {
            CAPTURE(user);
            auto ok = f.call("PATCH", path, user, body, {{"if-match", etag()}});
            CHECK_MESSAGE(ok.status == 200, describe(ok));
            CHECK(ok.headers.at("ETag") == "\"v" + std::to_string(version) + "\"");
            CHECK(body_of(ok).value("version", 0) == version);
            CHECK(f.fingerprint() == before);
        }
    }
    CHECK(f.call("POST", path + "/notes", "manager", R"({"text": "x"})").status == 403);

    // A real change still writes: a new version and one audit entry.
    const auto audit = f.count("SELECT COUNT(*) FROM audit_log WHERE entity = 'work_order'");
    auto moved =
        f.call("PATCH", path, "office", R"({"due_at": "2016-08-01T00:00:00Z"})", {{"if-match", etag()}});
    CHECK_MESSAGE(moved.status == 200, describe(moved));
    CHECK(f.order_version(id) == version + 1);
    CHECK(f.count("SELECT COUNT(*) FROM audit_log WHERE entity = 'work_order'") == audit + 1);

    // A PUT of a site with its current values is a no-op too.
    auto site = f.call("GET", "/api/sites/site-a", "office");
    REQUIRE(site.status == 200);
    const auto before = f.fingerprint();
    auto same = f.call("PUT", "/api/sites/site-a", "office",
                       R"({"name": ")" + body_of(site)["name"].get<std::string>() + "\"}",
                       {{"if-match", site.headers.at("ETag")}});
    CHECK_MESSAGE(same.status == 200, describe(same));
    CHECK(same.headers.at("ETag") == site.headers.at("ETag"));
    CHECK(f.fingerprint() == before);
    // And an empty PATCH of a customer or a device.
    const std::string customer = "/api/customers/" + std::to_string(f.customer_id);
    auto c = f.call("PATCH", customer, "office", "{}",
                    {{"if-match", f.call("GET", customer, "office").headers.at("ETag")}});
    CHECK_MESSAGE(c.status == 200, describe(c));
    auto d = f.call("PATCH", "/api/sites/site-a/devices/inv1", "office", "{}", {{"if-match", "\"v1\""}});
    CHECK_MESSAGE(d.status == 200, describe(d));
    CHECK(f.fingerprint() == before);
}

TEST_CASE("api bodies: the issue's examples") {
    Fixture f;
    const std::string order = "/api/work-orders/" + std::to_string(f.order_of_site.at("site-a"));
    auto expect_field = [&](const http::Response& r, const std::string& field) {
        CHECK_MESSAGE(r.status == 400, describe(r));
        CHECK_MESSAGE(field_of(r) == field, describe(r));
    };
    expect_field(f.call("POST", order + "/notes", "tech",
                        R"({"text": "x", "parts": [{"part": "fan", "device_id": 7, "new_serial": "1"}]})"),
                 "parts/0/device_id");
    expect_field(
        f.call("POST", order + "/notes", "tech",
               R"({"text": "x", "parts": [{"part": "fan", "device_id": "inv1", "new_serial": {}}]})"),
        "parts/0/new_serial");
    auto etag = f.call("GET", order, "admin").headers.at("ETag");
    expect_field(
        f.call("PATCH", order, "admin", R"({"state": "in_progress", "reason": 5})", {{"if-match", etag}}),
        "reason");
    auto site = f.call("GET", "/api/sites/site-a", "admin").headers.at("ETag");
    expect_field(f.call("PUT", "/api/sites/site-a", "admin", R"({"latitude": 1e400, "longitude": 13.4})",
                        {{"if-match", site}}),
                 "latitude");
    expect_field(f.call("PUT", "/api/sites/site-a", "admin", R"({"arrays": [{"kwp": 5.0}, {"kwp": -1e400}]})",
                        {{"if-match", site}}),
                 "arrays/1/kwp");
    expect_field(f.call("PUT", "/api/sites/site-a", "admin", R"({"latitude": 91.0, "longitude": 13.4})",
                        {{"if-match", site}}),
                 "latitude");
    std::string long_note = R"({"text": ")" + std::string(10'001, 'x') + "\"}";
    expect_field(f.call("POST", order + "/notes", "tech", long_note), "text");
}

TEST_CASE("api bodies: a config rollout — members named, both kinds listed, the patch sent as set_config") {
    Fixture f;
    auto expect = [&](const http::Response& r, int status, const std::string& field,
                      const std::string& detail) {
        CHECK_MESSAGE(r.status == status, describe(r));
        CHECK_MESSAGE(field_of(r) == field, describe(r));
        const json j = body_of(r);
        CHECK_MESSAGE(j.value("detail", "").find(detail) != std::string::npos, describe(r));
    };
    const json valid =
        json::parse(R"({"kind": "config", "patch": {"poll": {"slow_s": 600}}, "config_version": "fleet-1",
        "channel": "stable", "stages": [{"sites": ["site-a", "site-b"]}, {"percent": 100}], "max_failure_percent": 20,
        "max_concurrent": 1, "start_delay_max_s": 0})");
    auto with = [&](const std::function<void(json&)>& change) {
        json b = valid;
        change(b);
        return f.call("POST", "/api/rollouts", "admin", b.dump());
    };
    const auto before = f.fingerprint();
    expect(with([](json& b) { b["patch"]["site_id"] = "x"; }), 400, "patch/site_id",
           "patch/site_id: may not be changed by a fleet patch");
    expect(with([](json& b) { b["patch"]["config_version"] = "x"; }), 400, "patch/config_version",
           "config_version");
    expect(with([](json& b) { b["patch"] = json::object(); }), 400, "patch", "at least one key");
    expect(with([](json& b) { b["patch"] = json::array(); }), 400, "patch", "expected an object");
    expect(with([](json& b) { b.erase("patch"); }), 400, "patch", "required");
    expect(with([](json& b) { b.erase("config_version"); }), 400, "config_version", "required");
    expect(with([](json& b) { b["patch"]["pad"] = std::string(70000, 'x'); }), 400, "patch",
           "65536-byte limit");
    expect(with([](json& b) {
               b["stages"][0]["sites"] = {"site-a", "site-b", "site-c", "x"};
           }),
           400, "stages/0/sites/3", "no site 'x'");
    expect(with([](json& b) { b["version"] = "0.2.0"; }), 400, "version", "not a member of a config rollout");
    expect(with([](json& b) { b["max_concurrent_downloads"] = 3; }), 400, "max_concurrent_downloads",
           "not a member of a config rollout");
    expect(with([](json& b) { b["kind"] = "firmware"; }), 400, "kind", "software or config");
    expect(with([](json& b) { b["max_concurrent"] = 0; }), 400, "max_concurrent", "1..10000");
    CHECK(f.fingerprint() == before);
    CHECK(f.count("SELECT COUNT(*) FROM rollouts") == 0);
    // Only an admin starts one.
    CHECK(f.call("POST", "/api/rollouts", "office", valid.dump()).status == 403);

    // Created: the first stage's first site gets the patch as a set_config at once (no start delay, one at a
    // time), the second waits for room.
    auto created = f.call("POST", "/api/rollouts", "admin", valid.dump());
    REQUIRE_MESSAGE(created.status == 201, describe(created));
    const json o = body_of(created);
    CHECK(o["kind"] == "config");
    CHECK(o["patch"] == valid["patch"]);
    CHECK(o["config_version"] == "fleet-1");
    CHECK(o["max_concurrent"] == 1);
    CHECK_FALSE(o.contains("max_concurrent_downloads"));
    CHECK(o["counts"]["applying"] == 1);
    CHECK(o["counts"]["pending"] == 1);
    REQUIRE(f.sent.size() == 1);
    const auto* set = std::get_if<protocol::SetConfigCommand>(&f.sent[0].body);
    REQUIRE(set != nullptr);
    CHECK(json::parse(set->patch_json) == valid["patch"]);
    CHECK(set->config_version == "fleet-1");
    // A second config rollout on the channel: 409; a software one beside it: created.
    CHECK(f.call("POST", "/api/rollouts", "admin", valid.dump()).status == 409);
    auto software =
        f.call("POST", "/api/rollouts", "admin",
               R"({"version": "0.2.0", "stages": [{"sites": ["site-c"]}], "start_delay_max_s": 0})");
    REQUIRE_MESSAGE(software.status == 201, describe(software));
    CHECK(body_of(software)["kind"] == "software");
    CHECK(body_of(software)["max_concurrent_downloads"] == 20);
    CHECK(body_of(software)["max_concurrent"] == 20);
    expect(f.call("POST", "/api/rollouts", "admin",
                  R"({"version": "0.2.0", "patch": {"poll": {}}, "stages": [{"percent": 10}]})"),
           400, "patch", "not a member of a software rollout");

    // Both kinds in the list (newest first) and the detail, for the web view; back office reads.
    auto list = f.call("GET", "/api/rollouts", "office");
    REQUIRE(list.status == 200);
    const json items = body_of(list)["items"];
    REQUIRE(items.size() == 2);
    CHECK(items[0]["kind"] == "software");
    CHECK(items[0]["version"] == "0.2.0");
    CHECK(items[1]["kind"] == "config");
    CHECK(items[1]["config_version"] == "fleet-1");
    auto detail = f.call("GET", "/api/rollouts/" + std::to_string(o["id"].get<std::int64_t>()), "office");
    REQUIRE(detail.status == 200);
    const json d = body_of(detail);
    CHECK(d["kind"] == "config");
    REQUIRE(d["sites"].size() == 2);
    CHECK(d["sites"][0]["site_id"] == "site-a");
    CHECK(d["sites"][0]["state"] == "applying");
    CHECK(d["sites"][0]["reason"] == "set_config sent");
    CHECK(d["sites"][1]["state"] == "pending");
}
