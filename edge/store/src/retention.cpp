#include "pvfleet/store/retention.hpp"

#include <sys/statvfs.h>

#include <sqlite3.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>

#include "pvfleet/store/sample_row.hpp"
#include "pvfleet/util/log.hpp"
#include "telemetry_key.hpp"

namespace pvfleet::store {
namespace {

constexpr const char* kRetentionLog = "retention";
constexpr long long kDayMs = 86'400'000LL;
constexpr long long kMaxGapMs = 300'000;  // a longer gap between two samples is not covered time
// Low-water marks: over 90 % of the budget, prune down to 80 %; below the free-space floor, keep this much
// free inside the file (reused before the file grows).
constexpr double kHighWater = 0.9;
constexpr double kLowWater = 0.8;
constexpr std::uint64_t kFreePageReserve = 2ull << 20;
// Below the free-space floor, only synced raw rows and acknowledged outbox rows go for the reserve above; raw rows
// not yet synced and the unsent outbox only when the free pages fall below this (what a few hours need).
constexpr std::uint64_t kFreePageMinimum = 256ull << 10;
constexpr std::uint64_t kWalTruncateAbove = 1ull << 20;
constexpr std::uint64_t kWalTruncateMin = 64ull << 10;
// Ballast beside the database (`edge.db.reserve`), kept while the filesystem has room and deleted when it runs
// short: SQLite needs room for its WAL to commit anything, the prunes that free pages included, so a filesystem
// that filled up would otherwise leave the store unable to free itself.
constexpr std::uint64_t kBallastBytes = 4ull << 20;
// Raw rows past the window are pruned in bursts, once the oldest is this far past it: a prune commit every few
// seconds (a row or two each) would wear the flash more than the rows themselves.
constexpr std::chrono::hours kWindowSlack{6};

constexpr const char* kRetentionSchema = R"SQL(
CREATE TABLE IF NOT EXISTS telemetry_daily (
  device_id TEXT NOT NULL,
  day INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  first_ms INTEGER NOT NULL,
  last_ms INTEGER NOT NULL,
  energy_first_wh REAL,
  energy_last_wh REAL,
  peak_power_w REAL,
  covered_s INTEGER NOT NULL,
  producing_s INTEGER NOT NULL,
  complete INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (device_id, day)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS retention_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
)SQL";

using sqlite::Statement;

std::uint64_t file_size(const std::string& path) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(path, ec);
    return ec ? 0 : static_cast<std::uint64_t>(n);
}

struct RawRow {
    long long key = 0;  // telemetry_key.hpp
    long long t_ms = 0;
    long long device_no = 0;
    std::optional<double> energy_wh;
    std::optional<double> power_w;
};

RawRow parse_row(long long key, const Statement& q, int col) {
    const long long t_ms = telemetry_key::time_ms(key);
    RawRow r{key, t_ms, telemetry_key::device_no(key), {}, {}};
    const bool text = q.column_type(col) == SQLITE_TEXT;
    auto s = decode_stored_sample(text ? q.text(col) : q.blob(col), text, "", from_epoch_ms(t_ms));
    if (!s) return r;  // an unreadable row still counts as a sample; it adds no energy or power
    r.energy_wh = s->value("energy_total_wh");
    r.power_w = s->value("ac_power_w");
    return r;
}

// Adds a row to an aggregate (rows come oldest first; rows at or before its last sample are in it already).
void fold_row(DailyAggregate& a, const RawRow& r) {
    const TimePoint t = from_epoch_ms(r.t_ms);
    if (a.samples > 0 && t <= a.last) return;
    if (a.samples > 0) {
        const long long gap = r.t_ms - to_epoch_ms(a.last);
        if (gap > 0 && gap <= kMaxGapMs) {
            a.covered_s += static_cast<std::uint64_t>(gap / 1000);
            if (r.power_w && *r.power_w > 0) a.producing_s += static_cast<std::uint64_t>(gap / 1000);
        }
    } else {
        a.first = t;
    }
    ++a.samples;
    a.last = t;
    if (r.energy_wh) {
        if (!a.energy_first_wh) a.energy_first_wh = r.energy_wh;
        a.energy_last_wh = r.energy_wh;
    }
    if (r.power_w) a.peak_power_w = std::max(a.peak_power_w.value_or(*r.power_w), *r.power_w);
}

std::optional<double> opt_real(const Statement& q, int col) {
    return q.is_null(col) ? std::nullopt : std::optional<double>(q.real(col));
}

void bind_opt(Statement& q, int i, const std::optional<double>& v) {
    if (v) {
        q.bind_real(i, *v);
    } else {
        q.bind_null(i);
    }
}

}  // namespace

