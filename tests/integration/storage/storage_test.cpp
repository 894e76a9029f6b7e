// The same cases on SQLite and PostgreSQL: migrations, and the ingest ledger over them: idempotent ingest, gap
// bookkeeping, aggregates cut at the site's local midnight, tickets becoming work orders exactly once.
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <iostream>
#include <thread>

#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "support/paths.hpp"
#include "support/ingest_batches.hpp"
#include "support/postgres.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using namespace pvfleet::ingest_test;

namespace {

test::PostgresCluster& cluster() {
    static test::PostgresCluster c;
    return c;
}

struct Backend {
    std::string name;
    std::function<std::unique_ptr<storage::Db>()> open;
};

// Each call gives fresh databases: a new SQLite file, a new PostgreSQL database.
std::vector<Backend> backends(test::TempDir& dir) {
    static int counter = 0;
    std::vector<Backend> out;
    const auto path = (dir / ("s" + std::to_string(++counter) + ".db")).string();
    out.push_back({"sqlite", [path] {
                       storage::DbOptions o;
                       o.sqlite_path = path;
                       auto db = storage::open_db(o);
                       REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
                       return std::move(*db);
                   }});
    if (!storage::postgres_available()) {
        MESSAGE("this build has no libpqxx: PostgreSQL cases skipped");
        return out;
    }
    if (!cluster().ok()) {
        MESSAGE("PostgreSQL cases skipped: " << cluster().why());
        return out;
    }
    const auto uri = cluster().create_database("t" + std::to_string(counter));
    out.push_back({"postgres", [uri] {
                       storage::DbOptions o;
                       o.engine = storage::Engine::postgres;
                       o.postgres_uri = uri;
                       auto db = storage::open_db(o);
                       REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
                       return std::move(*db);
                   }});
    return out;
}

protocol::TicketEventMessage ticket(const std::string& site, protocol::Seq seq, const std::string& id,
                                    domain::TicketEventKind kind, const std::string& device,
                                    domain::FaultKind fault, domain::Severity sev, TimePoint at) {
    protocol::TicketEventMessage m;
    m.site_id = site;
    m.seq = seq;
    m.sent_at = at;
    m.event.kind = kind;
    m.event.at = at;
    m.event.ticket.id = id;
    m.event.ticket.device_id = device;
    m.event.ticket.kind = fault;
    m.event.ticket.severity = sev;
    m.event.ticket.state =
        kind == domain::TicketEventKind::resolved ? domain::TicketState::resolved : domain::TicketState::open;
    m.event.ticket.summary = device + " " + std::string(domain::to_string(fault));
    m.event.ticket.opened_at = at;
    m.event.ticket.updated_at = at;
    m.event.ticket.evidence.push_back({"ac_power_w", 0, 3000, "W", at});
    return m;
}

long long scalar(storage::Db& db, const std::string& sql, const storage::Params& p = {}) {
    auto r = db.run(sql, p);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r->rows.empty() ? 0 : r->rows[0].integer(0);
}

}  // namespace

TEST_CASE(
    "storage: migrations apply once; ingest is idempotent on (site, seq); aggregates count each reading "
    "once") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        auto first = store.migrate();
        REQUIRE_MESSAGE(first.ok(), (first.ok() ? "" : first.error().message));
        CHECK(*first >= 1);
        CHECK(*store.migrate() == 0);
        if (be.name == "postgres") {
            // Migration 6's PostgreSQL-only lines ran there (and nowhere else: SQLite would have failed on them).
            auto opts = store.db().run("SELECT CAST(reloptions AS TEXT) FROM pg_class WHERE relname = 'telemetry_daily'");
            REQUIRE(opts.ok());
            CHECK(opts->rows.at(0).text(0) == "{fillfactor=50}");
        }

        std::vector<protocol::Message> msgs{
            batch("s1", 1, {sample("inv1", t0(), 100), sample("inv1", t0() + 10s, 200)}),
            batch("s1", 2, {sample("inv1", t0() + 20s, 300)})};
        auto r = ledger.ingest(msgs);
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(r->applied == 2);
        CHECK(r->samples == 3);
        // Redelivered (QoS 1), and within one batch twice: nothing new.
        auto again = ledger.ingest({msgs[1], msgs[0], msgs[1]});
        REQUIRE(again.ok());
        CHECK(again->applied == 0);
        CHECK(again->duplicates == 3);
        CHECK(*store.count("telemetry", "s1") == 3);
        CHECK(*store.count("sites") == 1);  // created on first sight, unassigned
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM sites WHERE customer_id IS NULL") == 1);
        CHECK(scalar(store.db(),
                     "SELECT n FROM telemetry_5min WHERE site_id = 's1' AND point = 'ac_power_w'") == 3);
        CHECK(scalar(store.db(),
                     "SELECT CAST(sum AS BIGINT) FROM telemetry_5min WHERE point = 'ac_power_w'") == 600);
        CHECK(scalar(store.db(),
                     "SELECT CAST(max AS BIGINT) FROM telemetry_5min WHERE point = 'ac_power_w'") == 300);
        CHECK(scalar(store.db(), "SELECT contiguous_through FROM site_seq WHERE site_id = 's1'") == 2);
    }
}

