// Projects on SQLite and PostgreSQL: conversion of a lead, stages following milestones, stall-rule reminders on a
// SimulatedTimeSystem into the inbox.
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "pvfleet/leads/repository.hpp"
#include "pvfleet/notifications/inbox.hpp"
#include "pvfleet/projects/import.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using namespace pvfleet::projects;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const TimePoint kT0 = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z
constexpr auto kDay = std::chrono::hours(24);

const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

using test::Backend;
using test::ok;

std::vector<Backend> backends(test::TempDir& dir) { return test::fresh_backends(dir, "projects"); }

records::FieldCipher cipher() { return test::test_cipher(); }

struct Fixture {
    SimulatedTimeSystem time{kT0};
    storage::Store store;
    records::FieldCipher key = cipher();
    leads::Settings lead_settings = leads::default_settings();
    ProjectSettings settings = default_project_settings();
    explicit Fixture(const Backend& be) : store(be.open(), time) {
        REQUIRE(store.migrate());
        for (const auto& [name, role] : std::vector<std::pair<std::string, records::Role>>{
                 {"anna", records::Role::sales}, {"pm", records::Role::project_manager},
                 {"pm2", records::Role::project_manager}, {"office", records::Role::back_office},
                 {"boss", records::Role::manager}})
            REQUIRE(records::create_user(db(), name, name, role, "a long password", "setup", kT0));
        REQUIRE(records::set_supervisor(db(), "pm", std::string("boss"), "setup", kT0));
        lead_settings.default_country_code = "49";
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql, const storage::Params& p = {}) {
        auto r = db().run(sql, p);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return r->rows.at(0).integer(0);
    }
    std::int64_t lead(const std::string& name, const std::string& phone, const std::string& email = "") {
        leads::Lead l;
        l.name = name;
        l.phone = phone;
        l.email = email;
        l.address = "Seestr. 4, 80331 München";
        l.roof_type = leads::RoofType::tile;
        l.source = leads::Source::phone;
        auto c = ok(leads::capture(db(), key, l, "first call", lead_settings, std::string("anna"), "office", time.now()));
        REQUIRE(c.lead);
        return c.lead->id;
    }
    Project project(const std::string& name, const std::string& manager = "pm") {
        auto c = ok(records::create_customer(db(), key, records::Customer{0, name, "", "", "", "", {}, {}, 1}, "office",
                                             time.now()));
        NewProject n;
        n.name = name;
        n.customer_id = c.id;
        n.manager = manager;
        return ok(create_project(db(), settings, n, "office", time.now()));
    }
    Milestone milestone(std::int64_t project_id, const std::string& mkey) {
        for (auto& m : ok(list_milestones(db(), project_id)))
            if (m.key == mkey) return m;
        FAIL("no milestone " << mkey);
        return {};
    }
    MilestoneResult change(std::int64_t project_id, const std::string& mkey, MilestoneChange c) {
        const auto m = milestone(project_id, mkey);
        return ok(update_milestone(db(), settings, project_id, m.id, c, m.version, "pm", time.now()));
    }
    MilestoneResult done(std::int64_t project_id, const std::string& mkey, const std::string& on) {
        MilestoneChange c;
        c.done_on = std::optional<std::string>(on);
        return change(project_id, mkey, c);
    }
    // Reminders are events: a dispatch pass to the inbox consumer writes the inbox rows (notifications module).
    void dispatch() {
        notifications::InboxConsumer inbox;
        storage::EventConsumer* consumers[] = {&inbox};
        REQUIRE(storage::dispatch_pending_events(db(), consumers, time.now()));
    }
    std::vector<notifications::Notification> inbox(const std::string& user) {
        dispatch();
        return ok(notifications::list_inbox(db(), user, false, 0, 500));
    }
};

}  // namespace