std::optional<std::uint64_t> statvfs_free_bytes(const std::filesystem::path& dir) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(st.f_bavail) * static_cast<std::uint64_t>(st.f_frsize);
}

std::optional<double> DailyAggregate::energy_wh() const {
    if (!energy_first_wh || !energy_last_wh) return std::nullopt;
    return std::max(0.0, *energy_last_wh - *energy_first_wh);
}

nlohmann::json DailyAggregate::to_json() const {
    using nlohmann::json;
    auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(nullptr); };
    return {{"device", device_id},      {"day_start", format_iso8601(day_start)}, {"samples", samples},
            {"energy_wh", opt(energy_wh())}, {"peak_power_w", opt(peak_power_w)},
            {"covered_h", static_cast<double>(covered_s) / 3600.0},
            {"producing_h", static_cast<double>(producing_s) / 3600.0}, {"complete", complete}};
}

nlohmann::json StorageStatus::to_json() const {
    using nlohmann::json;
    return {{"db_file_bytes", db_file_bytes},
            {"wal_bytes", wal_bytes},
            {"used_bytes", used_bytes},
            {"free_page_bytes", free_page_bytes},
            {"fs_free_bytes", fs_free_bytes ? json(*fs_free_bytes) : json(nullptr)},
            {"budget_bytes", budget_bytes},
            {"min_free_bytes", min_free_bytes},
            {"over_budget", over_budget},
            {"raw_pruned_window", window_pruned},
            {"raw_pruned_budget", budget_pruned},
            {"raw_lost_unsynced", unsynced_pruned},
            {"outbox_acked_dropped_bytes", outbox_acked_dropped_bytes},
            {"oldest_raw", oldest_raw ? json(format_iso8601(*oldest_raw)) : json(nullptr)}};
}

Retention::Retention(sqlite3* db, std::string path, RetentionOptions options, Outbox* outbox)
    : db_(db), path_(std::move(path)), options_(std::move(options)), outbox_(outbox) {}

Retention::~Retention() { sqlite3_close(db_); }

Result<std::unique_ptr<Retention>> Retention::open(const std::string& path, RetentionOptions options, Outbox* outbox) {
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
        sqlite3_close(db);
        return Error{"retention: cannot open '" + path + "': " + msg, ErrorKind::io};
    }
    sqlite3_busy_timeout(db, options.busy_timeout_ms);
    std::unique_ptr<Retention> r(new Retention(db, path, std::move(options), outbox));
    if (auto s = r->init(); !s) return s.error();
    return r;
}

Status Retention::init() {
    if (auto s = sqlite::exec(db_, "PRAGMA journal_mode=WAL", "retention"); !s) return s;
    // Pruning is redone after a power cut if its commit is lost: no fsync per batch needed.
    if (auto s = sqlite::exec(db_, "PRAGMA synchronous=NORMAL", "retention"); !s) return s;
    const auto autocheckpoint = "PRAGMA wal_autocheckpoint=" + std::to_string(options_.wal_autocheckpoint_pages);
    if (auto s = sqlite::exec(db_, autocheckpoint, "retention"); !s) return s;
    return sqlite::exec(db_, kRetentionSchema, "retention");
}

long long Retention::day_of(TimePoint t) const {
    const double solar_ms = static_cast<double>(to_epoch_ms(t)) + options_.longitude_deg / 15.0 * 3'600'000.0;
    return static_cast<long long>(std::floor(solar_ms / static_cast<double>(kDayMs)));
}

TimePoint Retention::day_start(long long day) const {
    return from_epoch_ms(day * kDayMs - static_cast<long long>(options_.longitude_deg / 15.0 * 3'600'000));
}

long long Retention::meta(const char* key, long long absent) const {
    Statement q(db_, "SELECT value FROM retention_meta WHERE key = ?1");
    q.bind(1, std::string(key));
    return q.step() == SQLITE_ROW ? q.integer(0) : absent;
}

