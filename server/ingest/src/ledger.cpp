#include "pvfleet/ingest/ledger.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "ledger_parts.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/storage/bulk.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::ingest {

using storage::run_bulk;
using storage::Value;

namespace {

protocol::Seq seq_of(const protocol::Message& m) {
    if (const auto* b = std::get_if<protocol::TelemetryBatch>(&m)) return b->seq;
    if (const auto* t = std::get_if<protocol::TicketEventMessage>(&m)) return t->seq;
    return 0;
}

bool is_sequenced(const protocol::Message& m) {
    return std::holds_alternative<protocol::TelemetryBatch>(m) ||
           std::holds_alternative<protocol::TicketEventMessage>(m);
}

}  // namespace

Ledger::Ledger(storage::Db& db, const Clock& clock)
    : db_(db), clock_(clock), telemetry_(std::make_unique<TelemetryWriter>()) {}
Ledger::~Ledger() = default;

// Sites not on record are created unassigned (never dropped). On PostgreSQL the batch's sites are locked in
// one sorted statement: it serialises ingest of a site across server instances (shared subscriptions), so the
// sequence bookkeeping and the one-open-work-order rule see each other's commits, and two instances never
// deadlock on each other's batches.
Status Ledger::prepare_sites(const std::vector<std::string>& sites, std::int64_t now_ms,
                             std::vector<std::string>& created) {
    std::vector<Value> site_rows, seq_rows;
    for (const auto& s : sites) {
        if (known_sites_.count(s) != 0) continue;
        site_rows.insert(site_rows.end(), {s, now_ms, now_ms, now_ms});
        seq_rows.emplace_back(s);
        created.push_back(s);
    }
    if (!seq_rows.empty()) {
        PVF_CHECK(run_bulk(db_,
                           {"INSERT INTO sites (site_id, first_seen_ms, created_at_ms, updated_at_ms) VALUES ",
                            "(?, ?, ?, ?)", " ON CONFLICT (site_id) DO NOTHING", 4},
                           site_rows));
        PVF_CHECK(run_bulk(db_, {"INSERT INTO site_seq (site_id) VALUES ", "(?)", " ON CONFLICT (site_id) DO NOTHING", 1},
                           seq_rows));
    }
    if (db_.engine() == storage::Engine::postgres) {
        std::vector<Value> all(sites.begin(), sites.end());
        PVF_CHECK(run_bulk(db_, {"SELECT site_id FROM site_seq WHERE site_id IN (", "?", ") ORDER BY site_id FOR UPDATE", 1},
                           all));
    }
    return {};
}

Result<IngestOutcome> Ledger::ingest(const std::vector<protocol::Message>& messages) {
    const TimePoint now = clock_.now();
    const std::int64_t now_ms = to_epoch_ms(now);
    // Site order (then seq) for a stable lock order and deterministic processing.
    std::vector<const protocol::Message*> ordered;
    ordered.reserve(messages.size());
    for (const auto& m : messages) ordered.push_back(&m);
    std::stable_sort(ordered.begin(), ordered.end(), [&](const auto* a, const auto* b) {
        const auto& sa = protocol::site_of(*a);
        const auto& sb = protocol::site_of(*b);
        if (sa != sb) return sa < sb;
        return seq_of(*a) < seq_of(*b);
    });
    std::vector<std::string> sites;
    for (const auto* m : ordered)
        if (sites.empty() || sites.back() != protocol::site_of(*m)) sites.push_back(protocol::site_of(*m));

    std::vector<std::string> created;
    auto result = storage::in_transaction(db_, [&]() -> Result<IngestOutcome> {
        created.clear();
        IngestOutcome out;
        PVF_CHECK(prepare_sites(sites, now_ms, created));
        Touched touched;
        // Status, acks, echoed commands: few, one by one.
        std::vector<const protocol::Message*> sequenced;
        for (const auto* m : ordered) {
            if (is_sequenced(*m))
                sequenced.push_back(m);
            else
                PVF_CHECK(ingest_unsequenced(*m, now_ms, out, touched));
        }
        if (!sequenced.empty()) PVF_CHECK(ingest_sequenced(sequenced, now, out, touched));
        PVF_CHECK(advance_sequences(db_, touched, to_epoch_ms(clock_.now())));
        return out;
    });
    // Only a committed site is on record: after a rollback it is inserted again.
    if (result) known_sites_.insert(created.begin(), created.end());
    return result;
}