TEST_CASE("projects db: a lead converts into a customer, a site and a project at once, keeping its history") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto lead_id = f.lead("Erika Musterfrau", "+49 171 2345678", "erika@example.org");
        leads::Touch t;
        t.lead_id = lead_id;
        t.kind = leads::TouchKind::call;
        t.outcome = leads::Outcome::reached;
        t.at = kT0 - 2 * kDay;  // logged afterwards: the inquiry stage was done then
        t.notes = "wants 10 kWp";
        f.time.advance(1h);
        REQUIRE(leads::add_touch(f.db(), f.key, t, f.lead_settings, "anna", f.time.now()));

        Conversion c;
        c.lead_id = lead_id;
        c.manager = "pm";
        records::Site site;
        site.site_id = "gw-erika";
        site.name = "Erika's roof";
        c.site = site;
        // Another rep's conversion of anna's lead: as if there were none.
        c.only_assignee = "ben";
        auto refused = convert_lead(f.db(), f.key, f.settings, f.lead_settings, c, "ben", f.time.now());
        REQUIRE(!refused);
        CHECK(refused.error().kind == ErrorKind::not_found);
        c.only_assignee = "anna";
        const auto converted = ok(convert_lead(f.db(), f.key, f.settings, f.lead_settings, c, "anna", f.time.now()));

        // The customer carries the contact, encrypted at rest like any customer's.
        const auto customer = ok(records::get_customer(f.db(), f.key, converted.customer_id));
        REQUIRE(customer);
        CHECK(customer->name == "Erika Musterfrau");
        CHECK(customer->email == "erika@example.org");
        CHECK(f.scalar("SELECT COUNT(*) FROM customers WHERE name_enc LIKE '%Erika%'") == 0);
        // The site is the customer's, with the lead's roof.
        CHECK(converted.site_id == std::optional<std::string>("gw-erika"));
        const auto stored_site = ok(records::get_site(f.db(), "gw-erika"));
        REQUIRE(stored_site);
        CHECK(stored_site->customer_id == converted.customer_id);
        CHECK(stored_site->roof_type == "tile");
        // The project: links both ways, the rep and the manager, the inquiry stage done on the first touch's day.
        const Project& p = converted.project;
        CHECK(p.lead_id == lead_id);
        CHECK(p.customer_id == converted.customer_id);
        CHECK(p.site_id == std::optional<std::string>("gw-erika"));
        CHECK(p.sales_rep == std::optional<std::string>("anna"));
        CHECK(p.manager == std::optional<std::string>("pm"));
        CHECK(p.stage == "site_survey");
        CHECK(f.milestone(p.id, "first_contact").done_on == std::optional<std::string>("2026-06-29"));
        CHECK(f.milestone(p.id, "survey_done").owner == std::optional<std::string>("pm"));
        CHECK(f.milestone(p.id, "contract_signed").owner == std::optional<std::string>("anna"));
        const auto lead = ok(leads::get_lead(f.db(), f.key, lead_id));
        REQUIRE(lead);
        CHECK(lead->status == leads::LeadStatus::converted);
        CHECK(lead->customer_id == converted.customer_id);
        CHECK(ok(project_of_lead(f.db(), lead_id))->id == p.id);
        // Its history stays with it: the touch and the first inquiry.
        CHECK(ok(leads::list_touches(f.db(), f.key, lead_id)).size() == 1);
        CHECK(ok(leads::list_inquiries(f.db(), f.key, lead_id)).size() == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'lead' AND action = 'convert'") == 1);

        // De-duplication stays consistent: the person's next inquiry (by phone or e-mail) is the customer's.
        leads::Lead again;
        again.name = "Erika M.";
        again.phone = "0171 2345678";
        auto repeat = ok(leads::capture(f.db(), f.key, again, "battery too?", f.lead_settings, std::nullopt, "web",
                                        f.time.now()));
        CHECK(repeat.outcome == leads::Captured::attached_to_customer);
        CHECK(repeat.customer_id == converted.customer_id);
        CHECK(f.scalar("SELECT COUNT(*) FROM customer_contact_keys WHERE customer_id = $1", {converted.customer_id}) == 2);
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == 1);

        // A second conversion is refused and changes nothing.
        const auto customers = f.scalar("SELECT COUNT(*) FROM customers");
        c.site.reset();
        auto twice = convert_lead(f.db(), f.key, f.settings, f.lead_settings, c, "anna", f.time.now());
        REQUIRE(!twice);
        CHECK(twice.error().kind == ErrorKind::conflict);
        CHECK(f.scalar("SELECT COUNT(*) FROM customers") == customers);
        CHECK(f.scalar("SELECT COUNT(*) FROM projects") == 1);
        // A lead's status cannot be set to converted, nor leave it, by an edit.
        leads::Lead edited = *lead;
        edited.status = leads::LeadStatus::qualified;
        auto back = leads::update_lead(f.db(), f.key, edited, lead->version, f.lead_settings, "office", f.time.now());
        REQUIRE(!back);
        CHECK(back.error().path == "status");
    }
}

