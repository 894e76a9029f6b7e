// The event log (events.hpp).
#include "pvfleet/storage/events.hpp"

#include <algorithm>

#include "pvfleet/util/log.hpp"

namespace pvfleet::storage {
namespace {

constexpr std::size_t kMaxDataBytes = 64 * 1024;
constexpr std::size_t kMaxRecipients = 1000;
constexpr int kMaxRoleUsers = 500;  // below kMaxRecipients with room for the people a producer names

Status check_name(std::string_view name) {
    if (name.size() < 3 || name.size() > 64) return Error::at("name", "must be 3 to 64 characters");
    for (char c : name)
        if (!((c >= 'a' && c <= 'z') || c == '_' || c == '.'))
            return Error::at("name", "'" + std::string(name) + "': only a-z, '_' and '.'");
    return {};
}

Result<std::vector<Event>> read_events(Db& db, std::string_view sql, const Params& params) {
    auto r = db.run(sql, params);
    if (!r) return r.error();
    std::vector<Event> out;
    out.reserve(r->rows.size());
    for (const Row& row : r->rows) {
        Event e;
        e.id = row.integer(0);
        e.name = row.text(1);
        e.occurred_at = from_epoch_ms(row.integer(2));
        e.data = nlohmann::json::parse(row.text(3), nullptr, false);
        if (e.data.is_discarded()) e.data = nlohmann::json::object();
        auto recipients = nlohmann::json::parse(row.text(4), nullptr, false);
        if (recipients.is_array())
            for (const auto& r2 : recipients)
                if (r2.is_string()) e.recipients.push_back(r2.get<std::string>());
        out.push_back(std::move(e));
    }
    return out;
}

constexpr std::string_view kColumns = "SELECT id, name, occurred_at_ms, data, recipients FROM events ";

}  // namespace

Result<std::int64_t> append_event(Db& db, const NewEvent& event) {
    PVF_CHECK(check_name(event.name));
    if (!event.data.is_object()) return Error::at("data", "must be a JSON object");
    if (event.recipients.size() > kMaxRecipients)
        return Error::at("recipients", "at most " + std::to_string(kMaxRecipients));
    // Unique names, in the producer's order (an owner who is also the supervisor is told once).
    std::vector<std::string> recipients;
    for (const auto& r : event.recipients)
        if (!r.empty() && std::find(recipients.begin(), recipients.end(), r) == recipients.end())
            recipients.push_back(r);
    std::string data = event.data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (data.size() > kMaxDataBytes)
        return Error::at("data", "over " + std::to_string(kMaxDataBytes) + " bytes encoded");
    auto r = db.run(
        "INSERT INTO events (name, occurred_at_ms, data, recipients) VALUES ($1, $2, $3, $4) RETURNING id",
        {event.name, std::int64_t{to_epoch_ms(event.occurred_at)}, std::move(data),
         nlohmann::json(recipients).dump()});
    if (!r) return r.error();
    return r->rows.at(0).integer(0);
}

Result<std::vector<Event>> pending_events(Db& db, int limit) {
    if (limit < 1 || limit > 1000) return Error::at("limit", "must be between 1 and 1000");
    return read_events(db, std::string(kColumns) + "WHERE dispatched_at_ms IS NULL ORDER BY id LIMIT $1",
                       {std::int64_t{limit}});
}

Result<std::vector<Event>> events_after(Db& db, std::int64_t after_id, int limit) {
    if (limit < 1 || limit > 1000) return Error::at("limit", "must be between 1 and 1000");
    return read_events(db, std::string(kColumns) + "WHERE id > $1 ORDER BY id LIMIT $2",
                       {after_id, std::int64_t{limit}});
}

Result<std::vector<std::string>> active_users_with_role(Db& db, std::string_view role) {
    auto r = db.run("SELECT name FROM users WHERE role = $1 AND disabled = 0 ORDER BY name LIMIT $2",
                    {std::string(role), std::int64_t{kMaxRoleUsers}});
    if (!r) return r.error();
    std::vector<std::string> out;
    for (const Row& row : r->rows) out.push_back(row.text(0));
    return out;
}

Result<DispatchReport> dispatch_pending_events(Db& db, std::span<EventConsumer* const> consumers,
                                               TimePoint now, int limit) {
    auto pending = pending_events(db, limit);
    if (!pending) return pending.error();
    DispatchReport report;
    for (const Event& event : *pending) {
        auto done = in_transaction(db, [&]() -> Result<bool> {
            // Marked first, conditionally: a second dispatcher (another server on the same database) that
            // read the same event finds it marked and leaves it, so consumers see each event once.
            auto mark =
                db.run("UPDATE events SET dispatched_at_ms = $1 WHERE id = $2 AND dispatched_at_ms IS NULL",
                       {std::int64_t{to_epoch_ms(now)}, event.id});
            if (!mark) return mark.error();
            if (mark->affected == 0) return false;
            for (EventConsumer* consumer : consumers) {
                if (auto s = consumer->consume(db, event, now); !s)
                    return Error{std::string(consumer->consumer_name()) + ": " + s.error().message,
                                 s.error().kind};
            }
            return true;
        });
        if (!done) {
            ++report.failed;
            PVF_LOG(warn, "server",
                    "events: event " << event.id << " (" << event.name
                                     << ") not dispatched: " << done.error().message);
            continue;
        }
        if (*done) ++report.dispatched;
    }
    return report;
}

}  // namespace pvfleet::storage