// (site, seq) is the idempotency key: the rows RETURNING gives back are the messages stored now. Those go on to
// their tables; the rest are duplicates.
Status Ledger::ingest_sequenced(const std::vector<const protocol::Message*>& sequenced, TimePoint now,
                                IngestOutcome& out, Touched& touched) {
    const std::int64_t now_ms = to_epoch_ms(now);
    std::vector<Value> rows;
    rows.reserve(sequenced.size() * 5);
    const protocol::Message* prev = nullptr;
    std::vector<const protocol::Message*> unique;
    for (const auto* m : sequenced) {
        if (prev != nullptr && protocol::site_of(*prev) == protocol::site_of(*m) && seq_of(*prev) == seq_of(*m)) {
            ++out.duplicates;  // delivered twice within one batch
            continue;
        }
        prev = m;
        unique.push_back(m);
        const bool tel = std::holds_alternative<protocol::TelemetryBatch>(*m);
        const bool hist = tel ? std::get<protocol::TelemetryBatch>(*m).historical
                              : std::get<protocol::TicketEventMessage>(*m).historical;
        rows.insert(rows.end(), {protocol::site_of(*m), i64(seq_of(*m)), std::string(tel ? "telemetry" : "ticket_event"),
                                 std::int64_t{hist ? 1 : 0}, now_ms});
    }
    auto inserted = run_bulk(db_,
                             {"INSERT INTO received (site_id, seq, kind, historical, received_at_ms) VALUES ",
                              "(?, ?, ?, ?, ?)", " ON CONFLICT (site_id, seq) DO NOTHING RETURNING site_id, seq", 5},
                             rows);
    if (!inserted) return inserted.error();
    std::set<std::pair<std::string, std::int64_t>> fresh;
    for (const auto& r : inserted->rows) fresh.emplace(r.text(0), r.integer(1));
    std::vector<const protocol::TelemetryBatch*> batches;
    for (const auto* m : unique) {
        const auto& site = protocol::site_of(*m);
        const std::int64_t seq = i64(seq_of(*m));
        if (fresh.count({site, seq}) == 0) {
            ++out.duplicates;
            continue;
        }
        ++out.applied;
        touched[site].push_back(seq);
        if (const auto* b = std::get_if<protocol::TelemetryBatch>(m))
            batches.push_back(b);
        else
            PVF_CHECK(apply_ticket_event(db_, std::get<protocol::TicketEventMessage>(*m), now, sink_, out));
    }
    return telemetry_->write(db_, batches, out);
}

namespace {

// Told to the manager of the site's project (if any) and the back office.
Status append_site_offline(storage::Db& db, const std::string& site, TimePoint since, std::int64_t now_ms) {
    storage::NewEvent event;
    event.name = "site.offline";
    event.occurred_at = from_epoch_ms(now_ms);
    event.data = {{"site_id", site}, {"since", format_iso8601(since)}};
    auto project = db.run("SELECT id, manager FROM projects WHERE site_id = $1 ORDER BY id DESC LIMIT 1", {site});
    if (!project) return project.error();
    if (!project->rows.empty()) {
        event.data["project_id"] = project->rows[0].integer(0);
        if (auto manager = project->rows[0].opt_text(1)) event.recipients.push_back(*manager);
    }
    auto office = storage::active_users_with_role(db, "back_office");
    if (!office) return office.error();
    event.recipients.insert(event.recipients.end(), office->begin(), office->end());
    PVF_CHECK(storage::append_event(db, event));
    return {};
}

}  // namespace

