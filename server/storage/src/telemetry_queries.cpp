#include "pvfleet/storage/telemetry_queries.hpp"

#include "pvfleet/storage/store.hpp"

namespace pvfleet::storage {
namespace {

std::string filtered(std::string sql, Params& p, const AggregateFilter& filter) {
    if (filter.device_id) {
        p.push_back(*filter.device_id);
        sql += " AND device_id = $" + std::to_string(p.size());
    }
    if (filter.point) {
        p.push_back(*filter.point);
        sql += " AND point = $" + std::to_string(p.size());
    }
    return sql;
}

// Rows of device_id, <bucket>, point, n, sum, min, max[, …]: the common columns here, the bucket and any
// further columns by `rest`.
template <class Rest>
std::vector<AggregateRow> aggregate_rows(const QueryResult& rows, Rest rest) {
    std::vector<AggregateRow> out;
    out.reserve(rows.rows.size());
    for (const auto& r : rows.rows) {
        AggregateRow a;
        a.device_id = r.text(0);
        a.point = r.text(2);
        a.n = r.integer(3);
        a.sum = r.real(4);
        a.min = r.real(5);
        a.max = r.real(6);
        rest(a, r);
        out.push_back(std::move(a));
    }
    return out;
}

}  // namespace

Result<std::vector<RawTelemetryRow>> raw_telemetry(Db& db, const std::string& site_id, std::int64_t from_ms,
                                                   std::int64_t to_ms,
                                                   const std::optional<std::string>& device_id,
                                                   std::int64_t limit) {
    std::string sql =
        "SELECT device_id, t_first_ms, samples FROM telemetry_raw WHERE site_id = $1 AND t_first_ms > $2 "
        "AND t_first_ms <= $3 AND t_last_ms >= $4";
    Params p{site_id, from_ms - kRawRowSpanMs, to_ms, from_ms};
    if (device_id) {
        p.push_back(*device_id);
        sql += " AND device_id = $5";
    }
    p.push_back(limit);
    sql += " ORDER BY t_first_ms LIMIT $" + std::to_string(p.size());
    auto rows = db.run(sql, p);
    if (!rows) return rows.error();
    std::vector<RawTelemetryRow> out;
    out.reserve(rows->rows.size());
    for (const auto& r : rows->rows) out.push_back({r.text(0), r.integer(1), r.text(2)});
    return out;
}

Result<std::vector<AggregateRow>> five_minute_telemetry(Db& db, const std::string& site_id,
                                                        std::int64_t from_ms, std::int64_t to_ms,
                                                        const AggregateFilter& filter) {
    Params p{site_id, from_ms, to_ms};
    const std::string sql = filtered(
        "SELECT device_id, bucket_ms, point, n, sum, min, max FROM telemetry_5min WHERE site_id = $1 AND "
        "bucket_ms >= $2 AND bucket_ms <= $3",
        p, filter);
    auto rows = db.run(sql + " ORDER BY bucket_ms, device_id, point LIMIT 50000", p);
    if (!rows) return rows.error();
    return aggregate_rows(*rows, [](AggregateRow& a, const Row& r) { a.bucket_ms = r.integer(1); });
}

Result<std::vector<AggregateRow>> daily_telemetry(Db& db, const std::string& site_id,
                                                  const std::string& from_day, const std::string& to_day,
                                                  const AggregateFilter& filter) {
    Params p{site_id, from_day, to_day};
    const std::string sql = filtered(
        "SELECT device_id, day, point, n, sum, min, max, first, last FROM telemetry_daily WHERE site_id = $1 "
        "AND day >= $2 AND day <= $3",
        p, filter);
    auto rows = db.run(sql + " ORDER BY day, device_id, point LIMIT 50000", p);
    if (!rows) return rows.error();
    return aggregate_rows(*rows, [](AggregateRow& a, const Row& r) {
        a.day = r.text(1);
        a.first = r.real(7);
        a.last = r.real(8);
    });
}

Result<std::optional<SiteStatusRow>> site_status(Db& db, const std::string& site_id) {
    auto r = db.run("SELECT body, received_at_ms FROM site_status WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<SiteStatusRow>{};
    return std::optional<SiteStatusRow>{SiteStatusRow{r->rows[0].text(0), r->rows[0].integer(1)}};
}

Result<std::vector<TicketRow>> list_tickets(Db& db, const TicketFilter& filter) {
    std::string sql = "SELECT site_id, ticket_id, body FROM tickets WHERE 1 = 1";
    Params params;
    if (filter.site_id) {
        params.push_back(*filter.site_id);
        sql += " AND site_id = $" + std::to_string(params.size());
    }
    if (filter.state) {
        params.push_back(*filter.state);
        sql += " AND state = $" + std::to_string(params.size());
    }
    params.push_back(filter.limit);
    sql += " ORDER BY updated_at_ms DESC LIMIT $" + std::to_string(params.size());
    auto rows = db.run(sql, params);
    if (!rows) return rows.error();
    std::vector<TicketRow> out;
    out.reserve(rows->rows.size());
    for (const auto& r : rows->rows) out.push_back({r.text(0), r.text(1), r.text(2)});
    return out;
}

Result<bool> ticket_exists(Db& db, const std::string& site_id, const std::string& ticket_id) {
    auto t =
        db.run("SELECT device_id FROM tickets WHERE site_id = $1 AND ticket_id = $2", {site_id, ticket_id});
    if (!t) return t.error();
    return !t->rows.empty();
}

Result<std::vector<CommandRow>> list_commands(Db& db, const std::string& site_id) {
    auto rows = db.run(
        "SELECT command_id, command, issued_at_ms, issued_by, status, detail, acked_at_ms FROM "
        "commands WHERE site_id = $1 ORDER BY issued_at_ms DESC LIMIT 200",
        {site_id});
    if (!rows) return rows.error();
    std::vector<CommandRow> out;
    out.reserve(rows->rows.size());
    for (const auto& r : rows->rows)
        out.push_back(
            {r.text(0), r.text(1), r.integer(2), r.text(3), r.text(4), r.text(5), r.opt_integer(6)});
    return out;
}

}  // namespace pvfleet::storage
