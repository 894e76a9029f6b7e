#pragma once
// The fault walk of a group commit, for each engine (after Beast's fail_count): a Db that fails on its N-th
// statement, for N = 1, 2, … through the ingest of a representative batch until it succeeds. Each failure must
// come back as an error, leave the database exactly as it was, and a retry with the same Ledger must then store
// everything exactly once.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "pvfleet/fakes/failing_db.hpp"
#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/log.hpp"
#include "support/ingest_batches.hpp"

namespace pvfleet::ingest_test {

using namespace std::chrono_literals;

inline protocol::TicketEventMessage ticket(const std::string& site, protocol::Seq seq, domain::TicketEventKind kind) {
    protocol::TicketEventMessage m;
    m.site_id = site;
    m.seq = seq;
    m.sent_at = t0();
    m.event.kind = kind;
    m.event.at = t0();
    m.event.ticket.id = "T1";
    m.event.ticket.device_id = "inv1";
    m.event.ticket.kind = domain::FaultKind::string_fault;
    m.event.ticket.severity = domain::Severity::minor;
    m.event.ticket.state = domain::TicketState::open;
    m.event.ticket.summary = "inv1 string fault";
    m.event.ticket.opened_at = t0();
    m.event.ticket.updated_at = t0();
    m.event.ticket.evidence.push_back({"ac_power_w", 0, 3000, "W", t0()});
    return m;
}

inline protocol::Command resend_command(const std::string& site) {
    protocol::Command c;
    c.site_id = site;
    c.command_id = "c1";
    c.issued_at = t0();
    c.expires_at = t0() + 10min;
    c.body = protocol::ResendCommand{1, 2};
    return c;
}

// What an earlier commit left: site "old" with seqs 1 and 3 (a hole at 2), readings of inv1, a command sent.
inline std::vector<protocol::Message> earlier() {
    return {batch("old", 1, {sample("inv1", t0(), 100), sample("inv1", t0() + 10s, 110)}),
            batch("old", 3, {sample("inv1", t0() + 30s, 130)})};
}

// One of each kind of work: a new site and an old one, the hole at 2 filled (the prefix continues over 3 from
// the database), a reading stored before under another seq, a seq delivered twice within the batch and one
// seen in an earlier commit, a ticket that becomes a work order, a status revealing a tail gap, an ack.
inline std::vector<protocol::Message> representative() {
    protocol::StatusMessage status;
    status.site_id = "new";
    status.sent_at = t0();
    status.agent_version = "t";
    status.uptime_s = 1;
    status.backlog_depth = 0;
    status.last_seq = 5;
    status.config_version = "c1";
    protocol::CommandAck ack;
    ack.site_id = "old";
    ack.command_id = "c1";
    ack.status = protocol::AckStatus::done;
    ack.at = t0() + 1s;
    const auto fresh = batch("new", 1, {sample("inv1", t0(), 1), sample("meter1", t0(), 2)});
    return {fresh,
            fresh,
            batch("old", 2, {sample("inv1", t0() + 10s, 999), sample("inv1", t0() + 20s, 120)}),
            earlier()[0],
            ticket("new", 2, domain::TicketEventKind::opened),
            status,
            ack};
}

// Every row of every table ingest writes, as text, sorted: equal fingerprints, equal contents. Without
// `ids_stable` (PostgreSQL: a rolled-back transaction still uses up sequence numbers) the work orders and their
// audit entries are compared without their generated ids.
inline std::vector<std::string> fingerprint(storage::Db& db, bool ids_stable) {
    std::vector<std::pair<std::string, std::string>> queries;
    for (const char* table : {"sites", "site_seq", "received", "telemetry_raw", "telemetry_5min", "telemetry_daily",
                              "devices", "tickets", "ticket_events", "site_status", "commands", "ingest_rejects"})
        queries.emplace_back(table, std::string("SELECT * FROM ") + table);
    queries.emplace_back("work_orders", ids_stable ? "SELECT * FROM work_orders"
                                                   : "SELECT site_id, device_id, kind, severity, priority, state, "
                                                     "is_open, ticket_id, summary, created_at_ms FROM work_orders");
    queries.emplace_back("audit_log", ids_stable ? "SELECT * FROM audit_log"
                                                 : "SELECT at_ms, actor, action, entity FROM audit_log");
    std::vector<std::string> out;
    for (const auto& [table, sql] : queries) {
        auto rows = db.run(sql);
        REQUIRE_MESSAGE(rows.ok(), (rows.ok() ? "" : rows.error().message));
        for (const auto& row : rows->rows) {
            std::string text = table;
            for (std::size_t i = 0; i < row.cols.size(); ++i) text += "|" + (row.is_null(i) ? "NULL" : row.text(i));
            out.push_back(std::move(text));
        }
    }
    std::sort(out.begin(), out.end());
    return out;
}

// A fresh database holding what earlier() and the command left, behind a FailingDb that does not fail yet.
struct Setup {
    ManualClock clock{t0() + 1min};
    fakes::FailingDb* db = nullptr;  // owned by store
    std::unique_ptr<storage::Store> store;
    storage::WorkOrderSink sink;
    std::unique_ptr<ingest::Ledger> ledger;