Status Retention::set_meta(const char* key, long long value) {
    Statement q(db_, "INSERT INTO retention_meta(key, value) VALUES(?1, ?2) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    q.bind(1, std::string(key)).bind(2, value);
    if (q.step() != SQLITE_DONE) return q.error("retention: " + std::string(key));
    return {};
}

std::uint64_t Retention::counter(const char* key) const { return static_cast<std::uint64_t>(meta(key, 0)); }

Status Retention::add_counter(const char* key, std::uint64_t n) {
    Statement q(db_, "INSERT INTO retention_meta(key, value) VALUES(?1, ?2) "
                     "ON CONFLICT(key) DO UPDATE SET value = value + excluded.value");
    q.bind(1, std::string(key)).bind(2, static_cast<long long>(n));
    if (q.step() != SQLITE_DONE) return q.error("retention: counter " + std::string(key));
    return {};
}

// Sizes and the budget's verdict only: cheap (three PRAGMAs, two stat() calls and a statvfs), run at every step.
Result<StorageStatus> Retention::usage() const {
    StorageStatus st;
    std::uint64_t page_size = 0, pages = 0, free_pages = 0;
    for (auto [pragma, field] : {std::pair{"PRAGMA page_size", &page_size}, std::pair{"PRAGMA page_count", &pages},
                                 std::pair{"PRAGMA freelist_count", &free_pages}}) {
        Statement q(db_, pragma);
        if (q.step() != SQLITE_ROW) return q.error(std::string("retention: ") + pragma);
        *field = static_cast<std::uint64_t>(q.integer(0));
    }
    st.db_file_bytes = file_size(path_);
    st.wal_bytes = file_size(path_ + "-wal");
    st.used_bytes = page_size * (pages - std::min(pages, free_pages)) + st.wal_bytes;
    st.free_page_bytes = page_size * free_pages;
    st.fs_free_bytes = options_.free_space ? options_.free_space(std::filesystem::path(path_).parent_path()) : std::nullopt;
    st.budget_bytes = options_.budget_bytes;
    st.min_free_bytes = options_.min_free_bytes;
    const bool over_size = options_.budget_bytes > 0 &&
                           static_cast<double>(st.used_bytes) > kHighWater * static_cast<double>(options_.budget_bytes);
    st.low_space = options_.min_free_bytes > 0 && st.fs_free_bytes && *st.fs_free_bytes < options_.min_free_bytes &&
                   st.free_page_bytes < kFreePageReserve;
    st.over_budget = over_size || st.low_space;
    return st;
}

Result<StorageStatus> Retention::status() const {
    auto st = usage();
    if (!st) return st;
    st->window_pruned = counter("window_pruned");
    st->budget_pruned = counter("budget_pruned");
    st->unsynced_pruned = counter("unsynced_pruned");
    st->outbox_acked_dropped_bytes = counter("outbox_acked_dropped_bytes");
    auto oldest = oldest_raw_ms();
    if (!oldest) return oldest.error();
    if (*oldest) st->oldest_raw = from_epoch_ms(**oldest);
    return st;
}

// The oldest raw row's time: the table's first key (rows are ordered by time, then device).
Result<std::optional<long long>> Retention::oldest_raw_ms() const {
    Statement q(db_, "SELECT MIN(time_dev) FROM telemetry");
    if (q.step() != SQLITE_ROW) return q.error("retention: oldest raw row");
    if (q.is_null(0)) return std::optional<long long>{};
    return std::optional<long long>(telemetry_key::time_ms(q.integer(0)));
}

Result<std::vector<DailyAggregate>> Retention::daily(const std::string& device_id) const {
    Statement q(db_, "SELECT day, samples, first_ms, last_ms, energy_first_wh, energy_last_wh, peak_power_w, covered_s, "
                     "producing_s, complete FROM telemetry_daily WHERE device_id = ?1 ORDER BY day");
    q.bind(1, device_id);
    std::vector<DailyAggregate> out;
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) {
        DailyAggregate a;
        a.device_id = device_id;
        a.day = q.integer(0);
        a.day_start = day_start(a.day);
        a.samples = static_cast<std::uint64_t>(q.integer(1));
        a.first = from_epoch_ms(q.integer(2));
        a.last = from_epoch_ms(q.integer(3));
        a.energy_first_wh = opt_real(q, 4);
        a.energy_last_wh = opt_real(q, 5);
        a.peak_power_w = opt_real(q, 6);
        a.covered_s = static_cast<std::uint64_t>(q.integer(7));
        a.producing_s = static_cast<std::uint64_t>(q.integer(8));
        a.complete = q.integer(9) != 0;
        out.push_back(std::move(a));
    }
    if (rc != SQLITE_DONE) return q.error("retention: read daily aggregates");
    return out;
}