TEST_CASE("storage: daily aggregates are cut at the site's local midnight") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        REQUIRE(store.migrate().ok());
        REQUIRE(ledger.ingest({batch("sh", 1, {sample("inv0", t0(), 1)})}).ok());
        REQUIRE(store.db().run("UPDATE sites SET time_zone = 'Asia/Shanghai' WHERE site_id = 'sh'").ok());
        // 15:59:50Z and 16:00:10Z on 1 July are 23:59:50 and 00:00:10 in Shanghai: two local days.
        const TimePoint before = t0() + 16h - 10s;
        const TimePoint after = t0() + 16h + 10s;
        REQUIRE(ledger.ingest({batch("sh", 2, {sample("inv1", before, 5), sample("inv1", after, 7)})}).ok());
        CHECK(scalar(store.db(),
                     "SELECT COUNT(*) FROM telemetry_daily WHERE site_id = 'sh' AND device_id = 'inv1' AND "
                     "point = 'ac_power_w' AND day = '2026-07-01'") == 1);
        CHECK(scalar(store.db(),
                     "SELECT n FROM telemetry_daily WHERE site_id = 'sh' AND device_id = 'inv1' AND point = "
                     "'ac_power_w' AND day = '2026-07-01'") == 1);
        CHECK(scalar(store.db(),
                     "SELECT n FROM telemetry_daily WHERE site_id = 'sh' AND point = 'ac_power_w' AND day = "
                     "'2026-07-02'") == 1);
    }
}

TEST_CASE(
    "storage: holes start the grace clock, become resend requests, and count as lost after the last "
    "attempt") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        REQUIRE(store.migrate().ok());
        ingest::GapPolicy policy;
        policy.grace = 30s;
        policy.retry = 60s;
        policy.max_attempts = 2;
        REQUIRE(ledger.ingest({batch("g", 1, {}), batch("g", 2, {}), batch("g", 6, {})}).ok());
        CHECK(ledger.due_resends(policy)->empty());  // still within grace: may be in flight
        clock.advance(31s);
        auto due = ledger.due_resends(policy);
        REQUIRE(due.ok());
        REQUIRE(due->size() == 1);
        CHECK((*due)[0].from_seq == 3);
        CHECK((*due)[0].to_seq == 5);
        CHECK(ledger.due_resends(policy)->empty());  // asked already; retry later
        REQUIRE(ledger.ingest({batch("g", 3, {})}).ok());
        clock.advance(61s);
        due = ledger.due_resends(policy);
        REQUIRE(due->size() == 1);
        CHECK((*due)[0].from_seq == 4);
        CHECK((*due)[0].attempt == 1);  // 3 arrived: the gateway answers, so the attempts start again
        clock.advance(61s);
        due = ledger.due_resends(policy);
        REQUIRE(due->size() == 1);
        CHECK((*due)[0].attempt == 2);
        clock.advance(61s);
        CHECK(ledger.due_resends(policy)->empty());  // gave up: 4..5 counted lost
        auto st = ledger.site_seq("g");
        REQUIRE(st.ok());
        REQUIRE(st->has_value());
        CHECK((*st)->contiguous_through == 6);
        CHECK((*st)->lost == 2);
        // Several holes at once are asked for together: 8, 10..11 (and the tail 13..14 from the status
        // below).
        REQUIRE(ledger.ingest({batch("g", 7, {}), batch("g", 9, {}), batch("g", 12, {})}).ok());
        clock.advance(31s);
        due = ledger.due_resends(policy);
        REQUIRE(due->size() == 2);
        CHECK((*due)[0].from_seq == 8);
        CHECK((*due)[0].to_seq == 8);
        CHECK((*due)[1].from_seq == 10);
        CHECK((*due)[1].to_seq == 11);
        REQUIRE(ledger.ingest({batch("g", 8, {}), batch("g", 10, {}), batch("g", 11, {})}).ok());
        CHECK((*ledger.site_seq("g"))->contiguous_through == 12);
        // A tail gap: the status says seq 14 exists.
        protocol::StatusMessage status;
        status.site_id = "g";
        status.sent_at = clock.now();
        status.agent_version = "t";
        status.uptime_s = 1;
        status.backlog_depth = 0;
        status.last_seq = 14;
        status.config_version = "c1";
        auto st_in = ledger.ingest({status});
        REQUIRE_MESSAGE(st_in.ok(), (st_in.ok() ? "" : st_in.error().message));
        clock.advance(31s);
        due = ledger.due_resends(policy);
        REQUIRE(due->size() == 1);
        CHECK((*due)[0].from_seq == 13);
        CHECK((*due)[0].to_seq == 14);
    }
}

