// Contracts and payments on SQLite and PostgreSQL: the payment plan resolved from milestones, payments
// allocated oldest due first, overdue on the clock, change orders moving the total, refusals at their key
// paths, overdue reminders once per rule, instalment and level (snooze, paid, two servers), and the
// collection rate over a sweep of random plans checked against a computation of the test's own.
#include "pvfleet/notifications/inbox.hpp"
#include "pvfleet/projects/contracts.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/projects/repository.hpp"
#include "pvfleet/records/customers.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/paths.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using namespace pvfleet::projects;
using namespace std::chrono_literals;

namespace {

const TimePoint kT0 = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z
constexpr auto kDay = std::chrono::hours(24);

const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

using test::Backend;
using test::ok;

struct Fixture {
    SimulatedTimeSystem time{kT0};
    storage::Store store;
    records::FieldCipher key = test::test_cipher();
    ProjectSettings settings = default_project_settings();
    explicit Fixture(const Backend& be) : store(be.open(), time) {
        REQUIRE(store.migrate());
        for (const auto& [name, role] :
             std::vector<std::pair<std::string, records::Role>>{{"anna", records::Role::sales},
                                                                {"ben", records::Role::sales},
                                                                {"pm", records::Role::project_manager},
                                                                {"boss", records::Role::manager}})
            REQUIRE(records::create_user(db(), name, name, role, "a long password", "setup", kT0));
        REQUIRE(records::set_supervisor(db(), "anna", std::string("boss"), "setup", kT0));
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql, const storage::Params& p = {}) {
        auto r = db().run(sql, p);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return r->rows.at(0).integer(0);
    }
    Project project(const std::string& name, std::optional<std::string> rep = std::string("anna")) {
        auto c = ok(records::create_customer(db(), key, records::Customer{0, name, "", "", "", "", {}, {}, 1},
                                             "office", time.now()));
        NewProject n;
        n.name = name;
        n.customer_id = c.id;
        n.manager = "pm";
        n.sales_rep = std::move(rep);
        n.started_on = "2026-07-01";
        return ok(create_project(db(), settings, n, "office", time.now()));
    }
    Contract contract(std::int64_t project_id, const std::string& number, std::int64_t amount,
                      const std::string& currency = "EUR") {
        ContractInput in;
        in.number = number;
        in.amount = amount;
        in.currency = currency;
        in.signed_on = std::optional<std::string>("2026-07-01");
        in.status = ContractStatus::signed_;
        return ok(create_contract(db(), project_id, in, "office", time.now()));
    }
    Instalment fixed(std::int64_t project_id, const std::string& label, std::int64_t amount,
                     const std::string& due) {
        Instalment i;
        i.label = label;
        i.amount = amount;
        i.due_on = due;
        return ok(add_instalment(db(), project_id, i, "office", time.now()));
    }
    Payment pay(std::int64_t project_id, std::int64_t amount, const std::string& on,
                const std::string& currency = "EUR") {
        Payment p;
        p.paid_on = on;
        p.amount = amount;
        p.currency = currency;
        p.reference = "ref";
        return ok(record_payment(db(), project_id, p, "office", time.now()));
    }
    ContractDetail detail(std::int64_t project_id) {
        auto d = ok(contract_detail(db(), project_id, time.now()));
        REQUIRE(d);
        return *d;
    }
    void done(std::int64_t project_id, const std::string& mkey, const std::string& on) {
        for (auto& m : ok(list_milestones(db(), project_id)))
            if (m.key == mkey) {
                MilestoneChange c;
                c.done_on = std::optional<std::string>(on);
                ok(update_milestone(db(), settings, project_id, m.id, c, m.version, "pm", time.now()));
                return;
            }
        FAIL("no milestone " << mkey);
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

const InstalmentStatus& by_label(const ContractDetail& d, const std::string& label) {
    for (const auto& s : d.plan.instalments)
        if (s.instalment.label == label) return s;
    FAIL("no instalment " << label);
    return d.plan.instalments.front();
}

// The key path of a refusal, or "" when it was accepted.
template <class T>
std::string refused_at(const Result<T>& r) {
    return r ? std::string() : r.error().path;
}

}  // namespace

TEST_CASE(
    "contracts db: the plan resolves from milestones, payments go to the oldest due first, overdue follows "
    "the clock, change orders move the total") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "contracts")) {
        CAPTURE(be.name);
        Fixture f(be);
        const Project p = f.project("Huber roof");
        // A draft first: its amount may change; signed, only by change orders.
        ContractInput draft;
        draft.number = "C-1";
        draft.amount = 1'000'000;
        draft.currency = "EUR";
        Contract c = ok(create_contract(f.db(), p.id, draft, "office", f.time.now()));
        CHECK(c.status == ContractStatus::draft);
        ContractInput sign;
        sign.status = ContractStatus::signed_;
        CHECK(refused_at(update_contract(f.db(), p.id, sign, c.version, "office", f.time.now())) ==
              "signed_on");
        sign.signed_on = std::optional<std::string>("2026-07-01");
        sign.amount = 1'200'000;
        c = ok(update_contract(f.db(), p.id, sign, c.version, "office", f.time.now()));
        CHECK(c.status == ContractStatus::signed_);
        CHECK(c.amount == 1'200'000);
        ContractInput more;
        more.amount = 1'300'000;
        CHECK(refused_at(update_contract(f.db(), p.id, more, c.version, "office", f.time.now())) == "amount");
        CHECK(refused_at(update_contract(f.db(), p.id, sign, c.version - 1, "office", f.time.now())) ==
              "version");
        ContractInput back;
        back.status = ContractStatus::draft;
        CHECK(refused_at(update_contract(f.db(), p.id, back, c.version, "office", f.time.now())) == "status");

        // 30 % on a day; 50 % 14 days after the installation; the rest (an amount) on grid acceptance.
        Instalment deposit;
        deposit.label = "Deposit";
        deposit.percent = 30;
        deposit.due_on = "2026-07-10";
        ok(add_instalment(f.db(), p.id, deposit, "office", f.time.now()));
        Instalment install;
        install.label = "Installation";
        install.percent = 50;
        install.after_milestone = "installation_done";
        install.after_days = 14;
        ok(add_instalment(f.db(), p.id, install, "office", f.time.now()));
        Instalment grid;
        grid.label = "Grid";
        grid.amount = 240'000;
        grid.after_milestone = "grid_acceptance";
        ok(add_instalment(f.db(), p.id, grid, "office", f.time.now()));

        auto d = f.detail(p.id);
        CHECK(d.plan.total == 1'200'000);
        CHECK(by_label(d, "Deposit").amount == 360'000);
        CHECK(by_label(d, "Installation").amount == 600'000);
        CHECK(!by_label(d, "Installation").due_on);  // its milestone is open
        CHECK(d.plan.instalments.front().instalment.label == "Deposit");
        CHECK(d.plan.planned == 1'200'000);

        // A partial payment; the deposit is partly paid, and overdue once its day is over — not a minute
        // before.
        f.time.advance_to(kT0 + 5 * kDay);
        f.pay(p.id, 100'000, "2026-07-05");
        d = f.detail(p.id);
        CHECK(by_label(d, "Deposit").paid == 100'000);
        CHECK(by_label(d, "Deposit").state == InstalmentState::partly_paid);
        f.time.advance_to(kT0 + 10 * kDay - 1min);  // 2026-07-10 23:59
        CHECK(by_label(f.detail(p.id), "Deposit").state == InstalmentState::partly_paid);
        f.time.advance_to(kT0 + 10 * kDay);  // 2026-07-11 00:00
        d = f.detail(p.id);
        CHECK(by_label(d, "Deposit").state == InstalmentState::overdue);
        CHECK(d.plan.overdue == 260'000);

        // The installation done on 20 July: its instalment is due on 3 August, and comes second in the order.
        f.time.advance_to(kT0 + 20 * kDay);
        f.done(p.id, "installation_done", "2026-07-20");
        d = f.detail(p.id);
        REQUIRE(by_label(d, "Installation").due_on);
        CHECK(*by_label(d, "Installation").due_on == "2026-08-03");
        CHECK(d.plan.instalments[1].instalment.label == "Installation");

        // A payment larger than the deposit's rest spills into the installation's instalment.
        f.pay(p.id, 400'000, "2026-07-20");
        d = f.detail(p.id);
        CHECK(by_label(d, "Deposit").state == InstalmentState::paid);
        CHECK(by_label(d, "Installation").paid == 140'000);
        CHECK(by_label(d, "Installation").state == InstalmentState::partly_paid);

        // A change order adds 100 000: the percent instalments follow the total, the fixed one does not.
        ChangeOrder co;
        co.number = "CO-1";
        co.amount_delta = 100'000;
        co.reason = "Battery added";
        co.approved_on = "2026-07-15";
        ok(add_change_order(f.db(), p.id, co, "office", f.time.now()));
        d = f.detail(p.id);
        CHECK(d.plan.total == 1'300'000);
        CHECK(by_label(d, "Deposit").amount == 390'000);
        CHECK(by_label(d, "Installation").amount == 650'000);
        CHECK(by_label(d, "Grid").amount == 240'000);
        CHECK(by_label(d, "Installation").paid == 110'000);
        CHECK(refused_at(add_change_order(f.db(), p.id, co, "office", f.time.now())) ==
              "number");  // CO-1 again
        co.number = "CO-2";
        co.amount_delta = -2'000'000;
        CHECK(refused_at(add_change_order(f.db(), p.id, co, "office", f.time.now())) == "amount_delta");
        co.amount_delta = 0;
        CHECK(refused_at(add_change_order(f.db(), p.id, co, "office", f.time.now())) == "amount_delta");

        // Paying everything and more: the rest is a credit, not an instalment's.
        f.pay(p.id, 1'000'000, "2026-07-21");
        d = f.detail(p.id);
        CHECK(d.plan.paid == 1'500'000);
        CHECK(d.plan.allocated == 1'280'000);
        CHECK(d.plan.unallocated == 220'000);
        CHECK(d.plan.outstanding == 0);
        for (const auto& s : d.plan.instalments) CHECK(s.state == InstalmentState::paid);

        // Refusals at their key paths; nothing written by them.
        const auto payments = f.scalar("SELECT COUNT(*) FROM contract_payments");
        Payment bad;
        bad.paid_on = "2026-07-20";
        bad.amount = 5;
        bad.currency = "CHF";
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "currency");
        bad.currency = "eur";
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "currency");
        bad.currency = "EUR";
        bad.paid_on = "2026-07-22";  // tomorrow
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "paid_on");
        bad.paid_on = "2026-02-30";
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "paid_on");
        bad.paid_on = "2026-07-20";
        bad.amount = 0;
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "amount");
        bad.amount = kMaxMinorAmount + 1;
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "amount");
        CHECK(f.scalar("SELECT COUNT(*) FROM contract_payments") == payments);
        Instalment both;
        both.label = "x";
        both.amount = 1;
        both.percent = 1;
        both.due_on = "2026-08-01";
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "percent");
        both.percent.reset();
        both.after_milestone = "commissioning";
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "after_milestone");
        both.due_on.reset();
        both.after_milestone = "no_such_milestone";
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "after_milestone");
        both.after_milestone.reset();
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "due_on");
        both.due_on = "2026-13-01";
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "due_on");
        both.due_on = "2026-08-01";
        both.percent = 101;
        both.amount.reset();
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "percent");
        both.percent.reset();
        both.amount = 1;
        both.label = " ";
        CHECK(refused_at(add_instalment(f.db(), p.id, both, "office", f.time.now())) == "label");

        // One contract per project, one number per contract.
        const Project other = f.project("Other roof");
        CHECK(refused_at(create_contract(f.db(), p.id, draft, "office", f.time.now())) == "project_id");
        CHECK(refused_at(create_contract(f.db(), other.id, draft, "office", f.time.now())) == "number");
        draft.currency = "EURO";
        draft.number = "C-2";
        CHECK(refused_at(create_contract(f.db(), other.id, draft, "office", f.time.now())) == "currency");

        // Cancelled: no more payments. Every change above is in the audit log.
        ContractInput cancel;
        cancel.status = ContractStatus::cancelled;
        c = ok(
            update_contract(f.db(), p.id, cancel, f.detail(p.id).contract.version, "office", f.time.now()));
        bad.amount = 5;
        CHECK(refused_at(record_payment(f.db(), p.id, bad, "office", f.time.now())) == "amount");
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'contract'") == 3);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'instalment'") == 3);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'payment'") == 3);
        CHECK(f.scalar("SELECT COUNT(*) FROM audit_log WHERE entity = 'change_order'") == 1);
    }
}