namespace {

// The stored aggregate of (device, day), or an empty one.
Result<DailyAggregate> load_aggregate(sqlite3* db, const std::string& device, long long day) {
    Statement q(db, "SELECT samples, first_ms, last_ms, energy_first_wh, energy_last_wh, peak_power_w, covered_s, "
                    "producing_s, complete FROM telemetry_daily WHERE device_id = ?1 AND day = ?2");
    q.bind(1, device).bind(2, day);
    DailyAggregate a;
    a.device_id = device;
    a.day = day;
    const int rc = q.step();
    if (rc == SQLITE_DONE) return a;
    if (rc != SQLITE_ROW) return q.error("retention: read aggregate");
    a.samples = static_cast<std::uint64_t>(q.integer(0));
    a.first = from_epoch_ms(q.integer(1));
    a.last = from_epoch_ms(q.integer(2));
    a.energy_first_wh = opt_real(q, 3);
    a.energy_last_wh = opt_real(q, 4);
    a.peak_power_w = opt_real(q, 5);
    a.covered_s = static_cast<std::uint64_t>(q.integer(6));
    a.producing_s = static_cast<std::uint64_t>(q.integer(7));
    a.complete = q.integer(8) != 0;
    return a;
}

Status save_aggregate(sqlite3* db, const DailyAggregate& a) {
    Statement q(db, "INSERT OR REPLACE INTO telemetry_daily(device_id, day, samples, first_ms, last_ms, energy_first_wh, "
                    "energy_last_wh, peak_power_w, covered_s, producing_s, complete) "
                    "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    q.bind(1, a.device_id).bind(2, a.day).bind(3, static_cast<long long>(a.samples));
    q.bind(4, to_epoch_ms(a.first)).bind(5, to_epoch_ms(a.last));
    bind_opt(q, 6, a.energy_first_wh);
    bind_opt(q, 7, a.energy_last_wh);
    bind_opt(q, 8, a.peak_power_w);
    q.bind(9, static_cast<long long>(a.covered_s)).bind(10, static_cast<long long>(a.producing_s));
    q.bind(11, a.complete ? 1LL : 0LL);
    if (q.step() != SQLITE_DONE) return q.error("retention: write aggregate");
    return {};
}

// Up to `limit` raw rows of every device with from_key <= key <= through_key, oldest first.
Result<std::vector<RawRow>> read_rows(sqlite3* db, long long from_key, long long through_key, std::size_t limit) {
    Statement q(db, "SELECT time_dev, body FROM telemetry WHERE time_dev >= ?1 AND time_dev <= ?2 "
                    "ORDER BY time_dev LIMIT ?3");
    q.bind(1, from_key).bind(2, through_key).bind(3, static_cast<long long>(limit));
    std::vector<RawRow> rows;
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) rows.push_back(parse_row(q.integer(0), q, 1));
    if (rc != SQLITE_DONE) return q.error("retention: read raw telemetry");
    return rows;
}

// The devices' numbers in raw telemetry keys and their ids (a few rows).
Result<std::map<long long, std::string>> device_ids(sqlite3* db) {
    Statement q(db, "SELECT no, device_id FROM telemetry_devices");
    std::map<long long, std::string> out;
    int rc = 0;
    while ((rc = q.step()) == SQLITE_ROW) out.emplace(q.integer(0), q.text(1));
    if (rc != SQLITE_DONE) return q.error("retention: devices");
    return out;
}

// Folds `rows` (oldest first, any devices) into their devices' aggregates. A day before `complete_before` is
// marked complete. Saves only the aggregates that changed.
Status fold_rows(sqlite3* db, const std::vector<RawRow>& rows, const std::map<long long, std::string>& devices,
                 const std::function<long long(long long)>& day_of_ms, long long complete_before) {
    std::map<std::pair<long long, long long>, std::vector<const RawRow*>> by_device_day;
    for (const auto& r : rows) by_device_day[{r.device_no, day_of_ms(r.t_ms)}].push_back(&r);
    for (const auto& [device_day, day_rows] : by_device_day) {
        const auto dev = devices.find(device_day.first);
        if (dev == devices.end()) continue;  // a number without a device: nothing to fold it into
        auto a = load_aggregate(db, dev->second, device_day.second);
        if (!a) return a.error();
        const auto before = std::pair{a->samples, a->complete};
        for (const auto* r : day_rows) fold_row(*a, *r);
        if (device_day.second < complete_before) a->complete = true;
        if (std::pair{a->samples, a->complete} == before) continue;
        if (auto w = save_aggregate(db, *a); !w) return w;
    }
    return {};
}

template <class F>
Status in_transaction(sqlite3* db, F&& body) {
    if (auto s = sqlite::exec(db, "BEGIN IMMEDIATE", "retention"); !s) return s;
    Status r = body();
    if (r) r = sqlite::exec(db, "COMMIT", "retention");
    if (!r) (void)sqlite::exec(db, "ROLLBACK", "retention");
    return r;
}

}  // namespace

