#pragma once
// The gateway's SQLite database (WAL): tickets, their change events, detector state and telemetry
// (GatewayStore; the server's database is storage::Store).
// Safe to open from several processes at once (the agent and the on-site `tickets` CLI): WAL, a busy
// timeout and short IMMEDIATE transactions.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/util/result.hpp"

struct sqlite3;

namespace pvfleet::store {

// WAL pages after which a commit checkpoints (SQLite's default is 1000), on each of the store's connections (the
// store's, the outbox's, retention's): the checkpoint writes every page changed since the last one back into the
// database file, so the rarer it runs, the fewer times hot pages (the last leaf, page 1, the outbox's) are
// written twice; the WAL counts in the disk budget. Measured in docs/performance.md.
inline constexpr int kWalAutocheckpointPages = 1000;

struct GatewayStoreOptions {
    int busy_timeout_ms = 5000;
    bool synchronous_full = true;  // fsync every commit: a power cut loses nothing committed (raw telemetry: see
                                   // insert_samples)
    // Page size of a new database (an existing one keeps its own). Small pages: a WAL commit writes whole pages,
    // so 1 KiB pages write about half the bytes of 4 KiB ones for the gateway's small commits (docs/performance.md).
    int page_size = 1024;
    // Raw telemetry rows in the compact binary encoding (sample_row.hpp; false: JSON text, as before it — kept for
    // measurements). Rows of either kind are read.
    bool compact_rows = true;
    int wal_autocheckpoint_pages = kWalAutocheckpointPages;
};

// A ticket change event as stored: `event_id` is local, monotonically increasing and never reused. The
// sync takes events in `event_id` order and assigns wire sequence numbers in its outbox (a later table).
struct StoredEvent {
    long long event_id = 0;
    domain::TicketEvent event;
};

class GatewayStore {
public:
    static Result<std::unique_ptr<GatewayStore>> open(const std::string& path, GatewayStoreOptions options = {});
    ~GatewayStore();
    GatewayStore(const GatewayStore&) = delete;
    GatewayStore& operator=(const GatewayStore&) = delete;

    // Runs `body` inside BEGIN IMMEDIATE ... COMMIT (ROLLBACK when it fails): all or nothing.
    template <class F>
    Status transaction(F&& body) {
        if (auto s = exec("BEGIN IMMEDIATE"); !s) return s;
        Status result = body();
        if (!result) {
            (void)exec("ROLLBACK");
            return result;
        }
        if (auto s = exec("COMMIT"); !s) {
            (void)exec("ROLLBACK");
            return s;
        }
        return {};
    }

    // ---- tickets (call inside transaction() when several changes must be atomic) ----
    // Writes the ticket snapshot and appends the event; returns the event's event_id. A second live ticket for
    // the same (device, kind) is refused by a unique index.
    Result<long long> record(const domain::TicketEvent& event);
    Result<std::vector<domain::Ticket>> tickets(bool include_closed) const;
    Result<std::optional<domain::Ticket>> ticket(const std::string& id) const;
    Result<std::vector<StoredEvent>> events_after(long long event_id, int limit = 1000) const;
    // The newest event_id recorded (0: none), by any process on this database.
    Result<long long> last_event_id() const;
    Result<std::vector<StoredEvent>> events_of(const std::string& ticket_id) const;

    // ---- detector state ----
    Status save_detector_state(const nlohmann::json& state);
    Result<std::optional<nlohmann::json>> detector_state() const;

    // ---- progress markers (e.g. the last replayed row), written in the same transaction as the state ----
    Status save_cursor(const std::string& name, const std::string& value);
    Result<std::optional<std::string>> cursor(const std::string& name) const;

    // ---- telemetry ----
    // Raw rows keyed by time, then device (edge/store/src/telemetry_key.hpp): each commit appends to the table's
    // last page. A sample with the same device and time as a stored one replaces it.
    Status insert_sample(const domain::Sample& sample);
    // Many samples in one transaction (the agent commits each poll cycle's samples this way). All or none.
    // `durable` false: this commit with synchronous=NORMAL — in the operating system at once (a killed process
    // loses nothing) but not fsynced, so it costs no flash write of its own; a power cut may lose it until the
    // next fsync of the WAL (TelemetryWriter makes one at least every minute; docs/performance.md).
    Status insert_samples(const std::vector<domain::Sample>& samples, bool durable = true);
    Result<std::vector<domain::Sample>> samples(const std::string& device_id, TimePoint from, TimePoint to) const;

    // Pages of the database file: in use, free (reused before the file grows), and their size.
    struct PageUse {
        std::uint64_t page_size = 0;
        std::uint64_t page_count = 0;
        std::uint64_t freelist_count = 0;
        [[nodiscard]] std::uint64_t free_bytes() const { return page_size * freelist_count; }
        [[nodiscard]] std::uint64_t used_bytes() const { return page_size * (page_count - freelist_count); }
    };
    [[nodiscard]] Result<PageUse> page_use() const;
    [[nodiscard]] const std::string& path() const { return path_; }

    Status exec(const std::string& sql);

private:
    GatewayStore(sqlite3* db, std::string path, GatewayStoreOptions options)
        : db_(db), path_(std::move(path)), options_(options) {}
    [[nodiscard]] std::string row_body(const domain::Sample& sample) const;
    Status migrate(int& from_version);
    // The number of a device in raw telemetry keys (found or given inside the caller's transaction; `assigned`
    // collects them until it commits).
    Result<long long> device_no(const std::string& device_id, std::map<std::string, long long>& assigned);
    sqlite3* db_;
    std::string path_;
    GatewayStoreOptions options_;
    std::map<std::string, long long> device_nos_;  // committed numbers (never change once given)
};

nlohmann::json sample_to_json(const domain::Sample& s);
Result<domain::Sample> sample_from_json(const nlohmann::json& j);

}  // namespace pvfleet::store
