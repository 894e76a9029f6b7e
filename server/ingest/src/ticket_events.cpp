// Ticket events: the event log, the ticket's newest snapshot, and the work-order hook.
#include "ledger_parts.hpp"
#include "pvfleet/protocol/codec.hpp"

namespace pvfleet::ingest {

Status apply_ticket_event(storage::Db& db, const protocol::TicketEventMessage& te, TimePoint now,
                          storage::TicketEventSink* sink, IngestOutcome& out) {
    const std::string& site = te.site_id;
    auto body = protocol::encode(te);
    if (!body) return body.error();
    const auto& t = te.event.ticket;
    PVF_CHECK(db.run(
        "INSERT INTO ticket_events (site_id, seq, ticket_id, kind, at_ms, historical, body) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7)",
        {site, i64(te.seq), t.id, std::string(domain::to_string(te.event.kind)), to_epoch_ms(te.event.at),
         std::int64_t{te.historical ? 1 : 0}, *body}));
    // The ticket row holds the newest snapshot by seq: an older event arriving late changes nothing.
    auto up = db.run(
        "INSERT INTO tickets (site_id, ticket_id, device_id, kind, severity, state, summary, opened_at_ms, "
        "updated_at_ms, "
        "last_seq, body, mppt_input) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (site_id, "
        "ticket_id) DO "
        "UPDATE SET device_id = excluded.device_id, kind = excluded.kind, severity = excluded.severity, "
        "state = "
        "excluded.state, summary = excluded.summary, updated_at_ms = excluded.updated_at_ms, last_seq = "
        "excluded.last_seq, body = excluded.body WHERE tickets.last_seq < excluded.last_seq",
        {site, t.id, t.device_id, std::string(domain::to_string(t.kind)),
         std::string(domain::to_string(t.severity)), std::string(domain::to_string(t.state)), t.summary,
         to_epoch_ms(t.opened_at), to_epoch_ms(t.updated_at), i64(te.seq), *body,
         std::int64_t{t.input.value_or(0)}});
    if (!up) return up.error();
    ++out.ticket_events;
    if (up->affected > 0 && sink != nullptr)
        PVF_CHECK(sink->on_ticket_event(db, site, te.event, te.historical, now, out));
    return {};
}

}  // namespace pvfleet::ingest
