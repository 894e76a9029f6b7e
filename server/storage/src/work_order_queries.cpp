// The work-order reads and edits of the API: lists with their index choices, versions, notes and history.
// (work_orders.cpp keeps the writes shared with ingest: save, audit, the ticket hook, preventive orders.)
#include <nlohmann/json.hpp>

#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/workorders/json.hpp"

namespace pvfleet::storage {
namespace {

// Which index a query uses must not be left to chance (SQLite has no statistics to go by): a site or customer
// narrows the list to a handful of orders, an assignee to a few thousand, whereas open / state / priority
// each keep tens of thousands. The narrow filter drives; the broad ones are written so that no index serves
// them
// (`x || ''`, `x + 0`: same value, same result), else an index that also gives the order could win and scan
// most of the table. An assignee keeps the open flag and the state usable: (assignee, id) of the open orders
// and (assignee, state) are indexes of their own.
std::string list_where(const WorkOrderQuery& q, Params& params) {
    std::string where = " FROM work_orders w LEFT JOIN sites s ON s.site_id = w.site_id WHERE 1 = 1";
    const bool by_place = q.site_id || q.customer_id;
    const bool by_person = q.assignee || q.technician;
    auto text_col = [](const char* col, bool indexed) {
        return indexed ? std::string(col) : "(" + std::string(col) + " || '')";
    };
    auto add = [&](const std::string& clause, Value v) {
        params.push_back(std::move(v));
        where += " AND " + clause + " $" + std::to_string(params.size());
    };
    if (q.state) add(text_col("w.state", !by_place) + " =", *q.state);
    if (q.open) {
        // a literal, not a parameter: the open orders' indexes are partial (WHERE is_open = 1)
        where += by_place ? " AND (w.is_open + 0) = " : " AND w.is_open = ";
        where += *q.open ? "1" : "0";
    }
    if (q.priority) add(text_col("w.priority", !by_place && !by_person) + " =", *q.priority);
    if (q.site_id) add("w.site_id =", *q.site_id);
    if (q.customer_id) add("s.customer_id =", *q.customer_id);
    if (q.assignee) add(text_col("w.assignee", !by_place) + " =", *q.assignee);
    if (q.technician) add(text_col("w.assignee", !by_place) + " =", *q.technician);
    if (q.unassigned_site) where += " AND s.customer_id IS NULL";
    if (!q.by_urgency && q.after_id > 0) add("w.id <", q.after_id);
    return where;
}

}  // namespace

Result<std::optional<VersionedWorkOrder>> load_versioned_work_order(Db& db, std::int64_t id) {
    auto wo = load_work_order(db, id);
    if (!wo) return wo.error();
    if (!*wo) return std::optional<VersionedWorkOrder>{};
    auto v = db.run("SELECT version FROM work_orders WHERE id = $1", {id});
    if (!v) return v.error();
    if (v->rows.empty())
        return Error{"work order " + std::to_string(id) + " vanished while read", ErrorKind::io};
    return std::optional<VersionedWorkOrder>{VersionedWorkOrder{std::move(**wo), v->rows[0].integer(0)}};
}

Result<WorkOrderPage> list_work_orders(Db& db, const WorkOrderQuery& q) {
    // Two steps in one statement: the filter and the ordering pick the ids of the page (from an index when
    // one serves them, else by sorting ids only), then the page's rows are read by id.
    Params params;
    const std::string where = list_where(q, params);
    // Both orders end with the id: the page is the same whichever way it is found.
    const std::string order = q.by_urgency
                                  ? " ORDER BY w.is_open DESC, CASE w.priority WHEN 'urgent' THEN 0 "
                                    "WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END, w.due_at_ms, w.id"
                                  : " ORDER BY w.id DESC";
    params.push_back(std::int64_t{q.limit + 1});
    const std::string sql = "SELECT w.id, w.body, w.version FROM work_orders w WHERE w.id IN (SELECT w.id" +
                            where + order + " LIMIT $" + std::to_string(params.size()) + ")" + order;
    auto rows = db.run(sql, params);
    if (!rows) return rows.error();
    WorkOrderPage page;
    for (std::size_t i = 0; i < rows->rows.size(); ++i) {
        const auto& r = rows->rows[i];
        if (static_cast<std::int64_t>(i) == q.limit) {
            if (!q.by_urgency) page.next_cursor = rows->rows[i - 1].integer(0);
            break;
        }
        auto wo = workorders::work_order_from_json(nlohmann::json::parse(r.text(1)));
        if (!wo) return wo.error();
        wo->id = r.integer(0);
        page.items.push_back({std::move(*wo), r.integer(2)});
    }
    return page;
}

Result<bool> has_work_order_at_site(Db& db, const std::string& site_id, const std::string& technician,
                                    bool open_only) {
    auto mine = open_only
                    ? db.run(
                          "SELECT 1 FROM work_orders WHERE site_id = $1 AND assignee = $2 AND is_open = 1 "
                          "LIMIT 1",
                          {site_id, technician})
                    : db.run("SELECT 1 FROM work_orders WHERE site_id = $1 AND assignee = $2 LIMIT 1",
                             {site_id, technician});
    if (!mine) return mine.error();
    return !mine->rows.empty();
}

Result<workorders::WorkOrder> save_work_order_at_version(Db& db, const workorders::WorkOrder& next,
                                                         const workorders::WorkOrder& before,
                                                         std::int64_t expected_version,
                                                         const std::string& actor, const std::string& action,
                                                         TimePoint now) {
    return in_transaction(db, [&]() -> Result<workorders::WorkOrder> {
        // Re-checked inside the transaction: another edit may have landed since the order was read.
        auto v = db.run("SELECT version FROM work_orders WHERE id = $1", {before.id});
        if (!v) return v.error();
        if (v->rows.empty() || v->rows[0].integer(0) != expected_version)
            return Error{"work order changed meanwhile", ErrorKind::conflict};
        return save_work_order(db, next, before, actor, action, now);
    });
}

Result<std::vector<WorkOrderNote>> list_work_order_notes(Db& db, std::int64_t work_order_id) {
    auto notes =
        db.run("SELECT at_ms, author, text, parts FROM work_order_notes WHERE work_order_id = $1 ORDER BY id",
               {work_order_id});
    if (!notes) return notes.error();
    std::vector<WorkOrderNote> out;
    out.reserve(notes->rows.size());
    for (const auto& n : notes->rows)
        out.push_back({from_epoch_ms(n.integer(0)), n.text(1), n.text(2), n.text(3)});
    return out;
}

Status add_work_order_note(Db& db, std::int64_t work_order_id, const WorkOrderNote& note) {
    if (auto r = db.run("INSERT INTO work_order_notes (work_order_id, at_ms, author, text, parts) VALUES "
                        "($1, $2, $3, $4, $5)",
                        {work_order_id, to_epoch_ms(note.at), note.author, note.text, note.parts_json});
        !r)
        return r.error();
    const nlohmann::json after = {{"text", note.text}, {"parts", nlohmann::json::parse(note.parts_json)}};
    return append_audit(db, note.at, note.author, "note", "work_order", std::to_string(work_order_id),
                        std::nullopt, after.dump());
}

Result<std::vector<AuditEntry>> work_order_history(Db& db, std::int64_t work_order_id) {
    auto hist = db.run(
        "SELECT at_ms, actor, action FROM audit_log WHERE entity = 'work_order' AND entity_id = $1 ORDER BY "
        "id",
        {std::to_string(work_order_id)});
    if (!hist) return hist.error();
    std::vector<AuditEntry> out;
    out.reserve(hist->rows.size());
    for (const auto& h : hist->rows) out.push_back({from_epoch_ms(h.integer(0)), h.text(1), h.text(2)});
    return out;
}

}  // namespace pvfleet::storage
