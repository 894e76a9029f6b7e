// The leads' routes through Router::handle over a real SQLite file: a sales rep reaches only their own leads,
// the public capture route's key, limits and audited refusals, touches and the SLA flag, the import.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "fixture.hpp"

using namespace pvfleet;
using api_test::Fixture;
using nlohmann::json;

namespace {

json body(const http::Response& r) {
    return json::parse(r.body, nullptr, false);
}

std::string shown(const http::Response& r) {
    return std::to_string(r.status) + " " + r.body;
}

const std::string kForm =
    R"({"name": "Paula Public", "phone": "+49 30 9876543", "email": "paula@example.org", "postcode": "10115",
        "consent_contact": true, "utm_source": "newsletter", "message": "Quote please"})";

}  // namespace

TEST_CASE("api leads: sales reps see and change only their own leads; the back office sees all") {
    Fixture f;
    // sam's lead; another lead of nobody's.
    auto created =
        f.call("POST", "/api/leads", "office", R"({"name": "Otto Other", "phone": "+49 89 7654321"})");
    REQUIRE_MESSAGE(created.status == 201, shown(created));
    const std::string other = "/api/leads/" + std::to_string(body(created)["lead_id"].get<std::int64_t>());
    const std::string mine = "/api/leads/" + std::to_string(f.lead_id);

    CHECK(f.call("GET", mine, "sam").status == 200);
    CHECK(f.call("GET", other, "sam").status == 404);
    auto listed = body(f.call("GET", "/api/leads", "sam"));
    REQUIRE(listed["items"].size() == 1);
    CHECK(listed["items"][0]["id"] == f.lead_id);
    CHECK(body(f.call("GET", "/api/leads", "office"))["items"].size() == 2);
    CHECK(body(f.call("GET", "/api/leads?unassigned=1", "manager"))["items"].size() == 1);

    // A rep logs a touch on their lead, not on another's; nor may they reassign.
    CHECK(f.call("POST", other + "/touches", "sam", R"({"kind": "call", "outcome": "reached"})").status ==
          404);
    auto touch =
        f.call("POST", mine + "/touches", "sam",
               R"({"kind": "call", "outcome": "scheduled", "next_step_on": "2016-07-22", "notes": "visit"})");
    CHECK_MESSAGE(touch.status == 201, shown(touch));
    auto lead = f.call("GET", mine, "sam");
    CHECK(body(lead)["status"] == "contacted");
    CHECK(body(lead)["touches"].size() == 1);
    CHECK(body(lead)["sla"]["reason"] == "next_step");
    auto reassign =
        f.call("PATCH", mine, "sam", R"({"assignee": null})", {{"if-match", lead.headers.at("ETag")}});
    CHECK(reassign.status == 403);
    auto qualify =
        f.call("PATCH", mine, "sam", R"({"status": "qualified"})", {{"if-match", lead.headers.at("ETag")}});
    CHECK_MESSAGE(qualify.status == 200, shown(qualify));
    // The back office assigns the queue's lead; only a sales rep can take it.
    auto etag = f.call("GET", other, "office").headers.at("ETag");
    auto to_tech = f.call("PATCH", other, "office", R"({"assignee": "tech"})", {{"if-match", etag}});
    CHECK(to_tech.status == 400);
    CHECK(body(to_tech)["field"] == "assignee");
    CHECK(f.call("PATCH", other, "office", R"({"assignee": "sam"})", {{"if-match", etag}}).status == 200);
    CHECK(f.call("GET", other, "sam").status == 200);

    // A rep capturing a person who is another rep's lead learns only that it exists.
    auto repeat = f.call("POST", "/api/leads", "sam", R"({"name": "Otto", "phone": "0049 89 7654321"})");
    CHECK(repeat.status == 200);
    CHECK(body(repeat)["outcome"] == "attached_to_lead");
}

TEST_CASE("api leads: overdue leads are flagged and listed on the clock") {
    Fixture f;
    CHECK(body(f.call("GET", "/api/leads?overdue=1", "office"))["items"].empty());
    f.clock.advance(std::chrono::hours(25));
    auto overdue = body(f.call("GET", "/api/leads?overdue=1", "office"));
    REQUIRE(overdue["items"].size() == 1);
    CHECK(overdue["items"][0]["sla"]["overdue"] == true);
    CHECK(overdue["items"][0]["sla"]["reason"] == "first_touch");
}

