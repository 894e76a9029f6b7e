// The handover to O&M on SQLite and PostgreSQL: telemetry ingested through the real ledger, the scheduler's
// pass on a SimulatedTimeSystem completing commissioning on the first production's local day (Asia/Shanghai
// and Europe/Berlin around local midnight), the event appended once, the site's dates, the stage; zero-power
// heartbeats and production before the project ignored; a milestone done by hand left alone; two passes on
// two connections at once making one handover; grid acceptance setting the site's grid_connected_on.
#include "pvfleet/projects/handover.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <thread>

#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/projects/import.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/time.hpp"
#include "support/ingest_batches.hpp"
#include "support/paths.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using namespace pvfleet::projects;
using namespace std::chrono_literals;

namespace {

const TimePoint kStart = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z

const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

using test::Backend;
using test::ok;

TimePoint at(const std::string& iso) {
    auto t = parse_iso8601(iso);
    REQUIRE(t);
    return *t;
}

domain::Sample reading(const std::string& device, TimePoint t, double watts) {
    auto s = ingest_test::sample(device, t, watts);
    if (watts == 0) s.state = domain::InverterState::sleeping;
    return s;
}

struct Fixture {
    SimulatedTimeSystem time{kStart};
    storage::Store store;
    ingest::Ledger ledger;
    records::FieldCipher key = test::test_cipher();
    ProjectSettings settings = default_project_settings();
    std::map<std::string, protocol::Seq> seq;
    explicit Fixture(const Backend& be) : store(be.open(), time), ledger(store.db(), time) {
        REQUIRE(store.migrate());
        REQUIRE(records::create_user(db(), "pm", "pm", records::Role::project_manager, "a long password",
                                     "setup", kStart));
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql, const storage::Params& p = {}) {
        auto r = db().run(sql, p);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return r->rows.at(0).integer(0);
    }
    // A customer, a site in `zone` and a project on it, every milestone before commissioning done (by hand)
    // when `ready`.
    Project project(const std::string& site_id, const std::string& zone, bool ready = true) {
        auto c = ok(records::create_customer(
            db(), key, records::Customer{0, site_id, "", "", "", "", {}, {}, 1}, "office", time.now()));
        records::Site s;
        s.site_id = site_id;
        s.customer_id = c.id;
        s.time_zone = zone;
        ok(records::upsert_site(db(), s, std::nullopt, "office", time.now()));
        NewProject n;
        n.name = "Roof " + site_id;
        n.customer_id = c.id;
        n.site_id = site_id;
        n.manager = "pm";
        auto p = ok(create_project(db(), settings, n, "office", time.now()));
        if (ready)
            for (const auto& m : ok(list_milestones(db(), p.id)))
                if (m.key != "commissioning") p = done(p.id, m.key, "2026-06-30").project;
        return p;
    }
    Milestone milestone(std::int64_t project_id, const std::string& mkey) {
        for (auto& m : ok(list_milestones(db(), project_id)))
            if (m.key == mkey) return m;
        FAIL("no milestone " << mkey);
        return {};
    }
    MilestoneResult done(std::int64_t project_id, const std::string& mkey, std::optional<std::string> on) {
        const auto m = milestone(project_id, mkey);
        MilestoneChange c;
        c.done_on.emplace(on);  // engaged, maybe with no day: a reopening
        return ok(update_milestone(db(), settings, project_id, m.id, c, m.version, "pm", time.now()));
    }
    void send(const std::string& site, std::vector<domain::Sample> samples) {
        auto r = ledger.ingest({ingest_test::batch(site, ++seq[site], std::move(samples))});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    }
    records::Site site(const std::string& id) {
        auto s = ok(records::get_site(db(), id));
        REQUIRE(s);
        return *s;
    }
    // The handover's events (the projects' other events — stage changes — are not this test's).
    std::vector<storage::Event> events() {
        std::vector<storage::Event> out;
        for (auto& e : ok(storage::events_after(db(), 0, 1000)))
            if (e.name == "site.first_production") out.push_back(std::move(e));
        return out;
    }
};

}  // namespace

