// Leads on SQLite and PostgreSQL: capture and de-duplication (also two captures at once), assignment, touches,
// the SLA, channels, supervisors and the CSV import.
#include <doctest/doctest.h>

#include <cstdlib>
#include <functional>
#include <thread>

#include "pvfleet/leads/import.hpp"
#include "pvfleet/leads/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using namespace pvfleet::leads;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const TimePoint kT0 = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z

const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

using test::Backend;
using test::ok;

std::vector<Backend> backends(test::TempDir& dir) { return test::fresh_backends(dir, "leads"); }

records::FieldCipher cipher() { return test::test_cipher(); }

struct Fixture {
    ManualClock clock{kT0};
    storage::Store store;
    records::FieldCipher key = cipher();
    Settings settings = default_settings();
    explicit Fixture(const Backend& be) : store(be.open(), clock) {
        REQUIRE(store.migrate());
        for (const auto& [name, role] : std::vector<std::pair<std::string, records::Role>>{
                 {"anna", records::Role::sales}, {"ben", records::Role::sales}, {"office", records::Role::back_office},
                 {"boss", records::Role::manager}})
            REQUIRE(records::create_user(db(), name, name, role, "a long password", "setup", kT0));
        auto parsed = parse_settings(json::parse(R"({"default_country_code": "49", "assignment": {
            "max_open_per_rep": 2,
            "regions": [{"name": "munich", "postcode_prefixes": ["80", "81"]}],
            "teams": [{"name": "munich", "regions": ["munich"], "members": ["anna", "ben"]}]}})"));
        REQUIRE(parsed);
        settings = *parsed;
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql) {
        auto r = db().run(sql);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return r->rows.at(0).integer(0);
    }
    CaptureResult capture(Lead l, const std::string& message = "hello") {
        return ok(leads::capture(db(), key, std::move(l), message, settings, std::nullopt, "office", clock.now()));
    }
};

Lead person(const std::string& name, const std::string& phone, const std::string& email = "",
            const std::string& postcode = "80331") {
    Lead l;
    l.name = name;
    l.phone = phone;
    l.email = email;
    l.postcode = postcode;
    l.source = Source::website;
    l.consent_contact = true;
    return l;
}

}  // namespace

TEST_CASE("leads db: a repeat inquiry attaches to its lead, never a second record; personal fields encrypted") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        auto first = f.capture(person("Erika Musterfrau", "+49 171 2345678", "erika@example.org"), "10 kWp please");
        CHECK(first.outcome == Captured::created);
        REQUIRE(first.lead);
        CHECK(first.lead->region == "munich");
        CHECK(first.lead->assignee == std::optional<std::string>("anna"));
        // The same phone typed differently; the same e-mail in other case with a new phone; a new e-mail.
        auto again = f.capture(person("Erika M.", "0171 234 56 78"), "still interested");
        CHECK(again.outcome == Captured::attached_to_lead);
        CHECK(again.lead->id == first.lead->id);
        auto by_email = f.capture(person("Erika", "+49 30 1234567", " ERIKA@example.ORG "));
        CHECK(by_email.outcome == Captured::attached_to_lead);
        CHECK(by_email.lead->id == first.lead->id);
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM lead_inquiries WHERE lead_id = " + std::to_string(first.lead->id)) == 3);
        auto inquiries = ok(list_inquiries(f.db(), f.key, first.lead->id));
        REQUIRE(inquiries.size() == 3);
        CHECK(inquiries[0].message == "10 kWp please");
        // Nothing personal is stored in plain text, not even in the audit log or the contact keys.
        for (const char* table : {"leads", "lead_keys", "lead_inquiries", "audit_log"}) {
            auto rows = f.db().run(std::string("SELECT * FROM ") + table);
            REQUIRE(rows);
            for (const auto& row : rows->rows)
                for (std::size_t i = 0; i < row.cols.size(); ++i) {
                    const auto text = row.text(i);
                    CHECK(text.find("Erika") == std::string::npos);
                    CHECK(text.find("2345678") == std::string::npos);
                    CHECK(text.find("example.org") == std::string::npos);
                }
        }
        // A known customer's inquiry attaches to the customer.
        records::Customer c;
        c.name = "Max Kunde";
        c.email = "max@kunde.de";
        const auto customer = ok(records::create_customer(f.db(), f.key, c, "setup", kT0));
        auto repeat = f.capture(person("Max", "", "MAX@kunde.de"));
        CHECK(repeat.outcome == Captured::attached_to_customer);
        CHECK(repeat.customer_id == customer.id);
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == 1);
    }
}