Result<std::uint64_t> Retention::prune_oldest(TimePoint through, const char* counter_key) {
    auto rows = read_rows(db_, LLONG_MIN, telemetry_key::last_at(to_epoch_ms(through)), options_.batch_rows);
    if (!rows) return rows.error();
    if (rows->empty()) return std::uint64_t{0};
    auto devices = device_ids(db_);
    if (!devices) return devices.error();
    Status s = in_transaction(db_, [&]() -> Status {
        // Fold into the aggregates first (rows already folded are skipped), then delete: one transaction. The rows
        // come in time order, so a day before the batch's last has no raw rows left: its aggregates are whole.
        const long long last_day = day_of(from_epoch_ms(rows->back().t_ms));
        if (auto f = fold_rows(db_, *rows, *devices, [&](long long t) { return day_of(from_epoch_ms(t)); }, last_day); !f)
            return f;
        Statement del(db_, "DELETE FROM telemetry WHERE time_dev >= ?1 AND time_dev <= ?2");
        del.bind(1, rows->front().key).bind(2, rows->back().key);
        if (del.step() != SQLITE_DONE) return del.error("retention: delete raw telemetry");
        return add_counter(counter_key, rows->size());
    });
    if (!s) return s.error();
    return static_cast<std::uint64_t>(rows->size());
}

// Folds one batch of the oldest finished day not yet folded (all devices), without deleting: the aggregates of
// the days still kept raw are there for the page and for history. Where folding goes on is kept in
// retention_meta (`fold_from_key`: every raw row before that key has been folded); a database without it (an
// upgrade) starts at its first row — rows already in an aggregate are skipped.
Result<bool> Retention::fold_finished_day(TimePoint now) {
    const long long from_key = meta("fold_from_key", LLONG_MIN);
    Statement first(db_, "SELECT MIN(time_dev) FROM telemetry WHERE time_dev >= ?1");
    first.bind(1, from_key);
    if (first.step() != SQLITE_ROW) return first.error("retention: next day");
    if (first.is_null(0)) return false;
    const long long first_key = first.integer(0);
    const long long day = day_of(from_epoch_ms(telemetry_key::time_ms(first_key)));
    if (day >= day_of(now)) return false;
    const long long day_end_key = telemetry_key::first_at(to_epoch_ms(day_start(day + 1))) - 1;
    auto rows = read_rows(db_, first_key, day_end_key, options_.batch_rows);
    if (!rows) return rows.error();
    auto devices = device_ids(db_);
    if (!devices) return devices.error();
    const bool day_done = rows->size() < options_.batch_rows;
    // Days before this one (and this one once its last row is folded) have no raw rows left to fold.
    const long long complete_before = day_done ? day + 1 : day;
    Status s = in_transaction(db_, [&]() -> Status {
        if (auto f = fold_rows(db_, *rows, *devices, [&](long long t) { return day_of(from_epoch_ms(t)); }, complete_before);
            !f)
            return f;
        // Aggregates of devices whose rows of those days were folded by earlier batches or a budget prune.
        Statement done(db_, "UPDATE telemetry_daily SET complete = 1 WHERE day < ?1 AND complete = 0");
        done.bind(1, complete_before);
        if (done.step() != SQLITE_DONE) return done.error("retention: complete days");
        return set_meta("fold_from_key", day_done ? day_end_key + 1 : rows->back().key + 1);
    });
    if (!s) return s.error();
    return true;
}