TEST_CASE("storage: a jump of the sequence (huge seq or last_seq) is passed over: bounded resends, sane lost") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        REQUIRE(store.migrate().ok());
        ingest::GapPolicy policy;
        policy.grace = 30s;
        policy.retry = 60s;
        policy.max_attempts = 2;
        REQUIRE(ledger.ingest({batch("j", 1, {}), batch("j", 2, {})}).ok());
        // A status claiming seq 2^52 exists is not believed: no tail gap, nothing asked for.
        protocol::StatusMessage status;
        status.site_id = "j";
        status.sent_at = clock.now();
        status.agent_version = "t";
        status.uptime_s = 1;
        status.backlog_depth = 0;
        status.last_seq = protocol::Seq{1} << 52;
        status.config_version = "c1";
        REQUIRE(ledger.ingest({status}).ok());
        clock.advance(31s);
        CHECK(ledger.due_resends(policy)->empty());
        CHECK((*ledger.site_seq("j"))->edge_last_seq == 0);
        // One stored message with the largest seq: a small hole before it is asked for, the jump is not.
        REQUIRE(ledger.ingest({batch("j", 4, {}), batch("j", protocol::kMaxSeq, {})}).ok());
        clock.advance(31s);
        auto due = ledger.due_resends(policy);
        REQUIRE(due.ok());
        REQUIRE(due->size() == 1);
        CHECK((*due)[0].from_seq == 3);
        CHECK((*due)[0].to_seq == 3);
        REQUIRE(ledger.ingest({batch("j", 3, {})}).ok());
        // Now the jump is the first hole: passed over at the next check, neither asked for nor lost.
        clock.advance(61s);
        CHECK(ledger.due_resends(policy)->empty());
        auto st = *ledger.site_seq("j");
        REQUIRE(st.has_value());
        CHECK(st->contiguous_through == protocol::kMaxSeq);
        CHECK(st->max_seen == protocol::kMaxSeq);
        CHECK(st->lost == 0);
        for (int i = 0; i < 5; ++i) {
            clock.advance(61s);
            CHECK(ledger.due_resends(policy)->empty());
        }
        // A hole just within the bound is still asked for, at most max_range seqs a command.
        REQUIRE(ledger.ingest({batch("k", 1, {}), batch("k", 1 + policy.max_gap + 1, {})}).ok());
        clock.advance(31s);
        due = ledger.due_resends(policy);
        REQUIRE(due->size() == 1);
        CHECK((*due)[0].from_seq == 2);
        CHECK((*due)[0].to_seq == 1 + policy.max_range);
    }
}

TEST_CASE(
    "storage: a ticket becomes one work order; evidence updates it; redelivery and a cleared condition") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        storage::WorkOrderSink sink;
        ledger.set_ticket_sink(&sink);
        REQUIRE(store.migrate().ok());
        using K = domain::TicketEventKind;
        const auto opened = ticket("w", 1, "T1", K::opened, "inv1", domain::FaultKind::string_fault,
                                   domain::Severity::minor, t0());
        auto r = ledger.ingest({opened});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(r->work_orders_created == 1);
        CHECK(ledger.ingest({opened})->work_orders_created == 0);  // redelivered: no second order
        auto updated = ticket("w", 2, "T1", K::updated, "inv1", domain::FaultKind::string_fault,
                              domain::Severity::major, t0() + 1h);
        r = ledger.ingest({updated});
        CHECK(r->work_orders_updated == 1);
        CHECK(*store.count("work_orders", "w") == 1);
        CHECK(scalar(store.db(),
                     "SELECT COUNT(*) FROM work_orders WHERE site_id = 'w' AND severity = 'major' AND "
                     "priority = 'high'") == 1);
        // Another device, same fault: its own order.
        r = ledger.ingest({ticket("w", 3, "T2", K::opened, "inv2", domain::FaultKind::string_fault,
                                 domain::Severity::minor, t0())});
        CHECK(r->work_orders_created == 1);
        // Resolved at the edge before anyone was sent: closed, condition cleared.
        r = ledger.ingest({ticket("w", 4, "T1", K::resolved, "inv1", domain::FaultKind::string_fault,
                                 domain::Severity::major, t0() + 2h)});
        CHECK(r->work_orders_updated == 1);
        CHECK(scalar(store.db(),
                     "SELECT COUNT(*) FROM work_orders WHERE device_id = 'inv1' AND state = 'closed' AND "
                     "is_open = 0") == 1);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE is_open = 1") == 1);
        // Every change is in the audit log.
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM audit_log WHERE entity = 'work_order'") == 4);
        // The database itself refuses a second open order for one (site, device, kind).
        auto dup = store.db().run(
            "INSERT INTO work_orders (site_id, device_id, kind, severity, priority, state, is_open, "
            "created_at_ms, "
            "updated_at_ms, due_at_ms, body) VALUES ('w', 'inv2', 'string_fault', 'minor', 'normal', 'new', "
            "1, 0, 0, 0, '{}')");
        CHECK_FALSE(dup.ok());
    }
}