TEST_CASE("projects db: a failed step rolls the whole conversion back") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto lead_id = f.lead("Max Muster", "+49 89 1234560");
        Conversion c;
        c.lead_id = lead_id;
        c.manager = "anna";  // not a project manager: refused after the customer and the site were written
        records::Site site;
        site.site_id = "gw-max";
        c.site = site;
        auto r = convert_lead(f.db(), f.key, f.settings, f.lead_settings, c, "office", f.time.now());
        REQUIRE(!r);
        CHECK(r.error().message == "manager: 'anna' is not a project manager");
        CHECK(f.scalar("SELECT COUNT(*) FROM customers") == 0);
        CHECK(f.scalar("SELECT COUNT(*) FROM sites") == 0);
        CHECK(f.scalar("SELECT COUNT(*) FROM projects") == 0);
        CHECK(ok(leads::get_lead(f.db(), f.key, lead_id))->status == leads::LeadStatus::new_lead);
        c.site->site_id = "bad id!";
        c.manager = "pm";
        r = convert_lead(f.db(), f.key, f.settings, f.lead_settings, c, "office", f.time.now());
        REQUIRE(!r);
        CHECK(r.error().path.rfind("site/", 0) == 0);
        CHECK(f.scalar("SELECT COUNT(*) FROM customers") == 0);
    }
}

TEST_CASE("projects db: two conversions of one lead at once from two connections make one project") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        for (int round = 0; round < 5; ++round) {
            CAPTURE(round);
            const auto lead_id = f.lead("Racer " + std::to_string(round), "+49 30 555000" + std::to_string(round));
            std::vector<std::unique_ptr<storage::Db>> connections;
            connections.push_back(be.open());
            connections.push_back(be.open());
            std::vector<Result<Converted>> results(2, Error{"not run"});
            std::vector<std::thread> threads;
            for (int i = 0; i < 2; ++i)
                threads.emplace_back([&, i] {
                    Conversion c;
                    c.lead_id = lead_id;
                    results[static_cast<std::size_t>(i)] = convert_lead(*connections[static_cast<std::size_t>(i)],
                                                                        f.key, f.settings, f.lead_settings, c, "office",
                                                                        kT0);
                });
            for (auto& t : threads) t.join();
            int converted = 0;
            for (const auto& r : results) {
                if (r) ++converted;
                else CHECK_MESSAGE(r.error().kind == ErrorKind::conflict, r.error().message);
            }
            CHECK(converted == 1);
            CHECK(f.scalar("SELECT COUNT(*) FROM projects WHERE lead_id = $1", {lead_id}) == 1);
            CHECK(f.scalar("SELECT COUNT(*) FROM customers") == round + 1);
        }
    }
}

