#pragma once
// The gateway's local retention and disk budget (docs/performance.md, "Gateway storage"):
//
// - Raw samples (the store's `telemetry` table) are kept for a window (30 days by default), then folded into
//   daily aggregates per device — kept for the device's life — and deleted. A raw row the server may still
//   need (after the outbox's synced_through()) is never pruned by the window.
// - Disk budget: when the database (pages in use plus its WAL) passes the budget, or the filesystem's free
//   space falls below a floor, things go in this order until it is back under: synced raw telemetry, oldest
//   first (folded into the daily aggregates first, so they stay complete); acknowledged outbox rows kept
//   for resends; unsynced raw telemetry, oldest first (counted, logged and reported as lost raw samples);
//   the outbox's own quota policy (unsent telemetry → 5-minute aggregates → emptied). Tickets, their events
//   and unsent ticket events are never deleted.
//
// Every call does one small batch in one short transaction (WAL: readers are never blocked), so the agent
// runs it from a timer on its executor, between samples, never on the poll threads. Its own connection to
// the store's file, like the outbox's.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pvfleet/sqlite/statement.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/util/result.hpp"
#include "pvfleet/util/time.hpp"

struct sqlite3;

namespace pvfleet::store {

// Free bytes for an unprivileged writer on the filesystem holding `dir` (statvfs f_bavail); nullopt when it
// cannot be read. Tests inject their own.
using FreeSpaceFn = std::function<std::optional<std::uint64_t>(const std::filesystem::path& dir)>;
std::optional<std::uint64_t> statvfs_free_bytes(const std::filesystem::path& dir);

struct RetentionOptions {
    std::chrono::hours raw_window{24 * 30};
    // Days are mean solar days at this longitude (midnight to midnight in mean solar time), as detection and
    // the local page count them.
    double longitude_deg = 0;
    std::uint64_t budget_bytes = 0;    // database + WAL; 0: no budget
    std::uint64_t min_free_bytes = 0;  // free space kept on the filesystem; 0: none
    std::size_t batch_rows = 500;      // raw rows per transaction
    int busy_timeout_ms = 5000;
    int wal_autocheckpoint_pages = kWalAutocheckpointPages;  // gateway_store.hpp
    FreeSpaceFn free_space = statvfs_free_bytes;
};

// One device's day, folded from its raw samples.
struct DailyAggregate {
    std::string device_id;
    long long day = 0;      // mean solar day number (days since 1970-01-01 in mean solar time)
    TimePoint day_start{};  // its start (UTC)
    std::uint64_t samples = 0;
    TimePoint first{}, last{};
    std::optional<double> energy_first_wh, energy_last_wh;  // energy_total_wh at the day's first and last sample
    std::optional<double> peak_power_w;                    // highest ac_power_w
    std::uint64_t covered_s = 0;    // time covered by samples (gaps up to 5 min count): availability
    std::uint64_t producing_s = 0;  // of which with ac_power_w > 0
    bool complete = false;          // the whole day folded (false: only what a budget prune took so far)
    [[nodiscard]] std::optional<double> energy_wh() const;
    [[nodiscard]] nlohmann::json to_json() const;
};

// Where the database stands, as the local page and the status log show it.
struct StorageStatus {
    std::uint64_t db_file_bytes = 0;   // the database file (it does not shrink: freed pages are reused)
    std::uint64_t wal_bytes = 0;
    std::uint64_t used_bytes = 0;      // pages in use + WAL: what the budget counts
    std::uint64_t free_page_bytes = 0; // pages free inside the file
    std::optional<std::uint64_t> fs_free_bytes;
    std::uint64_t budget_bytes = 0;
    std::uint64_t min_free_bytes = 0;
    bool over_budget = false;
    bool low_space = false;  // below the free-space floor with less than the reserve free inside the file
    // Counters kept in the database across restarts.
    std::uint64_t window_pruned = 0;     // raw rows past the window, folded and deleted
    std::uint64_t budget_pruned = 0;     // synced raw rows deleted early for the budget
    std::uint64_t unsynced_pruned = 0;   // raw rows not yet synced deleted for the budget: lost
    std::uint64_t outbox_acked_dropped_bytes = 0;
    std::optional<TimePoint> oldest_raw;
    [[nodiscard]] nlohmann::json to_json() const;
};

// Every sample up to the returned time has been synced (nullopt: none; TimePoint::max() without a sync). Asked
// only when there is something to prune: the outbox's answer costs a query.
using SyncedThroughFn = std::function<Result<std::optional<TimePoint>>()>;

class Retention {
public:
    // `outbox` (may be null: no sync) is asked for what it can give up when the budget is exceeded.
    static Result<std::unique_ptr<Retention>> open(const std::string& path, RetentionOptions options,
                                                   Outbox* outbox = nullptr);
    ~Retention();
    Retention(const Retention&) = delete;
    Retention& operator=(const Retention&) = delete;

    // One batch of work: the budget first, then folding a finished day, then the window. `synced_through`:
    // raw rows after it are not synced (nullopt: none is; TimePoint::max() without a sync). Returns true when
    // more work is waiting (call again soon), false when there was nothing to do.
    Result<bool> step(TimePoint now, const SyncedThroughFn& synced_through);
    Result<bool> step(TimePoint now, std::optional<TimePoint> synced_through);
    // Calls step() until it has nothing left to do (tests, benchmarks; the agent paces its calls).
    Status run_until_idle(TimePoint now, std::optional<TimePoint> synced_through);

    [[nodiscard]] Result<StorageStatus> status() const;
    // status() without the counters and the oldest raw row: what each step looks at.
    [[nodiscard]] Result<StorageStatus> usage() const;
    // Stored aggregates of a device (complete or partial), oldest first.
    [[nodiscard]] Result<std::vector<DailyAggregate>> daily(const std::string& device_id) const;
    // The mean solar day of a time, and its start.
    [[nodiscard]] long long day_of(TimePoint t) const;
    [[nodiscard]] TimePoint day_start(long long day) const;

private:
    Retention(sqlite3* db, std::string path, RetentionOptions options, Outbox* outbox);
    Status init();
    Result<bool> budget_step(const StorageStatus& st, const SyncedThroughFn& synced_through);
    Result<bool> budget_lose_step(const StorageStatus& st, std::uint64_t excess);
    bool tend_ballast(const StorageStatus& st);
    Result<bool> fold_finished_day(TimePoint now);
    Result<bool> window_step(TimePoint now, const SyncedThroughFn& synced_through);
    // Folds up to batch_rows of the oldest raw rows (all devices) with t <= `through` into their daily
    // aggregates and deletes them, in one transaction. Returns the rows deleted.
    Result<std::uint64_t> prune_oldest(TimePoint through, const char* counter);
    // The oldest raw row's time (epoch ms), if any: the table's first key.
    [[nodiscard]] Result<std::optional<long long>> oldest_raw_ms() const;
    Status add_counter(const char* key, std::uint64_t n);
    [[nodiscard]] std::uint64_t counter(const char* key) const;
    [[nodiscard]] long long meta(const char* key, long long absent) const;
    Status set_meta(const char* key, long long value);

    sqlite3* db_;
    std::string path_;
    RetentionOptions options_;
    Outbox* outbox_;
    bool pruning_ = false;      // over budget: prune down to the low-water mark
    bool window_pruning_ = false;  // a burst of window prunes under way (down to the window's start)
    bool warned_stuck_ = false; // logged once: only tickets and unsent ticket events are left
    std::uint64_t lost_logged_ = 0;  // unsynced rows pruned since the last log line (rate limit)
};

}  // namespace pvfleet::store