TEST_CASE("leads db: two captures of one person at the same moment make one lead") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        constexpr int kRounds = 8;
        for (int round = 0; round < kRounds; ++round) {
            const std::string phone = "+49 89 5550" + std::to_string(100 + round);
            std::vector<std::unique_ptr<storage::Db>> connections;
            connections.push_back(be.open());
            connections.push_back(be.open());
            std::vector<Result<CaptureResult>> results(2, Error{"not run"});
            std::vector<std::thread> threads;
            for (int i = 0; i < 2; ++i)
                threads.emplace_back([&, i] {
                    results[static_cast<std::size_t>(i)] =
                        leads::capture(*connections[static_cast<std::size_t>(i)], f.key,
                                       person("Racer " + std::to_string(i), phone), "form", f.settings, std::nullopt,
                                       "channel:web", kT0);
                });
            for (auto& t : threads) t.join();
            for (const auto& r : results) REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
            const int created = (results[0]->outcome == Captured::created) + (results[1]->outcome == Captured::created);
            CHECK(created == 1);
            CHECK(results[0]->lead->id == results[1]->lead->id);
        }
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == kRounds);
        CHECK(f.scalar("SELECT COUNT(*) FROM lead_inquiries") == 2 * kRounds);
    }
}

TEST_CASE("leads db: round-robin within the team up to the cap, then the unassigned queue") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        std::vector<std::string> assigned;
        for (int i = 0; i < 5; ++i) {
            f.clock.advance(1min);
            auto r = f.capture(person("Lead " + std::to_string(i), "+49 89 1000" + std::to_string(10 + i)));
            assigned.push_back(r.lead->assignee.value_or("-"));
        }
        CHECK(assigned == std::vector<std::string>{"anna", "ben", "anna", "ben", "-"});
        // Outside every team's region: unassigned.
        auto far = f.capture(person("Far Away", "+49 40 1234567", "", "20095"));
        CHECK_FALSE(far.lead->assignee.has_value());
        LeadQuery queue;
        queue.unassigned = true;
        CHECK(ok(list_leads(f.db(), f.key, queue)).size() == 2);
        // A lead lost frees room for the next one.
        auto first = ok(get_lead(f.db(), f.key, 1));
        REQUIRE(first);
        Lead lost = *first;
        lost.status = LeadStatus::lost;
        ok(update_lead(f.db(), f.key, lost, first->version, f.settings, "anna", f.clock.now()));
        f.clock.advance(1min);
        CHECK(f.capture(person("Next", "+49 89 1000099")).lead->assignee == std::optional<std::string>("anna"));
        // Only an active sales rep can be assigned.
        Lead to_boss = *ok(get_lead(f.db(), f.key, 2));
        to_boss.assignee = "boss";
        auto refused = update_lead(f.db(), f.key, to_boss, to_boss.version, f.settings, "office", f.clock.now());
        REQUIRE_FALSE(refused.ok());
        CHECK(refused.error().message == "assignee: 'boss' is not a sales rep");
    }
}

