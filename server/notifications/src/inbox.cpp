// The in-app inbox and its event consumer.
#include "pvfleet/notifications/inbox.hpp"

#include "pvfleet/notifications/catalogue.hpp"
#include "pvfleet/notifications/settings.hpp"

namespace pvfleet::notifications {
namespace {

std::optional<std::int64_t> data_id(const nlohmann::json& data, const char* key) {
    if (!data.is_object()) return std::nullopt;
    auto it = data.find(key);
    if (it == data.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
}

storage::Value opt_value(const std::optional<std::int64_t>& v) {
    return v ? storage::Value{*v} : storage::Value{nullptr};
}

}  // namespace

Status InboxConsumer::consume(storage::Db& db, const storage::Event& event, TimePoint now) {
    for (const auto& name : event.recipients) {
        PVF_TRY(const Recipient to, recipient_for(db, name, event.name));
        if (!to.active || !to.channels.inbox) continue;
        const Rendered text = render_event(event, to.language, {});
        auto r = db.run(
            "INSERT INTO notifications (recipient, event, title, body, link, event_id, project_id, "
            "milestone_id, "
            "created_at_ms) VALUES ($1, $2, $3, $4, $5, $6, (SELECT id FROM projects WHERE id = $7), (SELECT "
            "id "
            "FROM project_milestones WHERE id = $8), $9) ON CONFLICT (event_id, recipient) DO NOTHING",
            {name, event.name, text.subject, text.body,
             text.link.empty() ? storage::Value{nullptr} : storage::Value{text.link}, event.id,
             opt_value(data_id(event.data, "project_id")), opt_value(data_id(event.data, "milestone_id")),
             std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
    }
    return {};
}

Result<std::vector<Notification>> list_inbox(storage::Db& db, const std::string& user, bool unread_only,
                                             std::int64_t before_id, int limit) {
    if (limit < 1 || limit > 500) return Error::at("limit", "must be between 1 and 500");
    std::string sql =
        "SELECT id, recipient, event, title, body, link, event_id, project_id, milestone_id, created_at_ms, "
        "read_at_ms FROM notifications WHERE recipient = $1";
    storage::Params p{user, std::int64_t{limit}};
    if (before_id > 0) {
        p.emplace_back(before_id);
        sql += " AND id < $3";
    }
    if (unread_only) sql += " AND read_at_ms IS NULL";
    sql += " ORDER BY id DESC LIMIT $2";
    auto r = db.run(sql, p);
    if (!r) return r.error();
    std::vector<Notification> out;
    for (const storage::Row& row : r->rows) {
        Notification n;
        n.id = row.integer(0);
        n.recipient = row.text(1);
        n.event = row.text(2);
        n.title = row.text(3);
        n.body = row.text(4);
        n.link = row.opt_text(5).value_or("");
        n.event_id = row.opt_integer(6);
        n.project_id = row.opt_integer(7);
        n.milestone_id = row.opt_integer(8);
        n.created_at = from_epoch_ms(row.integer(9));
        if (!row.is_null(10)) n.read_at = from_epoch_ms(row.integer(10));
        out.push_back(std::move(n));
    }
    return out;
}

Result<std::int64_t> unread_count(storage::Db& db, const std::string& user) {
    auto r = db.run("SELECT COUNT(*) FROM notifications WHERE recipient = $1 AND read_at_ms IS NULL", {user});
    if (!r) return r.error();
    return r->rows.at(0).integer(0);
}

Status mark_read(storage::Db& db, const std::string& user, std::int64_t id, TimePoint now) {
    auto r = db.run(
        "UPDATE notifications SET read_at_ms = COALESCE(read_at_ms, $1) WHERE id = $2 AND recipient = $3",
        {std::int64_t{to_epoch_ms(now)}, id, user});
    if (!r) return r.error();
    if (r->affected == 0)
        return Error{"no notification " + std::to_string(id) + " of yours", ErrorKind::not_found};
    return {};
}

Result<std::int64_t> mark_all_read(storage::Db& db, const std::string& user, TimePoint now) {
    auto r = db.run("UPDATE notifications SET read_at_ms = $1 WHERE recipient = $2 AND read_at_ms IS NULL",
                    {std::int64_t{to_epoch_ms(now)}, user});
    if (!r) return r.error();
    return r->affected;
}

}  // namespace pvfleet::notifications