TEST_CASE("storage: per-input tickets become one work order per input; redeliveries and old gateways' events") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        storage::WorkOrderSink sink;
        ledger.set_ticket_sink(&sink);
        REQUIRE(store.migrate().ok());
        using K = domain::TicketEventKind;
        auto on_input = [](protocol::TicketEventMessage m, int input) {
            m.event.ticket.input = input;
            m.event.ticket.summary = "MPPT " + std::to_string(input) + " open (no input)";
            return m;
        };
        const auto mppt2 = on_input(ticket("m", 1, "inv1-string_fault-mppt2-a", K::opened, "inv1",
                                           domain::FaultKind::string_fault, domain::Severity::major, t0()),
                                    2);
        const auto mppt1 = on_input(ticket("m", 2, "inv1-string_fault-mppt1-b", K::opened, "inv1",
                                           domain::FaultKind::string_fault, domain::Severity::major, t0() + 1h),
                                    1);
        auto r = ledger.ingest({mppt2});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(r->work_orders_created == 1);
        // A new fault on input 1 while input 2's order is open: its own order.
        r = ledger.ingest({mppt1});
        REQUIRE(r.ok());
        CHECK(r->work_orders_created == 1);
        // Redelivered (the broker's QoS 1, a resend): no third order, nothing updated.
        r = ledger.ingest({mppt2, mppt1});
        REQUIRE(r.ok());
        CHECK(r->work_orders_created == 0);
        CHECK(r->work_orders_updated == 0);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'm' AND is_open = 1") == 2);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'm' AND mppt_input = 2") == 1);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM tickets WHERE site_id = 'm' AND mppt_input = 1") == 1);
        auto order = storage::load_open_work_order(store.db(), "m", "inv1", domain::FaultKind::string_fault, 2);
        REQUIRE(order.ok());
        REQUIRE(order->has_value());
        CHECK((*order)->input == 2);
        CHECK((*order)->ticket_id == "inv1-string_fault-mppt2-a");
        // Input 2 resolves: its order closes, input 1's stays open.
        auto resolved = mppt2;
        resolved.seq = 3;
        resolved.event.kind = K::resolved;
        resolved.event.ticket.state = domain::TicketState::resolved;
        resolved.event.at = t0() + 2h;
        r = ledger.ingest({resolved});
        REQUIRE(r.ok());
        CHECK(r->work_orders_updated == 1);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'm' AND is_open = 1 AND "
                                 "mppt_input = 1") == 1);
        // An event from a gateway that sends no input is about the whole device: a third, separate order.
        r = ledger.ingest({ticket("m", 4, "inv1-string_fault-c", K::opened, "inv1", domain::FaultKind::string_fault,
                                  domain::Severity::major, t0() + 3h)});
        REQUIRE(r.ok());
        CHECK(r->work_orders_created == 1);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'm' AND is_open = 1") == 2);
        // The gateway's status carries the site config's wiring: the device record keeps it for the back office.
        protocol::StatusMessage status;
        status.site_id = "m";
        status.sent_at = t0() + 4h;
        status.agent_version = "1";
        status.uptime_s = 60;
        status.backlog_depth = 0;
        status.config_version = "c1";
        status.devices.push_back({"inv1", t0() + 4h, {1, 2}});
        r = ledger.ingest({status});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        auto wired = store.db().run("SELECT wired_inputs FROM devices WHERE site_id = 'm' AND device_id = 'inv1'");
        REQUIRE(wired.ok());
        REQUIRE(wired->rows.size() == 1);
        CHECK(wired->rows[0].text(0) == "[1,2]");
        // The database refuses a second open order for one (site, device, kind, input).
        auto dup = store.db().run(
            "INSERT INTO work_orders (site_id, device_id, kind, severity, priority, state, is_open, created_at_ms, "
            "updated_at_ms, due_at_ms, body, mppt_input) VALUES ('m', 'inv1', 'string_fault', 'minor', 'normal', "
            "'new', 1, 0, 0, 0, '{}', 1)");
        CHECK_FALSE(dup.ok());
    }
}

