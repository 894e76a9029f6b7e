#include "pvfleet/storage/store.hpp"

#include <set>

#include "migrations.hpp"
#include "pvfleet/protocol/codec.hpp"

namespace pvfleet::storage {
namespace {

constexpr std::int64_t kRejectsKept = 10'000;


}  // namespace

Store::Store(std::unique_ptr<Db> db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}
Store::~Store() = default;

Result<int> Store::migrate() {
    return storage::migrate(*db_, clock_.now());
}

Status Store::relax_commit_durability() {
    if (db_->engine() != Engine::postgres) return {};  // SQLite: synchronous=NORMAL on every connection
    if (auto s = db_->run("SET synchronous_commit TO off"); !s) return s.error();
    return {};
}

Status Store::record_reject(const std::string& topic, std::size_t bytes, const std::string& reason) {
    const std::int64_t now_ms = to_epoch_ms(clock_.now());
    return in_transaction(*db_, [&]() -> Status {
        PVF_CHECK(db_->run(
            "INSERT INTO ingest_rejects (at_ms, topic, bytes, reason) VALUES ($1, $2, $3, $4)",
            {now_ms, topic.substr(0, 512), static_cast<std::int64_t>(bytes), reason.substr(0, 2000)}));
        PVF_CHECK(db_->run("DELETE FROM ingest_rejects WHERE id <= (SELECT MAX(id) FROM ingest_rejects) - $1",
                           {kRejectsKept}));
        return {};
    });
}

Result<std::uint64_t> Store::reject_count() {
    auto r = db_->run("SELECT COALESCE(MAX(id), 0) FROM ingest_rejects");
    if (!r) return r.error();
    return static_cast<std::uint64_t>(r->rows[0].integer(0));
}

Status Store::record_command(const protocol::Command& command, const std::string& issued_by,
                             const std::string& body) {
    auto r = db_->run(
        "INSERT INTO commands (command_id, site_id, command, issued_at_ms, issued_by, body) VALUES ($1, $2, "
        "$3, $4, $5, $6) ON CONFLICT (command_id) DO NOTHING",
        {command.command_id, command.site_id, std::string(protocol::to_string(command.type())),
         to_epoch_ms(command.issued_at), issued_by, body});
    if (!r) return r.error();
    return {};
}

Result<std::uint64_t> Store::count(const std::string& table, const std::string& site_id) {
    static const std::set<std::string> kTables{
        "telemetry", "tickets", "ticket_events", "received",       "work_orders",
        "sites",     "devices", "commands",      "telemetry_5min", "telemetry_daily"};
    if (kTables.count(table) == 0) return Error::at("table", "unknown '" + table + "'");
    // "telemetry" counts raw readings (stored several to a row).
    const std::string what = table == "telemetry" ? "CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw" : "COUNT(*) FROM " + table;
    auto r = site_id.empty() ? db_->run("SELECT " + what) : db_->run("SELECT " + what + " WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    return static_cast<std::uint64_t>(r->rows[0].integer(0));
}

}  // namespace pvfleet::storage
