// The contract and payment routes through Router::handle over a real SQLite file: who reads and who writes,
// the refusals at their members, allocation as the API shows it, an overdue reminder in the rep's inbox, and
// the collection-rate report.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "fixture.hpp"
#include "pvfleet/notifications/inbox.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/storage/events.hpp"

using namespace pvfleet;
using api_test::Fixture;
using nlohmann::json;

namespace {

json parsed(const http::Response& r) {
    return json::parse(r.body, nullptr, false);
}

std::string told(const http::Response& r) {
    return std::to_string(r.status) + " " + r.body;
}

}  // namespace

TEST_CASE(
    "api contracts: the back office writes, the project's PM and rep read, payments allocate oldest due "
    "first") {
    Fixture f;  // 2016-07-19 08:00; project of pm's, rep sam
    const std::string base = "/api/projects/" + std::to_string(f.project_id);
    CHECK(f.call("GET", base + "/contract", "sam").status == 404);  // none yet
    auto created =
        f.call("POST", base + "/contract", "office",
               R"({"number": "C-7", "amount": 1000000, "currency": "EUR", "signed_on": "2016-07-01",
                              "status": "signed"})");
    REQUIRE_MESSAGE(created.status == 201, told(created));
    CHECK(created.headers.at("Location") == base + "/contract");
    CHECK(f.call("POST", base + "/contract", "office", R"({"number": "C-8", "amount": 1, "currency": "EUR"})")
              .status == 409);
    REQUIRE(f.call("POST", base + "/instalments", "office",
                   R"({"label": "Deposit", "percent": 30, "due_on": "2016-07-10"})")
                .status == 201);
    REQUIRE(
        f.call(
             "POST", base + "/instalments", "office",
             R"({"label": "Installation", "amount": 700000, "after_milestone": "installation_done", "days": 14})")
            .status == 201);

    // Refusals name their member.
    auto expect_field = [&](const http::Response& r, int status, const std::string& field) {
        CHECK_MESSAGE(r.status == status, told(r));
        CHECK_MESSAGE(parsed(r).value("field", "") == field, told(r));
    };
    const auto before = f.fingerprint();
    expect_field(f.call("POST", base + "/payments", "office",
                        R"({"paid_on": "2016-07-12", "amount": 5, "currency": "CHF"})"),
                 400, "currency");
    expect_field(f.call("POST", base + "/payments", "office",
                        R"({"paid_on": "2016-07-20", "amount": 5, "currency": "EUR"})"),
                 400, "paid_on");
    expect_field(f.call("POST", base + "/payments", "office",
                        R"({"paid_on": "2016-07-12", "amount": 5, "currency": "EUR", "method": "cheque"})"),
                 400, "method");
    expect_field(f.call("POST", base + "/instalments", "office",
                        R"({"label": "x", "percent": 101, "due_on": "2016-08-01"})"),
                 400, "percent");
    expect_field(f.call("POST", base + "/instalments", "office",
                        R"({"label": "x", "amount": 5, "after_milestone": "moon_landing"})"),
                 400, "after_milestone");
    expect_field(
        f.call("POST", base + "/change-orders", "office",
               R"({"number": "CO", "amount_delta": -2000000, "reason": "r", "approved_on": "2016-07-10"})"),
        400, "amount_delta");
    // The rep and the PM read; neither records a payment (the route is the back office's).
    CHECK(f.call("POST", base + "/payments", "sam",
                 R"({"paid_on": "2016-07-12", "amount": 5, "currency": "EUR"})")
              .status == 403);
    CHECK(f.call("POST", base + "/payments", "pm",
                 R"({"paid_on": "2016-07-12", "amount": 5, "currency": "EUR"})")
              .status == 403);
    CHECK(f.fingerprint() == before);
    CHECK(f.count("SELECT COUNT(*) FROM contract_payments") == 0);

    auto paid =
        f.call("POST", base + "/payments", "office",
               R"({"paid_on": "2016-07-12", "amount": 400000, "currency": "EUR", "method": "bank_transfer",
                           "reference": "RF18"})");
    REQUIRE_MESSAGE(paid.status == 201, told(paid));
    for (const std::string user : {"sam", "pm", "manager", "admin"}) {
        CAPTURE(user);
        auto r = f.call("GET", base + "/contract", user);
        REQUIRE_MESSAGE(r.status == 200, told(r));
        const json c = parsed(r);
        CHECK(c["total"] == 1000000);
        REQUIRE(c["instalments"].size() == 2);
        CHECK(c["instalments"][0]["label"] == "Deposit");
        CHECK(c["instalments"][0]["amount"] == 300000);
        CHECK(c["instalments"][0]["state"] == "paid");
        CHECK(c["instalments"][1]["due_on"].is_null());  // the installation is not done
        CHECK(c["instalments"][1]["paid"] == 100000);
        CHECK(c["instalments"][1]["state"] == "partly_paid");
        CHECK(c["summary"]["outstanding"] == 600000);
        CHECK(c["summary"]["unplanned"] == 0);
        CHECK(c["payments"].size() == 1);
        CHECK(c["signed_document_id"].is_null());
    }
    // Another project is not the rep's: 404, as the project itself.
    projects::NewProject n;
    n.name = "Not sam's";
    n.customer_id = f.customer_id;
    auto other = projects::create_project(*f.api_db, f.context.project_settings, n, "office", f.clock.now());
    REQUIRE(other);
    CHECK(f.call("GET", "/api/projects/" + std::to_string(other->id) + "/contract", "sam").status == 404);

    // The contract's ETag guards its changes; a signed contract's amount is moved by change orders.
    const auto etag = f.call("GET", base + "/contract", "office").headers.at("ETag");
    expect_field(f.call("PATCH", base + "/contract", "office", R"({"amount": 5})", {{"if-match", etag}}), 400,
                 "amount");
    CHECK(f.call("PATCH", base + "/contract", "office", R"({"number": "C-7a"})", {{"if-match", "\"v0\""}})
              .status == 412);
    auto co = f.call(
        "POST", base + "/change-orders", "office",
        R"({"number": "CO-1", "amount_delta": 100000, "reason": "Battery", "approved_on": "2016-07-15"})");
    REQUIRE_MESSAGE(co.status == 201, told(co));
    CHECK(parsed(co)["total"] == 1100000);
    CHECK(parsed(co)["instalments"][0]["amount"] == 330000);
}