TEST_CASE("storage: migration 9 keeps open whole-device orders; reopen and resolve go by input") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        storage::WorkOrderSink sink;
        ledger.set_ticket_sink(&sink);
        REQUIRE(store.migrate().ok());
        using K = domain::TicketEventKind;
        const auto fault = domain::FaultKind::string_fault;
        const auto major = domain::Severity::major;
        // A database from before migration 9 with an open whole-device order (an old gateway's string_fault).
        auto r = ledger.ingest({ticket("w", 1, "inv1-string_fault-old", K::opened, "inv1", fault, major, t0())});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        auto old = store.db().run_script(
            "DROP INDEX work_orders_one_open;"
            "ALTER TABLE work_orders DROP COLUMN mppt_input;"
            "CREATE UNIQUE INDEX work_orders_one_open ON work_orders(site_id, device_id, kind) WHERE is_open = 1;"
            "ALTER TABLE tickets DROP COLUMN mppt_input;"
            "ALTER TABLE devices DROP COLUMN wired_inputs;"
            "DELETE FROM schema_migrations WHERE version = 9;");
        REQUIRE_MESSAGE(old.ok(), (old.ok() ? "" : old.error().message));
        auto migrated = store.migrate();
        REQUIRE_MESSAGE(migrated.ok(), (migrated.ok() ? "" : migrated.error().message));
        CHECK(*migrated == 1);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'w' AND is_open = 1 AND "
                                 "mppt_input = 0") == 1);

        auto on_input = [](protocol::TicketEventMessage m, int input) {
            m.event.ticket.input = input;
            return m;
        };
        // The upgraded gateway's per-input ticket is its own order beside the old whole-device one.
        const auto in2 = on_input(ticket("w", 2, "inv1-string_fault-mppt2-a", K::opened, "inv1", fault, major,
                                         t0() + 1h), 2);
        r = ledger.ingest({in2});
        REQUIRE(r.ok());
        CHECK(r->work_orders_created == 1);
        // The old ticket's resolution (no input, as the old gateway sent it) clears the old order only.
        auto old_resolved = ticket("w", 3, "inv1-string_fault-old", K::resolved, "inv1", fault, major, t0() + 2h);
        r = ledger.ingest({old_resolved});
        REQUIRE(r.ok());
        CHECK(r->work_orders_updated == 1);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'w' AND is_open = 1") == 1);
        CHECK(scalar(store.db(), "SELECT mppt_input FROM work_orders WHERE site_id = 'w' AND is_open = 1") == 2);

        // Input 2 clears before anyone was sent: its order closes (condition cleared).
        auto in2_resolved = in2;
        in2_resolved.seq = 4;
        in2_resolved.event.kind = K::resolved;
        in2_resolved.event.ticket.state = domain::TicketState::resolved;
        in2_resolved.event.at = t0() + 3h;
        clock.set(t0() + 3h);
        r = ledger.ingest({in2_resolved});
        REQUIRE(r.ok());
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM work_orders WHERE site_id = 'w' AND is_open = 1") == 0);
        const auto in2_order = scalar(store.db(), "SELECT id FROM work_orders WHERE site_id = 'w' AND mppt_input = 2");

        // Within the reopen window a fault on input 1 is a new order: input 2's closed order is not reopened.
        clock.set(t0() + 4h);
        r = ledger.ingest({on_input(ticket("w", 5, "inv1-string_fault-mppt1-b", K::opened, "inv1", fault, major,
                                           t0() + 4h), 1)});
        REQUIRE(r.ok());
        CHECK(r->work_orders_created == 1);
        auto one = storage::load_open_work_order(store.db(), "w", "inv1", fault, 1);
        REQUIRE(one.ok());
        REQUIRE(one->has_value());
        CHECK((*one)->reopen_count == 0);
        // Input 2 fails again: its own order comes back.
        r = ledger.ingest({on_input(ticket("w", 6, "inv1-string_fault-mppt2-c", K::opened, "inv1", fault, major,
                                           t0() + 4h), 2)});
        REQUIRE(r.ok());
        CHECK(r->work_orders_created == 0);
        CHECK(r->work_orders_updated == 1);
        auto two = storage::load_open_work_order(store.db(), "w", "inv1", fault, 2);
        REQUIRE(two.ok());
        REQUIRE(two->has_value());
        CHECK((*two)->id == in2_order);
        CHECK((*two)->reopen_count == 1);
        CHECK((*two)->ticket_id == "inv1-string_fault-mppt2-c");
    }
}