TEST_CASE("handover: the first production commissions the project on its local day, once") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "handover")) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto shanghai = f.project("sh-roof", "Asia/Shanghai");
        const auto berlin = f.project("be-roof", "Europe/Berlin");
        const auto early = f.project("early-roof", "Europe/Berlin", false);  // earlier milestones still open
        REQUIRE(shanghai.stage == "commissioning");
        ReminderScheduler scheduler(f.time, f.db(), default_reminder_settings(), f.settings);
        scheduler.start();

        // Heartbeats at 0 W and a reading below the threshold: no production.
        f.time.advance_to(at("2026-07-01T16:00:00Z"));
        f.send("sh-roof", {reading("inv1", at("2026-07-01T15:59:50Z"), 0),
                           reading("inv1", at("2026-07-01T15:59:55Z"), 10)});
        f.send("be-roof", {reading("inv1", at("2026-07-01T21:00:00Z"), 0)});
        f.send("early-roof", {reading("inv1", at("2026-07-01T12:00:00Z"), 0)});
        f.time.advance(2min);
        CHECK(ok(first_production(f.db(), "sh-roof", "Asia/Shanghai", kStart, 50)) == std::nullopt);
        CHECK(f.milestone(shanghai.id, "commissioning").done_on == std::nullopt);
        CHECK(f.events().empty());

        // Shanghai: 00:00:10 local on 2 July (16:00:10 UTC on 1 July). Berlin: 23:59:30 local on 1 July.
        f.send("sh-roof", {reading("inv1", at("2026-07-01T16:00:10Z"), 120),
                           reading("inv1", at("2026-07-01T16:00:20Z"), 300),
                           reading("inv2", at("2026-07-01T16:03:00Z"), 900)});
        f.time.advance_to(at("2026-07-01T22:00:00Z"));
        f.send("be-roof", {reading("inv1", at("2026-07-01T21:59:30Z"), 200),
                           reading("inv1", at("2026-07-01T22:00:30Z"), 400)});
        f.send("early-roof", {reading("inv1", at("2026-07-01T21:00:00Z"), 2500)});
        const auto passes = scheduler.passes();
        f.time.advance(61s);
        CHECK(scheduler.passes() > passes);

        const auto sh = f.milestone(shanghai.id, "commissioning");
        CHECK(sh.done_on ==
              std::optional<std::string>("2026-07-02"));  // ahead of the UTC day: the site's own
        CHECK(f.milestone(berlin.id, "commissioning").done_on == std::optional<std::string>("2026-07-01"));
        CHECK(f.milestone(early.id, "commissioning").done_on == std::optional<std::string>("2026-07-01"));
        const auto sh_project = ok(get_project(f.db(), shanghai.id));
        CHECK(sh_project->stage == "om");
        CHECK(sh_project->version > shanghai.version);
        CHECK(ok(get_project(f.db(), early.id))->stage == "inquiry");  // the stage rule as ever
        CHECK(f.scalar(
                  "SELECT COUNT(*) FROM audit_log WHERE entity = 'milestone' AND entity_id = $1 AND actor = "
                  "'system:handover'",
                  {std::to_string(sh.id)}) == 1);

        const auto site = f.site("sh-roof");
        CHECK(site.commissioned_on == std::optional<std::string>("2026-07-02"));
        CHECK(site.warranty_end == std::optional<std::string>("2036-07-02"));
        CHECK(f.site("be-roof").warranty_end == std::optional<std::string>("2036-07-01"));

        auto events = f.events();
        REQUIRE(events.size() == 3);
        const auto sh_event = std::find_if(events.begin(), events.end(),
                                           [](const auto& e) { return e.data["site_id"] == "sh-roof"; });
        REQUIRE(sh_event != events.end());
        CHECK(sh_event->name == "site.first_production");
        CHECK(sh_event->occurred_at == at("2026-07-01T16:00:10Z"));
        CHECK(sh_event->data["project_id"] == shanghai.id);
        CHECK(sh_event->data["power_w"] == 120.0);
        CHECK(sh_event->data["device_id"] == "inv1");
        CHECK(sh_event->recipients == std::vector<std::string>{"pm"});
        const auto h = ok(handover_of_project(f.db(), shanghai.id));
        REQUIRE(h);
        CHECK(h->first.at == at("2026-07-01T16:00:10Z"));
        CHECK(h->commissioned_on == "2026-07-02");
        CHECK(h->event_id == sh_event->id);

        // An editor that loaded the milestone before the handover: its save is a conflict (412).
        MilestoneChange stale;
        stale.done_on = std::optional<std::string>("2026-06-30");
        auto refused = update_milestone(f.db(), f.settings, shanghai.id, sh.id, stale, sh.version - 1, "pm",
                                        f.time.now());
        REQUIRE(!refused);
        CHECK(refused.error().kind == ErrorKind::conflict);
        // The page's save of another field keeps the handover's day, though it is ahead of UTC's today.
        f.time.advance_to(at("2026-07-01T22:30:00Z"));
        MilestoneChange same;
        same.done_on = sh.done_on;
        same.checklist = std::vector<ChecklistItem>{{"Monitoring checked", true}};
        CHECK(update_milestone(f.db(), f.settings, shanghai.id, sh.id, same, sh.version, "pm", f.time.now())
                  .ok());

        // Later passes, and more production: nothing again.
        f.send("sh-roof", {reading("inv1", at("2026-07-02T04:00:00Z"), 5000)});
        f.time.advance(1h);
        CHECK(f.events().size() == 3);
        CHECK(f.scalar("SELECT COUNT(*) FROM project_handovers") == 3);
        CHECK(
            f.scalar(
                "SELECT COUNT(*) FROM audit_log WHERE actor = 'system:handover' AND entity = 'milestone'") ==
            3);
        scheduler.stop();
    }
}

