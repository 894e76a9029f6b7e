#include "pvfleet/storage/fleet_queries.hpp"

namespace pvfleet::storage {
namespace {

Result<std::int64_t> count(Db& db, std::string_view sql, const Params& p = {}) {
    auto r = db.run(sql, p);
    if (!r) return r.error();
    return r->rows.empty() ? 0 : r->rows[0].integer(0);
}

std::optional<double> opt_real(const Row& r, std::size_t i) {
    return r.is_null(i) ? std::nullopt : std::optional<double>(r.real(i));
}

}  // namespace

Result<std::int64_t> count_sites(Db& db) {
    return count(db, "SELECT COUNT(*) FROM sites");
}

Result<std::int64_t> count_unassigned_sites(Db& db) {
    return count(db, "SELECT COUNT(*) FROM sites WHERE customer_id IS NULL");
}

Result<std::int64_t> count_sites_online(Db& db, std::int64_t since_ms) {
    return count(db, "SELECT COUNT(*) FROM site_status WHERE state = 'online' AND received_at_ms >= $1",
                 {since_ms});
}

Result<std::int64_t> count_open_work_orders_of_severity(Db& db, const std::string& severity) {
    return count(db, "SELECT COUNT(*) FROM work_orders WHERE is_open = 1 AND severity = $1", {severity});
}

Result<std::int64_t> count_open_work_orders_created(Db& db, std::optional<std::int64_t> from_ms,
                                                    std::optional<std::int64_t> to_ms) {
    if (from_ms && to_ms)
        return count(
            db,
            "SELECT COUNT(*) FROM work_orders WHERE is_open = 1 AND created_at_ms < $1 AND created_at_ms "
            ">= $2",
            {*to_ms, *from_ms});
    if (from_ms)
        return count(db, "SELECT COUNT(*) FROM work_orders WHERE is_open = 1 AND created_at_ms >= $1",
                     {*from_ms});
    if (to_ms)
        return count(db, "SELECT COUNT(*) FROM work_orders WHERE is_open = 1 AND created_at_ms < $1",
                     {*to_ms});
    return count(db, "SELECT COUNT(*) FROM work_orders WHERE is_open = 1");
}

Result<std::vector<OpenOrderDates>> open_work_order_dates(Db& db) {
    auto r = db.run("SELECT created_at_ms, due_at_ms FROM work_orders WHERE is_open = 1");
    if (!r) return r.error();
    std::vector<OpenOrderDates> out;
    out.reserve(r->rows.size());
    for (const auto& row : r->rows) out.push_back({row.integer(0), row.integer(1)});
    return out;
}

Result<std::optional<double>> mean_repair_ms(Db& db, std::int64_t since_ms) {
    auto r = db.run(
        "SELECT AVG(closed_at_ms - created_at_ms), COUNT(*) FROM work_orders WHERE state = 'closed' AND "
        "closed_at_ms >= $1 AND assignee IS NOT NULL",
        {since_ms});
    if (!r) return r.error();
    if (r->rows.empty() || r->rows[0].integer(1) <= 0) return std::optional<double>{};
    return std::optional<double>{r->rows[0].real(0)};
}

Result<double> fleet_energy_of_day_wh(Db& db, const std::string& day) {
    auto r = db.run(
        "SELECT COALESCE(SUM(last - first), 0) FROM telemetry_daily WHERE point = 'energy_total_wh' AND day "
        "= $1",
        {day});
    if (!r) return r.error();
    return r->rows.empty() ? 0.0 : r->rows[0].real(0);
}

Result<std::vector<std::string>> site_arrays_json(Db& db) {
    auto r = db.run("SELECT arrays FROM sites");
    if (!r) return r.error();
    std::vector<std::string> out;
    out.reserve(r->rows.size());
    for (const auto& row : r->rows) out.push_back(row.text(0));
    return out;
}

Result<std::optional<SiteModelInputs>> site_model_inputs(Db& db, const std::string& site_id) {
    auto r = db.run("SELECT latitude, longitude, arrays, time_zone, version FROM sites WHERE site_id = $1",
                    {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<SiteModelInputs>{};
    const auto& row = r->rows[0];
    return std::optional<SiteModelInputs>{SiteModelInputs{site_id, opt_real(row, 0), opt_real(row, 1),
                                                          row.text(2), row.text(3), row.integer(4)}};
}

Result<std::vector<SiteModelInputs>> sites_with_model(Db& db) {
    auto r = db.run(
        "SELECT site_id, version, time_zone FROM sites WHERE latitude IS NOT NULL AND longitude IS NOT NULL "
        "AND "
        "arrays <> '[]'");
    if (!r) return r.error();
    std::vector<SiteModelInputs> out;
    out.reserve(r->rows.size());
    for (const auto& row : r->rows) {
        SiteModelInputs s;
        s.site_id = row.text(0);
        s.version = row.integer(1);
        s.time_zone = row.text(2);
        out.push_back(std::move(s));
    }
    return out;
}

Result<std::optional<std::int64_t>> site_version(Db& db, const std::string& site_id) {
    auto r = db.run("SELECT version FROM sites WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<std::int64_t>{};
    return std::optional<std::int64_t>{r->rows[0].integer(0)};
}

Status restart_site_sequence(Db& db, const std::string& site_id) {
    PVF_CHECK(db.run("DELETE FROM received WHERE site_id = $1", {site_id}));
    PVF_CHECK(db.run("UPDATE site_seq SET contiguous_through = 0, max_seen = 0, edge_last_seq = 0, gap_since_ms = NULL, "
                     "resend_at_ms = NULL, resend_attempts = 0 WHERE site_id = $1",
                     {site_id}));
    return {};
}

}  // namespace pvfleet::storage