TEST_CASE("storage: preventive inspections are created on each site's schedule, once") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        REQUIRE(store.migrate().ok());
        REQUIRE(ledger.ingest({batch("p", 1, {})}).ok());
        // Installed 2025-07-20, yearly inspections, orders created 30 days ahead: due on 2026-07-20, created
        // now.
        REQUIRE(store.db()
                    .run("UPDATE sites SET installed_on = '2025-07-20', inspection_interval_days = 365 WHERE "
                         "site_id = 'p'")
                    .ok());
        workorders::Policy policy;
        auto created = storage::create_due_preventive_orders(store.db(), clock.now(), policy);
        REQUIRE_MESSAGE(created.ok(), (created.ok() ? "" : created.error().message));
        CHECK(*created == 1);
        CHECK(*storage::create_due_preventive_orders(store.db(), clock.now(), policy) ==
              0);  // one open at a time
        CHECK(scalar(store.db(),
                     "SELECT COUNT(*) FROM work_orders WHERE site_id = 'p' AND kind = 'preventive' AND "
                     "device_id = 'site'") == 1);
        // A site installed last month is not due.
        REQUIRE(ledger.ingest({batch("q", 1, {})}).ok());
        REQUIRE(store.db().run("UPDATE sites SET installed_on = '2026-06-01' WHERE site_id = 'q'").ok());
        CHECK(*storage::create_due_preventive_orders(store.db(), clock.now(), policy) == 0);
    }
}

TEST_CASE("storage: a large group commit (several statements per table) counts every reading once") {
    // 700 batches of 300 sites: several multi-row statements per table on PostgreSQL, samples of one
    // bucket summed in memory; seqs arrive out of order across commits.
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store bulk(be.open(), clock);
        ingest::Ledger ledger(bulk.db(), clock);
        REQUIRE(bulk.migrate().ok());
        std::vector<protocol::Message> msgs;
        for (int k = 0; k < 700; ++k) {
            const std::string site = "site-" + std::to_string(k % 300);
            const auto seq = static_cast<protocol::Seq>(k / 300 + 1);
            const TimePoint t = t0() + std::chrono::minutes(k / 300) * 3;
            msgs.push_back(batch(site, seq, {sample("inv1", t, k), sample("inv1", t + 10s, k + 1.5), sample("inv2", t, 2 * k)}));
        }
        // Seq 3 of the first 100 sites comes first, alone; then everything (seq 3 again: duplicates).
        std::vector<protocol::Message> early(msgs.begin() + 600, msgs.end());
        auto r1 = ledger.ingest(early);
        REQUIRE_MESSAGE(r1.ok(), (r1.ok() ? "" : r1.error().message));
        CHECK(scalar(bulk.db(), "SELECT COUNT(*) FROM site_seq WHERE gap_since_ms IS NOT NULL") == 100);
        auto r2 = ledger.ingest(msgs);
        REQUIRE_MESSAGE(r2.ok(), (r2.ok() ? "" : r2.error().message));
        CHECK(r2->applied == 600);
        CHECK(r2->duplicates == 100);
        CHECK(r2->samples == 1800);

        CHECK(scalar(bulk.db(), "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw") == 2100);
        CHECK(scalar(bulk.db(), "SELECT SUM(n) FROM telemetry_5min WHERE point = 'ac_power_w'") == 2100);
        // Sum of all readings: inv1 k + (k + 1.5), inv2 2k, for k = 0..699.
        CHECK(scalar(bulk.db(), "SELECT CAST(SUM(sum) * 10 AS BIGINT) FROM telemetry_5min WHERE point = 'ac_power_w'") ==
              (4 * (699 * 700 / 2) * 10 + 700 * 15));
        CHECK(scalar(bulk.db(), "SELECT CAST(SUM(sum) * 10 AS BIGINT) FROM telemetry_daily WHERE point = 'ac_power_w'") ==
              (4 * (699 * 700 / 2) * 10 + 700 * 15));
        CHECK(scalar(bulk.db(), "SELECT COUNT(*) FROM site_seq WHERE gap_since_ms IS NOT NULL") == 0);
        // A new seq carrying one reading already stored (same device and time) and one new reading: only the
        // new one is stored and counted.
        auto r3 = ledger.ingest({batch("site-150", 3, {sample("inv1", t0(), 999), sample("inv1", t0() + 20s, 1)})});
        REQUIRE_MESSAGE(r3.ok(), (r3.ok() ? "" : r3.error().message));
        CHECK(r3->applied == 1);
        CHECK(r3->samples == 1);
        CHECK(scalar(bulk.db(), "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw") == 2101);
        CHECK(scalar(bulk.db(), "SELECT SUM(n) FROM telemetry_5min WHERE point = 'ac_power_w'") == 2101);
        CHECK(scalar(bulk.db(), "SELECT n FROM telemetry_5min WHERE site_id = 'site-150' AND device_id = 'inv1' "
                                "AND point = 'ac_power_w' AND bucket_ms = $1",
                     {to_epoch_ms(t0())}) == 5);
        CHECK(scalar(bulk.db(), "SELECT CAST(max * 10 AS BIGINT) FROM telemetry_5min WHERE site_id = 'site-150' AND "
                                "device_id = 'inv1' AND point = 'ac_power_w' AND bucket_ms = $1",
                     {to_epoch_ms(t0())}) == 4515);  // 451.5 from seq 2; not the 999 of the repeated reading
        CHECK(scalar(bulk.db(), "SELECT COUNT(*) FROM site_seq WHERE contiguous_through = 3") == 101);  // + site-150
        CHECK(scalar(bulk.db(), "SELECT COUNT(*) FROM site_seq WHERE contiguous_through = 2") == 199);
        CHECK(scalar(bulk.db(), "SELECT COUNT(*) FROM devices") == 600);
        // Daily first/last of one site and device: the earliest and the latest reading.
        CHECK(scalar(bulk.db(),
                     "SELECT CAST(first * 10 AS BIGINT) FROM telemetry_daily WHERE site_id = 'site-5' AND device_id = "
                     "'inv1' AND point = 'ac_power_w'") == 50);
        CHECK(scalar(bulk.db(),
                     "SELECT CAST(last * 10 AS BIGINT) FROM telemetry_daily WHERE site_id = 'site-5' AND device_id = "
                     "'inv1' AND point = 'ac_power_w'") == 6065);
    }
}