TEST_CASE("leads db: touches set first and last touch, the next step and the status; the SLA follows") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto lead = *f.capture(person("Touchy", "+49 89 2000000")).lead;
        CHECK(sla_status(lead, f.settings.sla, kT0 + 25h).overdue);
        Touch t;
        t.lead_id = lead.id;
        t.kind = TouchKind::call;
        t.outcome = Outcome::scheduled;
        t.at = kT0 + 30min;
        t.notes = "site visit Friday";
        t.next_step_on = "2026-07-03";
        f.clock.set(kT0 + 1h);
        const auto saved = ok(add_touch(f.db(), f.key, t, f.settings, "anna", f.clock.now()));
        CHECK(saved.by == "anna");
        const auto after = *ok(get_lead(f.db(), f.key, lead.id));
        CHECK(after.status == LeadStatus::contacted);
        CHECK(after.first_touch_at == kT0 + 30min);
        CHECK(after.next_step_on == std::optional<std::string>("2026-07-03"));
        CHECK(after.score == lead.score + 15);  // answered within the hour
        CHECK_FALSE(sla_status(after, f.settings.sla, kT0 + 25h).overdue);
        CHECK(sla_status(after, f.settings.sla, kT0 + 72h).overdue);
        auto touches = ok(list_touches(f.db(), f.key, lead.id));
        REQUIRE(touches.size() == 1);
        CHECK(touches[0].notes == "site visit Friday");
        // A touch in the future is refused at its field.
        t.at = f.clock.now() + 1h;
        auto future = add_touch(f.db(), f.key, t, f.settings, "anna", f.clock.now());
        REQUIRE_FALSE(future.ok());
        CHECK(future.error().path == "at");
    }
}

TEST_CASE("leads db: channels keep only a hash of their key; supervisors refuse circles") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const auto made = ok(create_channel(f.db(), "Website form", Source::website, "", "admin", kT0));
        CHECK(made.key.size() > 40);
        CHECK(f.scalar("SELECT COUNT(*) FROM lead_channels WHERE key_hash = '" + made.key + "'") == 0);
        CHECK(ok(channel_for_key(f.db(), made.key))->name == "Website form");
        CHECK_FALSE(ok(channel_for_key(f.db(), made.key + "x")).has_value());
        CHECK(create_channel(f.db(), "Website form", Source::website, "", "admin", kT0).error().path == "name");
        ok(set_channel_disabled(f.db(), made.channel.id, true, "admin", kT0));
        CHECK_FALSE(ok(channel_for_key(f.db(), made.key)).has_value());

        ok(records::set_supervisor(f.db(), "anna", std::string("office"), "admin", kT0));
        ok(records::set_supervisor(f.db(), "office", std::string("boss"), "admin", kT0));
        auto circle = records::set_supervisor(f.db(), "boss", std::string("anna"), "admin", kT0);
        REQUIRE_FALSE(circle.ok());
        CHECK(circle.error().path == "supervisor");
        CHECK(records::set_supervisor(f.db(), "anna", std::string("nobody"), "admin", kT0).error().message ==
              "supervisor: no user 'nobody'");
        bool found = false;
        for (const auto& u : ok(records::list_users(f.db())))
            if (u.name == "anna") found = u.supervisor == std::optional<std::string>("office");
        CHECK(found);
        ok(records::set_supervisor(f.db(), "anna", std::nullopt, "admin", kT0));
    }
}

