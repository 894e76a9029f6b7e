#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "db_engines.hpp"
#include "pvfleet/sqlite/statement.hpp"

namespace pvfleet::storage {
namespace {

// WAL checkpoints on a thread of their own, with their own connection: a checkpoint copies pages into the
// database file and fsyncs it, which under heavy ingest stalled the writer for hundreds of milliseconds when
// SQLite ran it inside a commit. A PASSIVE checkpoint never blocks the writer; the writer only pokes.
class Checkpointer {
public:
    explicit Checkpointer(std::string path) : path_(std::move(path)), thread_([this] { loop(); }) {}
    ~Checkpointer() {
        {
            std::lock_guard lock(mutex_);
            stop_ = true;
        }
        wake_.notify_one();
        thread_.join();
    }
    Checkpointer(const Checkpointer&) = delete;
    Checkpointer& operator=(const Checkpointer&) = delete;

    // From the writer's commit (sqlite3_wal_hook): the WAL holds `pages` pages.
    static int on_commit(void* self, sqlite3* writer, const char*, int pages) {
        // The background thread keeps the WAL far below this; when it is starved of CPU (a saturated machine),
        // the writer restarts the WAL itself so the bound holds whatever the scheduling.
        if (pages >= kPagesWriterCap) {
            (void)sqlite3_wal_checkpoint_v2(writer, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
            return SQLITE_OK;
        }
        if (pages >= kPagesPerCheckpoint) static_cast<Checkpointer*>(self)->poke();
        return SQLITE_OK;
    }

private:
    static constexpr int kPagesPerCheckpoint = 4000;  // ~16 MiB of WAL
    static constexpr int kPassiveRounds = 8;
    static constexpr int kPagesForced = 16000;  // ~64 MiB of WAL, as journal_size_limit
    static constexpr int kPagesWriterCap = 18000;  // ~70 MiB: the writer's own RESTART, the hard bound

    // The WAL starts over from its beginning (and the file is cut back to journal_size_limit) only when a writer
    // finds every frame in it checkpointed. A PASSIVE pass copies the frames there when it started; a writer
    // that commits while it runs leaves new ones behind (with back-to-back commits, as in the storage test, one
    // pass never got there). So passes repeat, each copying only what the writer added meanwhile, until one finds
    // nothing new; past kPagesForced the WAL is bounded at the price of a brief stall: a RESTART checkpoint makes
    // the writer wait while it copies the remainder.
    void catch_up(sqlite3* db) {
        // A connection learns that the file is in WAL mode when it reads it; until then a checkpoint is a silent
        // no-op (it reports -1 frames), and every checkpoint was one. A new database only turns to WAL mode on
        // its first write, so this reads every time rather than once at start.
        (void)sqlite3_exec(db, "SELECT COUNT(*) FROM sqlite_schema", nullptr, nullptr, nullptr);
        int previous = -1;
        for (int pass = 0; pass < kPassiveRounds; ++pass) {
            int log = 0;
            int done = 0;
            if (sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done) != SQLITE_OK) return;
            if (log < 0) return;                          // not in WAL mode
            if (done >= log && log == previous) return;   // all copied, and nothing added since the last pass
            if (log >= kPagesForced) {
                (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
                return;
            }
            previous = log;
        }
    }

    void poke() {
        {
            std::lock_guard lock(mutex_);
            due_ = true;
        }
        wake_.notify_one();
    }
    void loop() {
        sqlite3* db = nullptr;
        if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
            sqlite3_close_v2(db);
            db = nullptr;
        }
        if (db != nullptr) sqlite3_busy_timeout(db, 1000);
        std::unique_lock lock(mutex_);
        for (;;) {
            wake_.wait(lock, [&] { return stop_ || due_; });
            if (stop_) break;
            due_ = false;
            lock.unlock();
            if (db != nullptr) catch_up(db);
            lock.lock();
        }
        sqlite3_close_v2(db);
    }

    std::string path_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool due_ = false;
    bool stop_ = false;
    std::thread thread_;  // last: starts after the members it uses
};

class SqliteDb final : public Db {
public:
    explicit SqliteDb(sqlite3* db) : db_(db), statements_(db) {}
    ~SqliteDb() override {
        statements_.clear();  // sqlite3_close_v2 would keep the connection open while statements remain
        sqlite3_close_v2(db_);
        checkpointer_.reset();
    }
    void checkpoint_in_background(const std::string& path) {
        checkpointer_ = std::make_unique<Checkpointer>(path);
        sqlite3_wal_hook(db_, &Checkpointer::on_commit, checkpointer_.get());
    }
    SqliteDb(const SqliteDb&) = delete;
    SqliteDb& operator=(const SqliteDb&) = delete;