TEST_CASE(
    "api contracts: an overdue instalment reaches the rep's inbox; the rep snoozes it, not relabels it") {
    Fixture f;
    const std::string base = "/api/projects/" + std::to_string(f.project_id);
    REQUIRE(
        f.call(
             "POST", base + "/contract", "office",
             R"({"number": "C-1", "amount": 500000, "currency": "EUR", "signed_on": "2016-07-01", "status": "signed"})")
            .status == 201);
    REQUIRE(f.call("POST", base + "/instalments", "office",
                   R"({"label": "Deposit", "amount": 150000, "due_on": "2016-07-10"})")
                .status == 201);
    // The default payment_overdue rule: 7 days after the due day is over (18 July 00:00) — it is 19 July.
    auto pass = projects::evaluate_stall_rules(*f.api_db, projects::default_reminder_settings(), f.clock.now());
    REQUIRE(pass);
    CHECK(pass->sent == 1);
    notifications::InboxConsumer inbox_consumer;  // the event, dispatched into the inbox
    storage::EventConsumer* consumers[] = {&inbox_consumer};
    REQUIRE(storage::dispatch_pending_events(*f.api_db, consumers, f.clock.now()));
    auto inbox = parsed(f.call("GET", "/api/inbox", "sam"));
    REQUIRE(inbox["items"].size() >= 1);
    CHECK(inbox["items"][0]["event"] == "payment.overdue");
    CHECK(inbox["items"][0]["project_id"] == f.project_id);

    const json c = parsed(f.call("GET", base + "/contract", "sam"));
    const std::string path =
        base + "/instalments/" + std::to_string(c["instalments"][0]["id"].get<std::int64_t>());
    const std::string etag =
        "\"v" + std::to_string(c["instalments"][0]["version"].get<std::int64_t>()) + "\"";
    CHECK(f.call("PATCH", path, "sam", R"({"label": "Mine now"})", {{"if-match", etag}}).status == 403);
    auto snoozed =
        f.call("PATCH", path, "sam", R"({"snoozed_until": "2016-07-30T00:00:00Z"})", {{"if-match", etag}});
    CHECK_MESSAGE(snoozed.status == 200, told(snoozed));
    CHECK(f.call("GET", base + "/contract", "office").body.find("2016-07-30T00:00:00") != std::string::npos);
}