TEST_CASE("api leads: the public route takes a channel's key, bounds and limits, and audits every refusal") {
    Fixture f;
    auto refusals = [&] { return f.count("SELECT COUNT(*) FROM audit_log WHERE entity = 'lead_capture'"); };
    auto ok = f.call("POST", "/api/public/leads", "", kForm);
    CHECK_MESSAGE(ok.status == 202, shown(ok));
    CHECK(f.count("SELECT COUNT(*) FROM leads WHERE source = 'website' AND channel_id IS NOT NULL") == 1);
    // The same person again: still 202, no second lead.
    CHECK(f.call("POST", "/api/public/leads", "", kForm).status == 202);
    CHECK(f.count("SELECT COUNT(*) FROM leads") == 2);

    const auto before = refusals();
    CHECK(f.call("POST", "/api/public/leads", "", kForm, {{"x-pvfleet-channel-key", "lck_wrong"}}).status ==
          401);
    CHECK(f.call("POST", "/api/public/leads", "", kForm, {{"x-pvfleet-channel-key", ""}}).status == 401);
    auto no_consent = f.call("POST", "/api/public/leads", "", R"({"name": "N", "phone": "+49 30 1111111"})");
    CHECK(no_consent.status == 400);
    CHECK(body(no_consent)["field"] == "consent_contact");
    auto bad_mail =
        f.call("POST", "/api/public/leads", "", R"({"name": "N", "email": "nope", "consent_contact": true})");
    CHECK(bad_mail.status == 400);
    CHECK(body(bad_mail)["field"] == "email");
    const std::string huge = R"({"name": "N", "message": ")" + std::string(20'000, 'x') + "\"}";
    CHECK(f.call("POST", "/api/public/leads", "", huge).status == 413);
    CHECK(refusals() == before + 5);
    CHECK(f.count("SELECT COUNT(*) FROM leads") == 2);
    // No personal data in the refusals' audit entries.
    CHECK(f.count(
              "SELECT COUNT(*) FROM audit_log WHERE entity = 'lead_capture' AND after_json LIKE '%Paula%'") ==
          0);
    // A disabled channel's key no longer works.
    auto disabled = f.call("PATCH", "/api/lead-channels/" + std::to_string(f.channel_id), "admin",
                           R"({"disabled": true})");
    CHECK(disabled.status == 200);
    CHECK(f.call("POST", "/api/public/leads", "", kForm).status == 401);
}

TEST_CASE("api leads: the public route's rate limits per address and per channel") {
    api_test::Fixture f;
    // A fresh router with the documented default limits (the fixture lifts them for the body sweep).
    api::ApiContext context = f.context;
    context.lead_settings.public_capture.per_address_per_minute = 3;
    context.lead_settings.public_capture.per_channel_per_minute = 5;
    context.lead_address_limiter.reset();
    context.lead_channel_limiter.reset();
    http::Router router;
    api::add_routes(router, context);
    auto post = [&](const std::string& remote) {
        http::Request r;
        r.method = "POST";
        r.target = r.path = "/api/public/leads";
        r.remote = remote;
        r.body = kForm;
        r.headers["content-type"] = "application/json";
        r.headers["x-pvfleet-channel-key"] = f.channel_key;
        return router.handle(r);
    };
    for (int i = 0; i < 3; ++i) CHECK(post("198.51.100.1").status == 202);
    auto limited = post("198.51.100.1");
    CHECK(limited.status == 429);
    CHECK(limited.headers.count("Retry-After") == 1);
    CHECK(post("198.51.100.2").status == 202);
    CHECK(post("198.51.100.3").status == 202);
    CHECK(post("198.51.100.4").status == 429);  // the channel's 5 per minute are used up
    CHECK(f.count("SELECT COUNT(*) FROM audit_log WHERE entity = 'lead_capture' AND after_json LIKE "
                  "'%rate_limited%'") == 2);
}