    [[nodiscard]] Engine engine() const override { return Engine::sqlite; }

    Result<QueryResult> run(std::string_view sql, const Params& params) override {
        auto borrowed = statements_.get(sql);
        if (!borrowed) return borrowed.error();
        sqlite::Statement& stmt = **borrowed;
        stmt.reset();
        stmt.clear_bindings();
        // Bound by name so "$2 … $1" works whatever order the parameters first appear in. Text is bound as a
        // view: `params` outlive the statement's use here.
        for (std::size_t i = 0; i < params.size(); ++i) {
            const std::string name = "$" + std::to_string(i + 1);
            const int index = stmt.parameter_index(name.c_str());
            if (index == 0) continue;  // a parameter the statement does not use
            const Value& v = params[i];
            if (std::holds_alternative<std::nullptr_t>(v))
                stmt.bind_null(index);
            else if (const auto* n = std::get_if<std::int64_t>(&v))
                stmt.bind(index, static_cast<long long>(*n));
            else if (const auto* d = std::get_if<double>(&v))
                stmt.bind_real(index, *d);
            else
                stmt.bind_view(index, std::get<std::string>(v));
        }
        QueryResult out;
        const int ncols = stmt.column_count();
        for (;;) {
            const int rc = stmt.step();
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) return stmt.error(first_words(sql));  // reset when `borrowed` goes
            Row row;
            row.cols.reserve(static_cast<std::size_t>(ncols));
            for (int c = 0; c < ncols; ++c) {
                switch (stmt.column_type(c)) {
                    case SQLITE_NULL:
                        row.cols.emplace_back(nullptr);
                        break;
                    case SQLITE_INTEGER:
                        row.cols.emplace_back(static_cast<std::int64_t>(stmt.integer(c)));
                        break;
                    case SQLITE_FLOAT:
                        row.cols.emplace_back(stmt.real(c));
                        break;
                    default:
                        row.cols.emplace_back(stmt.text(c));
                }
            }
            out.rows.push_back(std::move(row));
        }
        out.affected = stmt.changes();
        stmt.reset();
        stmt.clear_bindings();
        return out;
    }

    Status run_script(std::string_view sql) override {
        // io whatever SQLite's code: ingest retries a busy statement, not a failed BEGIN/COMMIT or migration.
        if (auto s = sqlite::exec(db_, sql, "sqlite"); !s) return Error{s.error().message, ErrorKind::io};
        return {};
    }

    Status begin() override { return run_script("BEGIN IMMEDIATE"); }
    Status commit() override { return run_script("COMMIT"); }
    void rollback() noexcept override {
        if (sqlite3_get_autocommit(db_) == 0) (void)sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

private:
    static std::string first_words(std::string_view sql) {
        auto s = std::string(sql.substr(0, 60));
        for (auto& ch : s)
            if (ch == '\n') ch = ' ';
        return s;
    }

    sqlite3* db_;
    sqlite::StatementCache statements_;
    std::unique_ptr<Checkpointer> checkpointer_;
};

}  // namespace

Result<std::unique_ptr<Db>> open_sqlite(const std::string& path) {
    // By default SQLite counts every allocation under one process-wide mutex; nothing here reads those counts.
    // Only possible before SQLite initialises (the first open); later it is refused, which is harmless.
    static const bool memstatus_off = [] { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) == SQLITE_OK; }();
    (void)memstatus_off;
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
        std::string m = raw != nullptr ? sqlite3_errmsg(raw) : "out of memory";
        sqlite3_close_v2(raw);
        return Error{"database " + path + ": " + m, ErrorKind::io};
    }
    sqlite3_busy_timeout(raw, 5000);
    auto db = std::make_unique<SqliteDb>(raw);
    // WAL: readers (HTTP) never block the ingest writer. synchronous=NORMAL in WAL keeps the file consistent
    // on power loss; a commit lost that way is re-sent by the gateway (its outbox keeps what the server may
    // lack). A fleet's telemetry touches pages all over the file: a 64 MiB page cache and memory-mapped reads
    // keep them out of read() calls. Checkpoints run beside the writer (Checkpointer above).
    if (auto s = db->run_script(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536; "
            "PRAGMA mmap_size=1073741824; PRAGMA journal_size_limit=67108864;");
        !s)
        return Error{"database " + path + ": " + s.error().message, ErrorKind::io};
    db->checkpoint_in_background(path);
    return std::unique_ptr<Db>(std::move(db));
}

}  // namespace pvfleet::storage