TEST_CASE(
    "contracts db: an overdue instalment reminds the rep once, escalates later; snooze defers, paid stops, "
    "two servers send once") {
    test::TempDir dir;
    for (const auto& be : test::fresh_backends(dir, "contracts")) {
        CAPTURE(be.name);
        Fixture f(be);
        ReminderSettings rules;
        rules.check_interval_s = 3600;
        rules.rules.push_back(StallRule{"late_pay", "", "", 3, 2, RuleKind::payment_overdue});
        const Project a = f.project("Alpha");    // runs its course
        const Project b = f.project("Bravo");    // snoozed past the escalation
        const Project c = f.project("Charlie");  // paid after the reminder
        const Project d =
            f.project("Delta", std::nullopt);  // no rep: the project manager, who has no supervisor
        std::map<std::int64_t, std::int64_t> instalment_of;
        for (const auto& p : {a, b, c, d}) {
            f.contract(p.id, "C-" + p.name, 500'000);
            instalment_of[p.id] = f.fixed(p.id, "Deposit", 150'000, "2026-07-05").id;
        }
        ReminderScheduler scheduler(f.time, f.db(), rules);
        scheduler.start();
        // Due day over at 6 July 00:00; 3 days later (9 July 00:00) the reminder, not an hour before.
        f.time.advance_to(kT0 + 8 * kDay - 1h);
        CHECK(f.inbox("anna").empty());
        f.time.advance_to(kT0 + 8 * kDay);
        auto anna = f.inbox("anna");
        REQUIRE(anna.size() == 3);
        CHECK(anna[0].event == "payment.overdue");
        CHECK(anna[0].title.find("Payment overdue: Deposit — ") == 0);
        CHECK(f.inbox("pm").size() == 1);  // Delta's
        // Bravo snoozed until 14 July; Charlie paid in full on 9 July.
        auto snoozed = f.detail(b.id).instalments.front();
        InstalmentChange snooze;
        snooze.snoozed_until = std::optional<TimePoint>(kT0 + 13 * kDay);
        ok(update_instalment(f.db(), b.id, snoozed.id, snooze, snoozed.version, "anna", f.time.now()));
        f.time.advance(1h);
        f.pay(c.id, 150'000, "2026-07-09");
        f.time.advance_to(kT0 + 10 * kDay);  // escalation (2 more days): Alpha only
        auto boss = f.inbox("boss");
        REQUIRE(boss.size() == 1);
        CHECK(boss[0].event == "payment.escalated");
        CHECK(boss[0].project_id == a.id);
        CHECK(scheduler.last().no_recipient == 1);  // Delta: pm has nobody to escalate to
        f.time.advance_to(kT0 + 13 * kDay + 1h);    // Bravo's snooze is over: its escalation follows
        boss = f.inbox("boss");
        REQUIRE(boss.size() == 2);
        CHECK(boss[0].project_id == b.id);
        // More days and a restart on a new connection: nothing twice.
        f.time.advance_to(kT0 + 20 * kDay);
        scheduler.stop();
        auto connection = be.open();
        ReminderScheduler restarted(f.time, *connection, rules);
        restarted.start();
        f.time.advance(kDay);
        restarted.stop();
        CHECK(f.inbox("anna").size() == 3);
        CHECK(f.inbox("boss").size() == 2);
        CHECK(f.scalar("SELECT COUNT(*) FROM payment_reminders") == 6);
        CHECK(f.scalar("SELECT COUNT(*) FROM payment_reminders WHERE instalment_id = $1",
                       {instalment_of[c.id]}) == 1);

        // Two servers evaluating at once over their own connections: each reminder once.
        const Project e = f.project("Echo");
        f.contract(e.id, "C-Echo", 100'000);
        f.fixed(e.id, "All", 100'000, "2026-07-01");
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

TEST_CASE(
    "contracts db: the collection rate over random plans and payments matches the test's own arithmetic") {
    test::TempDir dir;
    const unsigned seed = std::random_device{}();
    CAPTURE(seed);
    for (const auto& be : test::fresh_backends(dir, "contracts")) {
        CAPTURE(be.name);
        Fixture f(be);
        f.time.advance_to(kT0 + 120 * kDay);  // 2026-10-29: payments may be dated up to here
        std::mt19937 rng(seed);
        auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
        const std::vector<std::optional<std::string>> reps{std::string("anna"), std::string("ben"),
                                                           std::nullopt};
        const std::vector<std::string> currencies{"EUR", "CHF"};
        // key (month or rep) × currency → due, collected, count.
        using Figures =
            std::map<std::pair<std::string, std::string>, std::tuple<std::int64_t, std::int64_t, int>>;
        Figures by_month, by_rep;
        const std::string from = "2026-07-01", to = "2026-09-30";
        for (int n = 0; n < 12; ++n) {
            const auto rep = reps[static_cast<std::size_t>(pick(0, 2))];
            const Project p = f.project("Roof " + std::to_string(n), rep);
            const std::string currency = currencies[static_cast<std::size_t>(pick(0, 1))];
            const std::int64_t amount = pick(100'000, 3'000'000);
            f.contract(p.id, "C-" + std::to_string(n), amount, currency);
            std::int64_t total = amount;
            if (pick(0, 1) == 1) {
                ChangeOrder co;
                co.number = "CO";
                co.amount_delta = pick(-50'000, 200'000) + 1;
                if (co.amount_delta == 0) co.amount_delta = 7;
                co.reason = "change";
                co.approved_on = "2026-07-02";
                ok(add_change_order(f.db(), p.id, co, "office", f.time.now()));
                total += co.amount_delta;
            }
            // The survey done on a random day: instalments after it resolve from there.
            const std::string survey = add_days("2026-06-15", pick(0, 6) * 10);
            f.done(p.id, "survey_done", survey);
            struct Own {
                std::int64_t id, amount;
                std::string due;
            };
            std::vector<Own> own;
            const int count = pick(1, 5);
            for (int k = 0; k < count; ++k) {
                Instalment i;
                i.label = "I" + std::to_string(k);
                if (pick(0, 1) == 1)
                    i.percent = pick(1, 60);
                else
                    i.amount = pick(1, 800'000);
                std::string due;
                if (pick(0, 2) == 0) {
                    i.after_milestone = "survey_done";
                    i.after_days =
                        pick(0, 4) * 10;  // coarse days: equal due days are common, so is their tie-break
                    due = add_days(survey, i.after_days);
                } else {
                    i.due_on = add_days("2026-06-15", pick(0, 12) * 10);
                    due = *i.due_on;
                }
                const auto made = ok(add_instalment(f.db(), p.id, i, "office", f.time.now()));
                const std::int64_t resolved =
                    i.amount ? *i.amount
                             : (total * *i.percent) / 100 + ((total * *i.percent) % 100 >= 50 ? 1 : 0);
                own.push_back({made.id, resolved, due});
            }
            std::int64_t paid = 0;
            for (int k = pick(0, 4); k > 0; --k) {
                const std::int64_t amount_paid = pick(1, 900'000);
                f.pay(p.id, amount_paid, add_days("2026-07-01", pick(0, 100)), currency);
                paid += amount_paid;
            }
            const bool cancelled = pick(0, 5) == 0;
            if (cancelled) {
                ContractInput cancel;
                cancel.status = ContractStatus::cancelled;
                ok(update_contract(f.db(), p.id, cancel, f.detail(p.id).contract.version, "office",
                                   f.time.now()));
                continue;  // a cancelled contract's plan is due no more
            }
            // The test's own allocation: an instalment gets what the payments' sum leaves after every
            // instalment due before it (by day, then as added), at most its amount.
            for (const auto& i : own) {
                std::int64_t before = 0;
                for (const auto& j : own)
                    if (j.due < i.due || (j.due == i.due && j.id < i.id)) before += j.amount;
                const std::int64_t got = std::clamp<std::int64_t>(paid - before, 0, i.amount);
                if (i.due < from || i.due > to) continue;
                for (auto* figures : {&by_month, &by_rep}) {
                    const std::string k = figures == &by_month ? i.due.substr(0, 7) : rep.value_or("");
                    auto& [due, collected, instalments] = (*figures)[{k, currency}];
                    due += i.amount;
                    collected += got;
                    ++instalments;
                }
            }
        }
        const auto report = ok(collection_report(f.db(), from, to, f.time.now()));
        auto as_map = [](const std::vector<CollectionFigure>& list) {
            Figures out;
            for (const auto& x : list) out[{x.key, x.currency}] = {x.due, x.collected, x.instalments};
            return out;
        };
        CHECK(as_map(report.by_month) == by_month);
        CHECK(as_map(report.by_rep) == by_rep);
        CHECK(!by_month.empty());
    }
}
