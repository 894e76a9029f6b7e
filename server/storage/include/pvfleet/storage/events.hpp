#pragma once
// The event log: the one seam between what happens on the server (a lead captured, a milestone overdue, a
// work order created, a site's first production) and whom it is told (the in-app inbox, e-mail, webhooks). A
// producer appends its event inside its own transaction — a rolled-back change tells nobody, a committed one
// is never forgotten, whichever connection (ingest's or the API's) made it. The dispatcher hands each
// undelivered event to the consumers in one transaction of its own and marks it dispatched there, so a crash
// between the two repeats the event whole (consumers key what they write by event id and stay idempotent) and
// never loses it.
//
// Declared in storage, like TicketEventSink, because storage's own work-order code produces events and
// storage must not depend on the modules that consume them. The event catalogue is docs/notifications.md.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::storage {

struct NewEvent {
    std::string name;  // from the catalogue: "lead.created", "milestone.overdue", …
    TimePoint occurred_at;
    nlohmann::json data =
        nlohmann::json::object();  // the event's facts (ids, titles); the webhook body's `data`
    std::vector<std::string>
        recipients;  // users the producer names (a rep, a PM, a supervisor); may be empty
};

struct Event : NewEvent {
    std::int64_t id = 0;
};

// Appends an event; run it inside the producer's transaction. Refuses a name outside [a-z_.]{3,64}, more than
// 1 000 recipients or data over 64 KiB (encoded): events are facts and ids, not documents. The recipients bound
// lies above what a producer can name — a few people plus a role's users (active_users_with_role, at most 500) —
// so a large back office never makes a producer's own change (a work order, a status) fail.
Result<std::int64_t> append_event(Db& db, const NewEvent& event);

// Up to `limit` (1–1000) events not dispatched yet, oldest first.
Result<std::vector<Event>> pending_events(Db& db, int limit);
// Events after `after_id`, oldest first (the catalogue's tests and tools; consumers use the dispatcher).
Result<std::vector<Event>> events_after(Db& db, std::int64_t after_id, int limit);

// The active (not disabled) users of a role, by name (at most 500): the recipients of events nobody in particular
// owns (work_order.created, site.offline → "back_office").
Result<std::vector<std::string>> active_users_with_role(Db& db, std::string_view role);

// What an event is handed to. consume() runs inside the dispatcher's transaction for the event: it writes
// what the event means for it (inbox rows, e-mails to send, webhook deliveries) and must be idempotent per
// event id.
class EventConsumer {
public:
    virtual ~EventConsumer() = default;
    [[nodiscard]] virtual std::string_view consumer_name() const = 0;
    virtual Status consume(Db& db, const Event& event, TimePoint now) = 0;
};

struct DispatchReport {
    int dispatched = 0;  // events handed to every consumer and marked
    int failed = 0;      // events whose transaction failed: left pending, tried again next pass
};
// One pass: each pending event (up to `limit`) in a transaction of its own — every consumer, then the mark. A
// consumer's error rolls that event back and is logged; the other events go on.
Result<DispatchReport> dispatch_pending_events(Db& db, std::span<EventConsumer* const> consumers,
                                               TimePoint now, int limit = 200);

}  // namespace pvfleet::storage