TEST_CASE("leads db: CSV import is all or nothing, with errors by line and column; repeats attach") {
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        const std::string bad =
            "name,phone,email,postcode,roof_type,monthly_bill,consent_contact\n"
            "Anna Alt,+49 89 3000001,,80331,tile,120,yes\n"
            "Bert Bad,,not-mail,80331,thatch,12a,maybe\n"
            ",+49 89 3000003,,80331,,,\n";
        auto report = ok(import_leads_csv(f.db(), f.key, bad, f.settings, "office", kT0));
        CHECK_FALSE(report.committed);
        std::vector<std::string> errors;
        for (const auto& e : report.errors) errors.push_back(std::to_string(e.line) + " " + e.column);
        CHECK(errors == std::vector<std::string>{"3 roof_type", "3 monthly_bill", "3 consent_contact", "3 email",
                                                 "4 name"});
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == 0);

        const std::string good =
            "name,phone,email,postcode,roof_type,monthly_bill,consent_contact,assignee\n"
            "Anna Alt,+49 89 3000001,,80331,tile,120,yes,\n"
            "Anna Alt,089 3000001,anna@alt.de,80331,,,yes,\n"
            "Carl Neu,+49 89 3000002,,20095,,,no,ben\n";
        report = ok(import_leads_csv(f.db(), f.key, good, f.settings, "office", kT0));
        CHECK(report.committed);
        CHECK(report.leads_created == 2);
        CHECK(report.attached_to_leads == 1);
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == 2);
        CHECK(f.scalar("SELECT COUNT(*) FROM leads WHERE assignee = 'ben'") == 1);

        // A row the database refuses (no such rep) rolls the whole file back and is named.
        const std::string refused = "name,phone,assignee\nDora,+49 89 3000004,\nEmil,+49 89 3000005,zoe\n";
        report = ok(import_leads_csv(f.db(), f.key, refused, f.settings, "office", kT0));
        CHECK_FALSE(report.committed);
        REQUIRE(report.errors.size() == 1);
        CHECK(report.errors[0].line == 3);
        CHECK(report.errors[0].column == "assignee");
        CHECK(f.scalar("SELECT COUNT(*) FROM leads") == 2);

        Settings small = f.settings;
        small.import.max_rows = 1;
        report = ok(import_leads_csv(f.db(), f.key, good, small, "office", kT0));
        CHECK_FALSE(report.committed);
        REQUIRE(report.errors.size() == 1);
        CHECK(report.errors[0].message.find("max_rows") != std::string::npos);
    }
}

TEST_CASE("leads db: what de-duplication against customers costs per capture (figures, not a limit)") {
    // Customers' contact fields are ciphertext: their keyed hashes are kept in customer_contact_keys, renewed by
    // the first capture after a customer changed. This prints that catch-up and the time per capture of a new
    // person afterwards over fleets of 0, 1 000 and 5 000 customers (Debug + ASan builds are several times slower
    // than Release).
    test::TempDir dir;
    for (const auto& be : backends(dir)) {
        CAPTURE(be.name);
        Fixture f(be);
        int customers = 0;
        for (const int target : {0, 1000, 5000}) {
            REQUIRE(f.db().begin());
            for (; customers < target; ++customers) {
                const std::string n = std::to_string(customers);
                REQUIRE(f.db().run(
                    "INSERT INTO customers (name_enc, phone_enc, email_enc, address_enc, notes_enc, created_at_ms, "
                    "updated_at_ms, version) VALUES ($1, $2, $3, $4, $5, 0, 0, 1)",
                    {f.key.encrypt("Customer " + n), f.key.encrypt("+49 30 7" + std::string(6 - n.size(), '0') + n),
                     f.key.encrypt("c" + n + "@example.net"), f.key.encrypt(""), f.key.encrypt("")}));
            }
            REQUIRE(f.db().commit());
            using Clock = std::chrono::steady_clock;
            const auto ms_since = [](Clock::time_point t) {
                return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
            };
            auto t0 = Clock::now();
            f.capture(person("First " + std::to_string(target), "+49 40 8" + std::to_string(100000 + target), "",
                             "20095"));
            const double catch_up = ms_since(t0);
            constexpr int kCaptures = 10;
            t0 = Clock::now();
            for (int i = 0; i < kCaptures; ++i)
                f.capture(person("New " + std::to_string(i), "+49 40 9" + std::to_string(100000 + target + i), "",
                                 "20095"));
            MESSAGE(be.name << ": " << target << " customers: first capture after they were added " << catch_up
                            << " ms, then " << ms_since(t0) / kCaptures << " ms per capture of a new person");
            // A repeat of a customer attaches to them at any size.
            CHECK(f.capture(person("Again", "", target ? "C0@example.net" : "nobody@example.net")).outcome ==
                  (target ? Captured::attached_to_customer : Captured::created));
        }
        // An edited customer's new address is found after the edit.
        auto edited = ok(records::get_customer(f.db(), f.key, 1));
        REQUIRE(edited);
        edited->email = "moved@example.net";
        ok(records::update_customer(f.db(), f.key, *edited, edited->version, "office", kT0));
        CHECK(f.capture(person("Moved", "", "moved@example.net")).customer_id == std::optional<std::int64_t>(1));
    }
}