    explicit Setup(std::unique_ptr<storage::Db> fresh) {
        auto failing = std::make_unique<fakes::FailingDb>(std::move(fresh));
        db = failing.get();
        store = std::make_unique<storage::Store>(std::move(failing), clock);
        REQUIRE(store->migrate().ok());
        ledger = std::make_unique<ingest::Ledger>(store->db(), clock);
        ledger->set_ticket_sink(&sink);
        REQUIRE(ledger->ingest(earlier()).ok());
        REQUIRE(store->record_command(resend_command("old"), "ingest", "{}").ok());
    }
};


// Walks N = 1, 2, … through the ingest of representative() on fresh databases from `open` (each name a new
// one) until it succeeds; returns how many statements the commit had. `ids_stable`: see fingerprint().
inline std::size_t walk_failures(const std::function<std::unique_ptr<storage::Db>(const std::string&)>& open,
                                 bool ids_stable) {
    log::set_level(log::Level::warn);  // a work order is logged on every one of the ~50 walks
    // The reference: the representative batch committed without a failure.
    std::vector<std::string> expected;
    ingest::IngestOutcome expected_outcome;
    std::size_t statements = 0;
    {
        Setup ref(open("ref"));
        ref.db->fail_at(0);
        auto r = ref.ledger->ingest(representative());
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        statements = ref.db->statements();
        expected = fingerprint(ref.store->db(), ids_stable);
        expected_outcome = *r;
        CHECK(r->applied == 3);     // new/1, old/2, new/2
        CHECK(r->duplicates == 2);  // new/1 again within the batch, old/1 from before
        CHECK(r->samples == 3);     // old/2's reading at +10 s was stored before under seq 1
        CHECK(r->work_orders_created == 1);
        CHECK(r->statuses == 1);
        CHECK(r->acks == 1);
        auto st = ref.ledger->site_seq("old");
        REQUIRE(st.ok());
        CHECK((*st)->contiguous_through == 3);
    }
    REQUIRE(statements > 10);

    std::size_t failures = 0;
    for (std::size_t n = 1;; ++n) {
        CAPTURE(n);
        Setup s(open("walk" + std::to_string(n)));
        const auto before = fingerprint(s.store->db(), ids_stable);
        s.db->fail_at(n);
        auto r = s.ledger->ingest(representative());
        if (!s.db->failed()) {
            // N is past the last statement: the commit went through untouched.
            REQUIRE(r.ok());
            CHECK(n == statements + 1);
            break;
        }
        ++failures;
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message.find("injected failure") != std::string::npos);
        s.db->fail_at(0);
        CHECK(fingerprint(s.store->db(), ids_stable) == before);  // nothing half written
        auto retry = s.ledger->ingest(representative());
        REQUIRE_MESSAGE(retry.ok(), (retry.ok() ? "" : retry.error().message));
        CHECK(retry->applied == expected_outcome.applied);
        CHECK(retry->samples == expected_outcome.samples);
        CHECK(retry->points == expected_outcome.points);
        CHECK(retry->work_orders_created == expected_outcome.work_orders_created);
        CHECK(fingerprint(s.store->db(), ids_stable) == expected);
        // Delivered once more: nothing changes.
        auto again = s.ledger->ingest(representative());
        REQUIRE(again.ok());
        CHECK(again->applied == 0);
        CHECK(fingerprint(s.store->db(), ids_stable) == expected);
    }
    CHECK(failures == statements);
    return statements;
}

}  // namespace pvfleet::ingest_test