TEST_CASE("projects db: the stage follows the milestones; dates may lie in the past, done dates not ahead") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        // Moved over from a spreadsheet: started months ago.
        auto c = ok(records::create_customer(f.db(), f.key, records::Customer{0, "Old Project", "", "", "", "", {}, {}, 1},
                                             "office", kT0));
        NewProject n;
        n.name = "Old Project";
        n.customer_id = c.id;
        n.manager = "pm";
        n.started_on = "2026-01-05";
        auto p = ok(create_project(f.db(), f.settings, n, "office", kT0));
        CHECK(p.stage == "inquiry");
        CHECK(f.milestone(p.id, "survey_done").planned_on == std::optional<std::string>("2026-01-19"));
        CHECK(f.done(p.id, "first_contact", "2026-01-05").project.stage == "site_survey");
        CHECK(f.done(p.id, "survey_done", "2026-01-20").project.stage == "design_quote");
        // Reopened: back to the survey.
        MilestoneChange reopen;
        reopen.done_on = std::optional<std::string>();
        auto back = f.change(p.id, "survey_done", reopen);
        CHECK(back.project.stage == "site_survey");
        CHECK(back.project.stage_since == kT0);
        // Ahead of today, or no date at all: refused at the field.
        const auto m = f.milestone(p.id, "survey_done");
        MilestoneChange ahead;
        ahead.done_on = std::optional<std::string>("2026-07-02");
        auto r = update_milestone(f.db(), f.settings, p.id, m.id, ahead, m.version, "pm", kT0);
        REQUIRE(!r);
        CHECK(r.error().message == "done_on: in the future");
        ahead.done_on = std::optional<std::string>("2026-02-30");
        r = update_milestone(f.db(), f.settings, p.id, m.id, ahead, m.version, "pm", kT0);
        REQUIRE(!r);
        CHECK(r.error().path == "done_on");
        // A stale version is a conflict.
        MilestoneChange plan;
        plan.planned_on = std::optional<std::string>("2026-07-10");
        r = update_milestone(f.db(), f.settings, p.id, m.id, plan, m.version - 1, "pm", kT0);
        REQUIRE(!r);
        CHECK(r.error().kind == ErrorKind::conflict);
        // Checklist ticks are kept.
        MilestoneChange tick;
        tick.checklist = std::vector<ChecklistItem>{{"Roof measured", true}, {"Meter cabinet photographed", false}};
        CHECK(f.change(p.id, "survey_done", tick).milestone.checklist.at(0).done);
        // Every step in the audit log.
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'milestone'") == 4);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'project' AND action = 'stage'") == 3);
    }
}

TEST_CASE("projects db: the default stall rule — a grid application pending 7 days tells the PM and their "
          "supervisor once") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const Project p = f.project("Grid Waiting");
        const Project other = f.project("Still Surveying", "pm2");  // no application yet: nothing due
        f.done(p.id, "grid_application_submitted", "2026-07-01");
        ReminderSettings rules = default_reminder_settings();  // every 60 s
        ReminderScheduler scheduler(f.time, f.db(), rules);
        scheduler.start();
        // Up to a minute before the 7 days are over: nothing. The scheduler runs every minute meanwhile.
        f.time.advance_to(kT0 + 7 * kDay - 2min);
        CHECK(f.inbox("pm").empty());
        CHECK(scheduler.passes() == 7 * 24 * 60 - 1);
        f.time.advance(2min);
        // The pass at exactly 7 days: the PM (level 1) and their supervisor (level 2, 0 more days).
        auto pm = f.inbox("pm");
        auto boss = f.inbox("boss");
        REQUIRE(pm.size() == 1);
        REQUIRE(boss.size() == 1);
        CHECK(pm[0].event == "milestone.overdue");
        CHECK(boss[0].event == "milestone.escalated");
        CHECK(pm[0].project_id == p.id);
        CHECK(pm[0].title == "Overdue: Application approved — Grid Waiting");
        CHECK(f.inbox("pm2").empty());
        (void)other;
        // Another day of passes, then a restart (a new scheduler on a new connection): nothing twice.
        f.time.advance(kDay);
        scheduler.stop();
        auto connection = be.open();
        ReminderScheduler restarted(f.time, *connection, rules);
        restarted.start();
        f.time.advance(kDay);
        CHECK(restarted.passes() == 24 * 60 + 1);
        CHECK(restarted.last().checked == 2);  // both projects' approval milestones, every pass
        restarted.stop();
        CHECK(f.scalar("SELECT COUNT(*) FROM reminders") == 2);
        f.dispatch();
        CHECK(f.scalar("SELECT COUNT(*) FROM events") == 2);  // one event per reminder, with its recipients
        CHECK(f.scalar("SELECT COUNT(*) FROM notifications") == 2);
        CHECK(ok(notifications::unread_count(f.db(), "pm")) == 1);
        REQUIRE(notifications::mark_read(f.db(), "pm", pm[0].id, f.time.now()));
        CHECK(ok(notifications::unread_count(f.db(), "pm")) == 0);
        CHECK(!notifications::mark_read(f.db(), "pm2", pm[0].id, f.time.now()));  // another's: not found
        CHECK(ok(notifications::mark_all_read(f.db(), "boss", f.time.now())) == 1);
        const auto reminders = ok(reminders_of_project(f.db(), p.id));
        REQUIRE(reminders.size() == 2);
        CHECK(reminders[1].recipients == std::vector<std::string>{"boss"});
    }
}