TEST_CASE("handover: a milestone done by hand, production before the project, and no site are left alone") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "handover_alone")) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto by_hand = f.project("hand-roof", "Europe/Berlin");
        f.done(by_hand.id, "commissioning", "2026-06-28");
        // The back office's warranty stays; the commissioning day reaches the site by hand too.
        CHECK(f.site("hand-roof").commissioned_on == std::optional<std::string>("2026-06-28"));
        CHECK(f.site("hand-roof").warranty_end == std::optional<std::string>("2036-06-28"));

        // A site that produced before its project existed (a second project on a running plant).
        records::Site old_site;
        f.send("old-roof", {reading("inv1", at("2026-07-01T00:10:00Z"), 3000)});
        f.time.advance_to(at("2026-07-01T06:00:00Z"));
        auto c = ok(records::create_customer(
            f.db(), f.key, records::Customer{0, "Old", "", "", "", "", {}, {}, 1}, "office", f.time.now()));
        old_site = f.site("old-roof");
        old_site.customer_id = c.id;
        ok(records::upsert_site(f.db(), old_site, old_site.version, "office", f.time.now()));
        NewProject n;
        n.name = "Repowering";
        n.customer_id = c.id;
        n.site_id = "old-roof";
        const auto repower = ok(create_project(f.db(), f.settings, n, "office", f.time.now()));
        NewProject no_site = n;
        no_site.site_id.reset();
        const auto without_site = ok(create_project(f.db(), f.settings, no_site, "office", f.time.now()));

        f.send("hand-roof", {reading("inv1", at("2026-07-01T05:00:00Z"), 800)});
        auto r = ok(run_handover_pass(f.db(), f.settings, f.time.now()));
        CHECK(r.checked == 1);  // the repowering; the others have nothing to find
        CHECK(r.handed_over == 0);
        CHECK(f.milestone(by_hand.id, "commissioning").done_on == std::optional<std::string>("2026-06-28"));
        CHECK(f.milestone(repower.id, "commissioning").done_on == std::nullopt);
        CHECK(f.milestone(without_site.id, "commissioning").done_on == std::nullopt);
        CHECK(f.events().empty());

        // Its production after the project began counts, with the reading's own time (not the pass's).
        f.send("old-roof", {reading("inv1", at("2026-07-01T06:30:00Z"), 2900)});
        f.time.advance_to(at("2026-07-03T00:00:00Z"));
        r = ok(run_handover_pass(f.db(), f.settings, f.time.now()));
        CHECK(r.handed_over == 1);
        CHECK(f.milestone(repower.id, "commissioning").done_on == std::optional<std::string>("2026-07-01"));
        REQUIRE(f.events().size() == 1);
        CHECK(f.events()[0].occurred_at == at("2026-07-01T06:30:00Z"));
        CHECK(f.events()[0].recipients.empty());  // no manager: nobody named
    }
}