Result<bool> Retention::window_step(TimePoint now, const SyncedThroughFn& synced_through) {
    // Nothing past the window (plus the slack when no burst is under way): no need to ask the outbox.
    const TimePoint window_start = now - options_.raw_window;
    auto oldest = oldest_raw_ms();
    if (!oldest) return oldest.error();
    const TimePoint due_before = window_pruning_ ? window_start : window_start - kWindowSlack;
    if (!*oldest || from_epoch_ms(**oldest) > due_before) {
        window_pruning_ = false;
        return false;
    }
    auto synced = synced_through();
    if (!synced) return synced.error();
    if (!*synced) return false;
    const TimePoint cutoff = std::min(window_start, **synced);
    if (from_epoch_ms(**oldest) > cutoff) {
        window_pruning_ = false;
        return false;
    }
    window_pruning_ = true;
    auto n = prune_oldest(cutoff, "window_pruned");
    if (!n) return n.error();
    return *n > 0;
}

Result<bool> Retention::budget_step(const StorageStatus& st, const SyncedThroughFn& synced_through) {
    // How much to free: down to the low-water mark of the budget, or up to the free-page reserve when the
    // filesystem is short of space.
    std::uint64_t excess = 0;
    if (options_.budget_bytes > 0) {
        const auto low = static_cast<std::uint64_t>(kLowWater * static_cast<double>(options_.budget_bytes));
        if (st.used_bytes > low) excess = st.used_bytes - low;
    }
    // Raw rows not yet synced and the unsent outbox go for the budget, and for free space only when the file is
    // down to its last free pages: a young database on a full filesystem keeps what it has not sent.
    const bool over_size = excess > 0;
    if (st.low_space) excess = std::max(excess, kFreePageReserve - st.free_page_bytes);
    if (excess == 0) {
        pruning_ = false;
        lost_logged_ = 0;
        return false;
    }
    const bool may_lose = over_size || st.free_page_bytes < kFreePageMinimum;
    // The WAL counts in the budget but only a checkpoint shrinks it: over budget, truncate it after a checkpoint
    // (it would be written back soon anyway; busy readers make this a no-op until later). Not on a filesystem
    // short of space: the WAL would have to grow again into space that may be gone by then.
    // When the WAL is much of the excess (its own prunes write to it), that comes first: otherwise pruning
    // would go on against a WAL that only grows with it.
    if (over_size && !st.low_space && (st.wal_bytes > kWalTruncateAbove || (st.wal_bytes > kWalTruncateMin && st.wal_bytes * 2 > excess))) {
        auto truncated = sqlite::exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", "retention");
        if (truncated && file_size(path_ + "-wal") < st.wal_bytes) return true;
    }
    // 1. synced raw telemetry, oldest first
    auto synced = synced_through();
    if (!synced) return synced.error();
    if (*synced) {
        auto n = prune_oldest(**synced, "budget_pruned");
        if (!n) return n.error();
        if (*n > 0) return true;
    }
    // 2. acknowledged outbox rows kept for resends
    if (outbox_ != nullptr) {
        auto freed = outbox_->drop_acked(outbox_->bytes() > excess ? outbox_->bytes() - excess : 0);
        if (!freed) return freed.error();
        if (*freed > 0) {
            if (auto s = add_counter("outbox_acked_dropped_bytes", *freed); !s) return s.error();
            return true;
        }
    }
    if (may_lose) {
        auto lost = budget_lose_step(st, excess);
        if (!lost) return lost.error();
        if (*lost) return true;
    }
    if (!warned_stuck_) {
        PVF_LOG(error, kRetentionLog, "disk budget: " << st.used_bytes << " B used, budget " << options_.budget_bytes
                                                      << " B, " << st.free_page_bytes << " B free in the file: only "
                                                      << (may_lose ? "tickets and unsent ticket events" : "what is not yet sent")
                                                      << " left, kept");
        warned_stuck_ = true;
    }
    return false;
}