TEST_CASE("projects db: remind, then escalate M days later; snooze defers, done stops; two servers send once") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        ReminderSettings rules;
        rules.check_interval_s = 3600;
        rules.rules.push_back(StallRule{"quote_slow", "quote_sent", "survey_done", 5, 3});
        const Project a = f.project("Alpha");  // runs its course
        const Project b = f.project("Bravo");  // snoozed past the escalation
        const Project c = f.project("Charlie");  // done after the reminder
        const Project d = f.project("Delta", "pm2");  // pm2 has no supervisor: no escalation
        for (const auto& p : {a, b, c, d}) f.done(p.id, "survey_done", "2026-07-01");
        ReminderScheduler scheduler(f.time, f.db(), rules);
        scheduler.start();
        f.time.advance_to(kT0 + 5 * kDay);  // the 5 days are over: level 1 to each owner
        CHECK(f.inbox("pm").size() == 3);
        CHECK(f.inbox("pm2").size() == 1);
        CHECK(f.inbox("boss").empty());
        // Bravo snoozed until day 10 (past the escalation at day 8); Charlie done on day 6.
        MilestoneChange snooze;
        snooze.snoozed_until = std::optional<TimePoint>(kT0 + 10 * kDay);
        f.change(b.id, "quote_sent", snooze);
        f.time.advance_to(kT0 + 6 * kDay);
        f.done(c.id, "quote_sent", "2026-07-07");
        f.time.advance_to(kT0 + 8 * kDay);  // escalation: Alpha only
        auto boss = f.inbox("boss");
        REQUIRE(boss.size() == 1);
        CHECK(boss[0].project_id == a.id);
        CHECK(boss[0].event == "milestone.escalated");
        CHECK(scheduler.last().no_recipient == 1);  // Delta: pm2 has nobody to escalate to
        f.time.advance_to(kT0 + 10 * kDay + 1h);  // Bravo's snooze is over: its escalation follows
        boss = f.inbox("boss");
        REQUIRE(boss.size() == 2);
        CHECK(boss[0].project_id == b.id);  // newest first
        f.time.advance_to(kT0 + 20 * kDay);
        CHECK(f.inbox("boss").size() == 2);
        CHECK(f.inbox("pm").size() == 3);
        // A supervisor named later: Delta's escalation comes on the next pass.
        REQUIRE(records::set_supervisor(f.db(), "pm2", std::string("boss"), "setup", f.time.now()));
        f.time.advance(1h);
        CHECK(f.inbox("boss").size() == 3);
        scheduler.stop();

        // Two servers evaluating at the same moment over their own connections: each reminder once.
        const Project e = f.project("Echo");
        f.done(e.id, "survey_done", "2026-07-01");
        std::vector<std::unique_ptr<storage::Db>> connections;
        connections.push_back(be.open());
        connections.push_back(be.open());
        std::vector<Result<EvaluationReport>> results(2, Error{"not run"});
        std::vector<std::thread> threads;
        for (int i = 0; i < 2; ++i)
            threads.emplace_back([&, i] {
                results[static_cast<std::size_t>(i)] =
                    evaluate_stall_rules(*connections[static_cast<std::size_t>(i)], rules, f.time.now());
            });
        for (auto& t : threads) t.join();
        int sent = 0;
        for (const auto& r : results) {
            REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
            sent += r->sent;
        }
        CHECK(sent == 2);  // Echo's reminder and escalation, by whichever server came first
        f.dispatch();
        CHECK(f.scalar("SELECT COUNT(*) FROM notifications WHERE project_id = $1", {e.id}) == 2);
    }
}