TEST_CASE("api contracts: the collection-rate report per month and rep, for managers and the back office") {
    Fixture f;
    const std::string base = "/api/projects/" + std::to_string(f.project_id);
    REQUIRE(
        f.call(
             "POST", base + "/contract", "office",
             R"({"number": "C-1", "amount": 1000000, "currency": "EUR", "signed_on": "2016-06-01", "status": "signed"})")
            .status == 201);
    for (const std::string body : {R"({"label": "A", "amount": 200000, "due_on": "2016-06-10"})",
                                   R"({"label": "B", "amount": 300000, "due_on": "2016-07-05"})",
                                   R"({"label": "C", "amount": 500000, "due_on": "2016-08-05"})"})
        REQUIRE(f.call("POST", base + "/instalments", "office", body).status == 201);
    REQUIRE(f.call("POST", base + "/payments", "office",
                   R"({"paid_on": "2016-07-01", "amount": 350000, "currency": "EUR"})")
                .status == 201);
    auto r = f.call("GET", "/api/reports/collections?from=2016-06&to=2016-08", "manager");
    REQUIRE_MESSAGE(r.status == 200, told(r));
    const json j = parsed(r);
    REQUIRE(j["by_month"].size() == 3);
    CHECK(j["by_month"][0]["month"] == "2016-06");
    CHECK(j["by_month"][0]["due"] == 200000);
    CHECK(j["by_month"][0]["collected"] == 200000);
    CHECK(j["by_month"][0]["rate"] == 1.0);
    CHECK(j["by_month"][1]["due"] == 300000);
    CHECK(j["by_month"][1]["collected"] == 150000);
    CHECK(j["by_month"][1]["rate"] == 0.5);
    CHECK(j["by_month"][2]["collected"] == 0);
    REQUIRE(j["by_rep"].size() == 1);
    CHECK(j["by_rep"][0]["rep"] == "sam");
    CHECK(j["by_rep"][0]["due"] == 1000000);
    CHECK(j["by_rep"][0]["collected"] == 350000);
    CHECK(j["by_rep"][0]["currency"] == "EUR");
    // One month only; the default span answers too; bad months are named.
    CHECK(parsed(f.call("GET", "/api/reports/collections?from=2016-07&to=2016-07", "office"))["by_month"]
              .size() == 1);
    CHECK(f.call("GET", "/api/reports/collections", "admin").status == 200);
    CHECK(parsed(f.call("GET", "/api/reports/collections?from=2016-13", "admin")).value("field", "") ==
          "from");
    CHECK(parsed(f.call("GET", "/api/reports/collections?from=2016-08&to=2016-07", "admin"))
              .value("field", "") == "from");
    CHECK(parsed(f.call("GET", "/api/reports/collections?from=2000-01&to=2016-07", "admin"))
              .value("field", "") == "from");
    CHECK(parsed(f.call("GET", "/api/reports/collections?to=July", "admin")).value("field", "") == "to");
    CHECK(f.call("GET", "/api/reports/collections", "sam").status == 403);
    CHECK(f.call("GET", "/api/reports/collections", "pm").status == 403);
}