TEST_CASE("api leads: channels (key shown once) and the CSV import through the API") {
    Fixture f;
    auto made =
        f.call("POST", "/api/lead-channels", "admin", R"({"name": "Spring campaign", "source": "campaign"})");
    REQUIRE_MESSAGE(made.status == 201, shown(made));
    CHECK(body(made)["key"].get<std::string>().size() > 40);
    auto listed = body(f.call("GET", "/api/lead-channels", "admin"));
    for (const auto& c : listed["items"]) CHECK_FALSE(c.contains("key"));
    CHECK(f.call("POST", "/api/lead-channels", "office", R"({"name": "x"})").status == 403);

    auto bad =
        f.call("POST", "/api/leads/import", "office",
               json{{"csv", "name,phone,roof_type\nA,+49 89 1,tile\nB,+49 89 2222222,straw\n"}}.dump());
    CHECK(bad.status == 422);
    CHECK(body(bad)["errors"].size() == 2);
    CHECK(body(bad)["errors"][0]["column"] == "phone");
    CHECK(body(bad)["errors"][1]["line"] == 3);
    auto good = f.call("POST", "/api/leads/import", "office",
                       json{{"csv", "name,phone\nA,+49 89 1111111\nB,+49 89 2222222\n"}}.dump());
    CHECK_MESSAGE(good.status == 200, shown(good));
    CHECK(body(good)["leads_created"] == 2);
}

TEST_CASE("api users: an admin sets a supervisor; circles and unknown users are refused at the field") {
    Fixture f;
    CHECK(f.call("PATCH", "/api/users/sam", "admin", R"({"supervisor": "office"})").status == 200);
    auto circle = f.call("PATCH", "/api/users/office", "admin", R"({"supervisor": "sam"})");
    CHECK(circle.status == 400);
    CHECK(body(circle)["field"] == "supervisor");
    CHECK(f.call("PATCH", "/api/users/nobody", "admin", R"({"supervisor": null})").status == 404);
    auto users = body(f.call("GET", "/api/users", "admin"));
    for (const auto& u : users["items"])
        if (u["name"] == "sam") CHECK(u["supervisor"] == "office");
}

TEST_CASE(
    "api customers: a sales rep and a project manager read their own customers only; the office reads all") {
    Fixture f;  // customer_id: the customer of pm's project, whose rep is sam
    auto other =
        f.call("POST", "/api/customers", "office", R"({"name": "Olga Other", "phone": "+49 40 1234567"})");
    REQUIRE_MESSAGE(other.status == 201, shown(other));
    const auto other_id = body(other)["id"].get<std::int64_t>();
    const std::string mine = "/api/customers/" + std::to_string(f.customer_id);
    const std::string theirs = "/api/customers/" + std::to_string(other_id);
    for (const char* user : {"sam", "pm"}) {
        CAPTURE(user);
        auto got = f.call("GET", mine, user);
        CHECK_MESSAGE(got.status == 200, shown(got));
        CHECK(body(got)["id"] == f.customer_id);
        // Another's customer is answered as a missing one.
        CHECK(f.call("GET", theirs, user).status == 404);
        auto listed = body(f.call("GET", "/api/customers", user));
        REQUIRE(listed["items"].size() == 1);
        CHECK(listed["items"][0]["id"] == f.customer_id);
        // A search finds nothing outside the scope either.
        CHECK(body(f.call("GET", "/api/customers?q=Olga", user))["items"].empty());
        // Reading is all: the contact is the office's to change.
        CHECK(f.call("PATCH", mine, user, R"({"notes": "x"})", {{"if-match", "\"v1\""}}).status == 403);
    }
    CHECK(body(f.call("GET", "/api/customers", "office"))["items"].size() == 2);
    CHECK(body(f.call("GET", "/api/customers?q=Olga", "manager"))["items"].size() == 1);

    // A repeat inquiry of the other customer, taken by the office, makes it nobody's lead: still not sam's.
    auto repeat = f.call("POST", "/api/leads", "office", R"({"name": "Olga", "phone": "0049 40 1234567"})");
    REQUIRE_MESSAGE(repeat.status == 200, shown(repeat));
    CHECK(body(repeat)["outcome"] == "attached_to_customer");
    CHECK(f.call("GET", theirs, "sam").status == 404);
    // A project of the other customer managed by pm makes it pm's (not sam's: another rep's, or none).
    auto project = f.call(
        "POST", "/api/projects", "office",
        R"({"name": "Olga's roof", "customer_id": )" + std::to_string(other_id) + R"(, "manager": "pm"})");
    REQUIRE_MESSAGE(project.status == 201, shown(project));
    CHECK(f.call("GET", theirs, "pm").status == 200);
    CHECK(body(f.call("GET", "/api/customers", "pm"))["items"].size() == 2);
    CHECK(f.call("GET", theirs, "sam").status == 404);
}