TEST_CASE("projects db: the CSV import writes all rows or none, errors by line and column") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        auto c = ok(records::create_customer(f.db(), f.key, records::Customer{0, "Huber", "", "", "", "", {}, {}, 1},
                                             "office", kT0));
        const std::string id = std::to_string(c.id);
        auto bad = ok(import_projects_csv(f.db(), f.settings,
                                          "name,customer_id,manager,started_on,survey_done,colour\n"
                                          "A,1,pm,2026-01-01,2026-01-05,red\n",
                                          "office", kT0));
        CHECK(!bad.committed);
        REQUIRE(bad.errors.size() == 1);
        CHECK(bad.errors[0].line == 1);
        CHECK(bad.errors[0].column == "colour");
        bad = ok(import_projects_csv(f.db(), f.settings,
                                     "name,customer_id,started_on,survey_done,quote_sent_planned\n"
                                     "A," + id + ",2026-01-01,2026-07-02,2026-13-01\n"
                                     ",x,,,\n",
                                     "office", kT0));
        CHECK(!bad.committed);
        REQUIRE(bad.errors.size() == 4);
        CHECK(bad.errors[0].line == 2);
        CHECK(bad.errors[0].column == "quote_sent_planned");
        CHECK(bad.errors[1].column == "survey_done");
        CHECK(bad.errors[1].message == "a done date ahead of today");
        CHECK(bad.errors[2].line == 3);
        CHECK(bad.errors[2].column == "name");
        CHECK(bad.errors[3].column == "customer_id");
        // Only the database knows: the second row's manager is no project manager — nothing is kept.
        bad = ok(import_projects_csv(f.db(), f.settings,
                                     "name,customer_id,manager\nA," + id + ",pm\nB," + id + ",anna\n", "office", kT0));
        CHECK(!bad.committed);
        REQUIRE(bad.errors.size() == 1);
        CHECK(bad.errors[0].line == 3);
        CHECK(bad.errors[0].column == "manager");
        CHECK(f.scalar("SELECT COUNT(*) FROM projects") == 0);
        const auto good = ok(import_projects_csv(
            f.db(), f.settings,
            "name,customer_id,manager,started_on,first_contact,survey_done,quote_sent,installation_done_planned\n"
            "Huber roof," + id + ",pm,2026-02-01,2026-02-01,2026-02-10,2026-02-20,2026-04-15\n"
            "Huber garage," + id + ",pm2,2026-06-01,,,,\n",
            "office", kT0));
        CHECK(good.committed);
        CHECK(good.projects_created == 2);
        const auto list = ok(list_projects(f.db(), ProjectQuery{}));
        REQUIRE(list.size() == 2);
        CHECK(list[0].stage == "contract");  // inquiry, survey and quote done in the spreadsheet
        CHECK(list[1].stage == "inquiry");
        CHECK(f.milestone(list[0].id, "survey_done").done_on == std::optional<std::string>("2026-02-10"));
        CHECK(f.milestone(list[0].id, "installation_done").planned_on == std::optional<std::string>("2026-04-15"));
        CHECK(f.milestone(list[1].id, "survey_done").planned_on == std::optional<std::string>("2026-06-15"));
    }
}