// The budget's last resorts, each a loss: raw telemetry not yet synced (counted and logged), then the outbox's own
// quota policy (unsent telemetry to 5-minute aggregates, then emptied).
Result<bool> Retention::budget_lose_step(const StorageStatus& st, std::uint64_t excess) {
    {
        auto n = prune_oldest(TimePoint::max(), "unsynced_pruned");
        if (!n) return n.error();
        if (*n > 0) {
            // Logged at the first batch of a pruning run and then every 100 000 rows.
            lost_logged_ += *n;
            if (lost_logged_ == *n || lost_logged_ >= 100'000) {
                PVF_LOG(warn, kRetentionLog, "disk budget: " << counter("unsynced_pruned")
                                                             << " raw sample(s) deleted before they were synced so far ("
                                                             << st.used_bytes << " B used, budget "
                                                             << options_.budget_bytes << " B, free on disk "
                                                             << st.fs_free_bytes.value_or(0) << " B)");
                if (lost_logged_ >= 100'000) lost_logged_ = 1;
            }
            return true;
        }
    }
    if (outbox_ != nullptr && outbox_->bytes() > 0) {
        const auto before = outbox_->bytes();
        auto r = outbox_->enforce_quota(before > excess ? before - excess : 0);
        if (!r) return r.error();
        if (outbox_->bytes() < before) {
            PVF_LOG(warn, kRetentionLog, "disk budget: unsent telemetry in the outbox shrunk from " << before << " to "
                                                                                                 << outbox_->bytes() << " B");
            return true;
        }
    }
    return false;
}

// Keeps the ballast while there is room (made again once there is twice its size above the floor), gives it up
// when the filesystem runs short. True when it was given up now.
bool Retention::tend_ballast(const StorageStatus& st) {
    if (options_.min_free_bytes == 0 || !st.fs_free_bytes) return false;
    const auto ballast = path_ + ".reserve";
    std::error_code ec;
    const bool present = std::filesystem::exists(ballast, ec);
    if (present && *st.fs_free_bytes < options_.min_free_bytes) {
        std::filesystem::remove(ballast, ec);
        PVF_LOG(warn, kRetentionLog, "free space below the floor (" << *st.fs_free_bytes << " B): the " << kBallastBytes
                                                                    << "-byte reserve beside the database given up");
        return !ec;
    }
    if (!present && *st.fs_free_bytes > options_.min_free_bytes + 2 * kBallastBytes) {
        std::FILE* f = std::fopen(ballast.c_str(), "wb");
        if (f == nullptr) return false;
        const std::string block(64 * 1024, '\0');
        bool ok = true;
        for (std::uint64_t n = 0; ok && n < kBallastBytes; n += block.size()) ok = std::fwrite(block.data(), 1, block.size(), f) == block.size();
        ok = std::fflush(f) == 0 && ok;
        std::fclose(f);
        if (!ok) std::filesystem::remove(ballast, ec);
    }
    return false;
}

Result<bool> Retention::step(TimePoint now, const SyncedThroughFn& synced_through) {
    auto st = usage();
    if (!st) return st.error();
    if (tend_ballast(*st)) return true;
    if (st->over_budget) pruning_ = true;
    if (pruning_) {
        auto did = budget_step(*st, synced_through);
        if (!did) return did.error();
        if (*did) return true;
    } else {
        warned_stuck_ = false;
    }
    auto folded = fold_finished_day(now);
    if (!folded) return folded.error();
    if (*folded) return true;
    return window_step(now, synced_through);
}

Result<bool> Retention::step(TimePoint now, std::optional<TimePoint> synced_through) {
    return step(now, [&]() -> Result<std::optional<TimePoint>> { return synced_through; });
}

Status Retention::run_until_idle(TimePoint now, std::optional<TimePoint> synced_through) {
    for (;;) {
        auto more = step(now, synced_through);
        if (!more) return more.error();
        if (!*more) return {};
    }
}

}  // namespace pvfleet::store
