// The in-app inbox: the notifications table behind the NotificationSink seam.
#include "pvfleet/projects/reminders.hpp"

namespace pvfleet::projects {

Status InboxSink::deliver(storage::Db& db, const Notification& n) {
    auto r = db.run(
        "INSERT INTO notifications (recipient, event, title, body, project_id, milestone_id, created_at_ms) VALUES "
        "($1, $2, $3, $4, $5, $6, $7)",
        {n.recipient, n.event, n.title, n.body, n.project_id ? storage::Value{*n.project_id} : storage::Value{nullptr},
         n.milestone_id ? storage::Value{*n.milestone_id} : storage::Value{nullptr},
         std::int64_t{to_epoch_ms(n.created_at)}});
    if (!r) return r.error();
    return {};
}

Result<std::vector<Notification>> list_inbox(storage::Db& db, const std::string& user, bool unread_only,
                                             std::int64_t before_id, int limit) {
    if (limit < 1 || limit > 500) return Error::at("limit", "must be between 1 and 500");
    std::string sql =
        "SELECT id, recipient, event, title, body, project_id, milestone_id, created_at_ms, read_at_ms FROM "
        "notifications WHERE recipient = $1";
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
        n.project_id = row.opt_integer(5);
        n.milestone_id = row.opt_integer(6);
        n.created_at = from_epoch_ms(row.integer(7));
        if (!row.is_null(8)) n.read_at = from_epoch_ms(row.integer(8));
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
    if (r->affected == 0) return Error{"no notification " + std::to_string(id) + " of yours", ErrorKind::not_found};
    return {};
}

Result<std::int64_t> mark_all_read(storage::Db& db, const std::string& user, TimePoint now) {
    auto r = db.run("UPDATE notifications SET read_at_ms = $1 WHERE recipient = $2 AND read_at_ms IS NULL",
                    {std::int64_t{to_epoch_ms(now)}, user});
    if (!r) return r.error();
    return r->affected;
}

}  // namespace pvfleet::projects