TEST_CASE("storage: raw rows hold one device's readings of one batch, span under an hour, and migrate from the "
          "row-per-reading layout") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        REQUIRE(store.migrate().ok());
        // A replay burst: 3 hours of one inverter at 5-minute steps (37 readings) and one meter reading.
        std::vector<domain::Sample> burst;
        for (int i = 0; i <= 36; ++i) burst.push_back(sample("inv1", t0() + std::chrono::minutes(5 * i), i));
        burst.push_back(sample("meter1", t0(), 7));
        auto r = ledger.ingest({batch("s1", 1, burst)});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(r->samples == 38);
        CHECK(*store.count("telemetry", "s1") == 38);
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM telemetry_raw WHERE device_id = 'meter1'") == 1);
        // 0:00-0:55, 1:00-1:55, 2:00-2:55, 3:00: each row spans less than kRawRowSpanMs.
        CHECK(scalar(store.db(), "SELECT COUNT(*) FROM telemetry_raw WHERE device_id = 'inv1'") == 4);
        CHECK(scalar(store.db(), "SELECT MAX(t_last_ms - t_first_ms) FROM telemetry_raw") < storage::kRawRowSpanMs);
        CHECK(scalar(store.db(), "SELECT n FROM telemetry_raw WHERE device_id = 'inv1' AND t_first_ms = $1",
                     {to_epoch_ms(t0() + 1h)}) == 12);
        // The same hours again under a new seq, with one new reading in the middle of a stored row's span:
        // only that one is new.
        burst.push_back(sample("inv1", t0() + 62min, 99));
        r = ledger.ingest({batch("s1", 2, burst)});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(r->samples == 1);
        CHECK(*store.count("telemetry", "s1") == 39);

        // A database from before migration 5: a row per reading, points as JSON. Rebuilt here from the current
        // schema, then migrated again.
        auto old = store.db().run_script(
            "DROP TABLE telemetry_raw;"
            "CREATE TABLE telemetry (site_id TEXT NOT NULL, device_id TEXT NOT NULL, t_ms BIGINT NOT NULL, "
            "seq BIGINT NOT NULL, points TEXT NOT NULL, PRIMARY KEY (site_id, device_id, t_ms));"
            "INSERT INTO telemetry VALUES ('s2', 'inv1', 1000, 4, '{\"values\":{\"ac_power_w\":5.5},\"state\":\"mppt\"}');"
            "INSERT INTO telemetry VALUES ('s2', 'inv1', 2000, 4, '{}');"
            "DELETE FROM schema_migrations WHERE version = 5;");
        REQUIRE_MESSAGE(old.ok(), (old.ok() ? "" : old.error().message));
        auto migrated = store.migrate();
        REQUIRE_MESSAGE(migrated.ok(), (migrated.ok() ? "" : migrated.error().message));
        CHECK(*migrated == 1);
        CHECK(*store.count("telemetry", "s2") == 2);
        auto rows = store.db().run("SELECT samples FROM telemetry_raw WHERE site_id = 's2' ORDER BY t_first_ms");
        REQUIRE(rows.ok());
        REQUIRE(rows->rows.size() == 2);
        CHECK(rows->rows[0].text(0) == R"([{"t":1000,"values":{"ac_power_w":5.5},"state":"mppt"}])");
        CHECK(rows->rows[1].text(0) == R"([{"t":2000}])");
        CHECK_FALSE(store.db().run("SELECT COUNT(*) FROM telemetry").ok());
        // Readings stored before the migration are still recognised as stored.
        domain::Sample again = sample("inv1", from_epoch_ms(2000), 1);
        r = ledger.ingest({batch("s2", 5, {again, sample("inv1", from_epoch_ms(3000), 2)})});
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        CHECK(r->samples == 1);
        CHECK(*store.count("telemetry", "s2") == 3);
    }
}