TEST_CASE("handover: two passes on two connections at once hand a project over once") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "handover_race")) {
        CAPTURE(be.name);
        Fixture f(be);
        storage::Store other(be.open(), f.time);
        for (int round = 0; round < 4; ++round) {
            CAPTURE(round);
            const std::string site = "race-" + std::to_string(round);
            const auto p = f.project(site, "UTC");
            f.send(site, {reading("inv1", f.time.now() + 1min, 500)});
            f.time.advance(10min);
            Result<HandoverReport> a{HandoverReport{}}, b{HandoverReport{}};
            std::thread other_pass([&] { b = run_handover_pass(other.db(), f.settings, f.time.now()); });
            a = run_handover_pass(f.db(), f.settings, f.time.now());
            other_pass.join();
            REQUIRE_MESSAGE(a.ok(), (a.ok() ? "" : a.error().message));
            REQUIRE_MESSAGE(b.ok(), (b.ok() ? "" : b.error().message));
            CHECK(a->handed_over + b->handed_over == 1);
            CHECK(f.scalar("SELECT COUNT(*) FROM events WHERE name = 'site.first_production'") == round + 1);
            CHECK(f.scalar("SELECT COUNT(*) FROM project_handovers WHERE project_id = $1", {p.id}) == 1);
            CHECK(ok(get_project(f.db(), p.id))->stage == "om");
        }
    }
}

TEST_CASE("handover: grid acceptance sets the site's grid_connected_on, by hand and by import") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "handover_grid")) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto p = f.project("grid-roof", "Europe/Berlin", false);
        const auto before = f.site("grid-roof");
        f.done(p.id, "grid_acceptance", "2026-06-20");
        CHECK(f.site("grid-roof").grid_connected_on == std::optional<std::string>("2026-06-20"));
        CHECK(f.site("grid-roof").version == before.version + 1);
        f.done(p.id, "grid_acceptance", "2026-06-21");  // corrected
        CHECK(f.site("grid-roof").grid_connected_on == std::optional<std::string>("2026-06-21"));
        f.done(p.id, "grid_acceptance", std::nullopt);  // reopened: the day it had set goes with it
        CHECK(f.site("grid-roof").grid_connected_on == std::nullopt);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'site' AND entity_id = 'grid-roof' AND "
                       "action = "
                       "'milestone dates'") == 3);

        // A day the back office typed is replaced by the milestone's, never cleared by a reopening.
        auto s = f.site("grid-roof");
        s.grid_connected_on = "2026-06-01";
        ok(records::upsert_site(f.db(), s, s.version, "office", f.time.now()));
        f.done(p.id, "grid_acceptance", "2026-06-22");
        CHECK(f.site("grid-roof").grid_connected_on == std::optional<std::string>("2026-06-22"));

        // The import of a project with its grid acceptance done.
        auto c = ok(records::create_customer(
            f.db(), f.key, records::Customer{0, "Imp", "", "", "", "", {}, {}, 1}, "office", f.time.now()));
        records::Site imported;
        imported.site_id = "imp-roof";
        imported.customer_id = c.id;
        ok(records::upsert_site(f.db(), imported, std::nullopt, "office", f.time.now()));
        const std::string csv = "name,customer_id,site_id,started_on,grid_acceptance,commissioning\nImp," +
                                std::to_string(c.id) + ",imp-roof,2026-01-01,2026-05-02,2026-05-09\n";
        auto report = ok(import_projects_csv(f.db(), f.settings, csv, "office", f.time.now()));
        REQUIRE_MESSAGE(report.errors.empty(), report.errors.front().message);
        CHECK(f.site("imp-roof").grid_connected_on == std::optional<std::string>("2026-05-02"));
        CHECK(f.site("imp-roof").commissioned_on == std::optional<std::string>("2026-05-09"));
        CHECK(f.site("imp-roof").warranty_end == std::optional<std::string>("2036-05-09"));
    }
}