Status Ledger::ingest_unsequenced(const protocol::Message& m, std::int64_t now_ms, IngestOutcome& out,
                                  Touched& touched) {
    const std::string& site = protocol::site_of(m);
    if (const auto* status = std::get_if<protocol::StatusMessage>(&m)) {
        auto body = protocol::encode(*status);
        if (!body) return body.error();
        // site.offline once per transition: the state before this status, read in the same transaction.
        auto previous = db_.run("SELECT state FROM site_status WHERE site_id = $1", {site});
        if (!previous) return previous.error();
        const bool was_offline = !previous->rows.empty() && previous->rows[0].text(0) == "offline";
        // Retained status: the newest sent_at wins, whatever order deliveries come in.
        auto stored = db_.run(
            "INSERT INTO site_status (site_id, state, sent_at_ms, received_at_ms, body) VALUES ($1, $2, $3, "
            "$4, $5) ON CONFLICT (site_id) DO UPDATE SET state = excluded.state, sent_at_ms = "
            "excluded.sent_at_ms, received_at_ms = excluded.received_at_ms, body = excluded.body WHERE "
            "excluded.sent_at_ms >= site_status.sent_at_ms",
            {site, std::string(protocol::to_string(status->state)), to_epoch_ms(status->sent_at), now_ms,
             *body});
        if (!stored) return stored.error();
        if (stored->affected > 0 && !was_offline && protocol::to_string(status->state) == "offline")
            PVF_CHECK(append_site_offline(db_, site, status->sent_at, now_ms));
        if (status->last_seq)
            PVF_CHECK(db_.run("UPDATE site_seq SET edge_last_seq = $2 WHERE site_id = $1 AND edge_last_seq < $2 "
                              "AND $2 <= max_seen + $3",
                              {site, i64(*status->last_seq), i64(kMaxTailAhead)}));
        for (const auto& d : status->devices) {
            if (d.last_ok_poll)
                PVF_CHECK(db_.run(
                    "INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ($1, $2, "
                    "$3, $3) ON CONFLICT (site_id, device_id) DO NOTHING",
                    {site, d.device_id, to_epoch_ms(*d.last_ok_poll)}));
            // The site config's wiring (which MPPT inputs have an array), kept on the device record.
            const std::string wired = d.wired_inputs.empty() ? std::string() : nlohmann::json(d.wired_inputs).dump();
            PVF_CHECK(db_.run("UPDATE devices SET wired_inputs = $3 WHERE site_id = $1 AND device_id = $2 AND "
                              "COALESCE(wired_inputs, '') <> COALESCE($3, '')",
                              {site, d.device_id, wired.empty() ? storage::Value{nullptr} : storage::Value{wired}}));
        }
        touched[site];  // a newer edge_last_seq may reveal a tail gap
        ++out.statuses;
        return {};
    }
    if (const auto* ack = std::get_if<protocol::CommandAck>(&m)) {
        // An ack never downgrades a final status to "accepted".
        PVF_CHECK(db_.run(
            "UPDATE commands SET status = $3, detail = $4, acked_at_ms = $5 WHERE command_id = $1 AND "
            "site_id = $2 AND NOT (status IN ('done','failed','rejected','stale','duplicate') AND $3 = "
            "'accepted')",
            {ack->command_id, site, std::string(protocol::to_string(ack->status)), ack->detail,
             to_epoch_ms(ack->at)}));
        ++out.acks;
        return {};
    }
    return {};  // our own downlink echoed: nothing to do
}

Result<std::vector<ResendRequest>> Ledger::due_resends(const GapPolicy& policy) {
    return ingest::due_resends(db_, policy, to_epoch_ms(clock_.now()));
}

Result<std::optional<SiteSeqState>> Ledger::site_seq(const std::string& site_id) {
    return read_site_seq(db_, site_id);
}

}  // namespace pvfleet::ingest