TEST_CASE("storage: under steady writes the SQLite WAL is checkpointed and starts over, so it stays bounded") {
    // 120 commits of 1 MiB each, back to back as a busy ingest writes them. Checkpoints run on their own thread
    // from 16 MiB of WAL on; without them the WAL would hold all 120 MiB.
    test::TempDir dir;
    const auto path = (dir / "wal.db").string();
    storage::DbOptions o;
    o.sqlite_path = path;
    auto db = storage::open_db(o);
    REQUIRE(db.ok());
    REQUIRE((*db)->run_script("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)").ok());
    const std::string body(1 << 20, 'x');
    for (int i = 0; i < 120; ++i) {
        REQUIRE((*db)->begin().ok());
        REQUIRE((*db)->run("INSERT INTO filler (body) VALUES ($1)", {body}).ok());
        REQUIRE((*db)->commit().ok());
        std::this_thread::sleep_for(2ms);  // a writer pauses between commits, as ingest does
    }
    const auto wal_bytes = std::filesystem::file_size(path + "-wal");
    CHECK(wal_bytes < 80u * 1024 * 1024);
    CHECK(scalar(**db, "SELECT COUNT(*) FROM filler") == 120);
}

TEST_CASE(
    "storage: a gateway going offline appends site.offline once per transition, to its PM and the back "
    "office") {
    test::TempDir dir;
    for (auto& be : backends(dir)) {
        CAPTURE(be.name);
        ManualClock clock(t0());
        storage::Store store(be.open(), clock);
        ingest::Ledger ledger(store.db(), clock);
        REQUIRE(store.migrate().ok());
        REQUIRE(
            store.db().run("INSERT INTO users (name, role, password_hash, created_at_ms) VALUES ('office', "
                           "'back_office', 'x', 0), ('gone', 'back_office', 'x', 0)"));
        REQUIRE(store.db().run("UPDATE users SET disabled = 1 WHERE name = 'gone'"));
        auto status_of = [&](protocol::SiteState state) {
            protocol::StatusMessage s;
            s.site_id = "off";
            s.state = state;
            s.sent_at = clock.now();
            s.agent_version = "t";
            s.uptime_s = 1;
            s.backlog_depth = 0;
            s.config_version = "c1";
            return s;
        };
        auto offline_events = [&] {
            return scalar(store.db(), "SELECT COUNT(*) FROM events WHERE name = 'site.offline'");
        };
        REQUIRE(ledger.ingest({status_of(protocol::SiteState::online)}).ok());
        CHECK(offline_events() == 0);
        clock.advance(60s);
        REQUIRE(ledger.ingest({status_of(protocol::SiteState::offline)}).ok());
        CHECK(offline_events() == 1);
        // The retained will delivered again, and an older online status arriving late: no new event.
        clock.advance(60s);
        REQUIRE(ledger.ingest({status_of(protocol::SiteState::offline)}).ok());
        auto late = status_of(protocol::SiteState::online);
        late.sent_at = t0();
        REQUIRE(ledger.ingest({late}).ok());
        CHECK(offline_events() == 1);
        // Back online, then offline again: a second transition.
        clock.advance(60s);
        REQUIRE(ledger.ingest({status_of(protocol::SiteState::online)}).ok());
        clock.advance(60s);
        REQUIRE(ledger.ingest({status_of(protocol::SiteState::offline)}).ok());
        CHECK(offline_events() == 2);
        const auto events = storage::events_after(store.db(), 0, 10);
        REQUIRE(events.ok());
        REQUIRE(events->size() == 2);
        CHECK(events->at(0).recipients == std::vector<std::string>{"office"});
        CHECK(events->at(0).data.at("site_id") == "off");
        CHECK_FALSE(events->at(0).data.contains("project_id"));  // no project for this site
    }
}
