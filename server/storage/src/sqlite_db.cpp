#include <sqlite3.h>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

#include "db_engines.hpp"

namespace pvfleet::storage {
namespace {

Error sqlite_error(sqlite3* db, std::string_view what) {
    const int code = sqlite3_extended_errcode(db) & 0xff;
    const ErrorKind kind = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? ErrorKind::busy
                           : code == SQLITE_CONSTRAINT                    ? ErrorKind::conflict
                                                                          : ErrorKind::io;
    return Error{std::string(what) + ": " + sqlite3_errmsg(db), kind};
}

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
    static int on_commit(void* self, sqlite3*, const char*, int pages) {
        if (pages >= kPagesPerCheckpoint) static_cast<Checkpointer*>(self)->poke();
        return SQLITE_OK;
    }

private:
    static constexpr int kPagesPerCheckpoint = 4000;  // ~16 MiB of WAL
    static constexpr int kPassiveRounds = 8;
    static constexpr int kPagesForced = 16000;  // ~64 MiB of WAL, as journal_size_limit

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
    explicit SqliteDb(sqlite3* db) : db_(db) {}
    ~SqliteDb() override {
        for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
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
        auto prepared = prepare(sql);
        if (!prepared) return prepared.error();
        sqlite3_stmt* stmt = *prepared;
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        // Bound by name so "$2 … $1" works whatever order the parameters first appear in.
        for (std::size_t i = 0; i < params.size(); ++i) {
            const std::string name = "$" + std::to_string(i + 1);
            const int index = sqlite3_bind_parameter_index(stmt, name.c_str());
            if (index == 0) continue;  // a parameter the statement does not use
            const Value& v = params[i];
            if (std::holds_alternative<std::nullptr_t>(v))
                sqlite3_bind_null(stmt, index);
            else if (const auto* n = std::get_if<std::int64_t>(&v))
                sqlite3_bind_int64(stmt, index, *n);
            else if (const auto* d = std::get_if<double>(&v))
                sqlite3_bind_double(stmt, index, *d);
            else {
                const auto& s = std::get<std::string>(v);
                sqlite3_bind_text(stmt, index, s.data(), static_cast<int>(s.size()), SQLITE_STATIC);
            }
        }
        QueryResult out;
        const int ncols = sqlite3_column_count(stmt);
        for (;;) {
            const int rc = sqlite3_step(stmt);
            if (rc == SQLITE_DONE) break;
            if (rc != SQLITE_ROW) {
                auto err = sqlite_error(db_, first_words(sql));
                sqlite3_reset(stmt);
                return err;
            }
            Row row;
            row.cols.reserve(static_cast<std::size_t>(ncols));
            for (int c = 0; c < ncols; ++c) {
                switch (sqlite3_column_type(stmt, c)) {
                    case SQLITE_NULL:
                        row.cols.emplace_back(nullptr);
                        break;
                    case SQLITE_INTEGER:
                        row.cols.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
                        break;
                    case SQLITE_FLOAT:
                        row.cols.emplace_back(sqlite3_column_double(stmt, c));
                        break;
                    default: {
                        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
                        row.cols.emplace_back(
                            std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt, c))));
                    }
                }
            }
            out.rows.push_back(std::move(row));
        }
        out.affected = sqlite3_changes64(db_);
        sqlite3_reset(stmt);
        sqlite3_clear_bindings(stmt);
        return out;
    }

    Status run_script(std::string_view sql) override {
        char* message = nullptr;
        const std::string text(sql);
        if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
            std::string m = message != nullptr ? message : "unknown error";
            sqlite3_free(message);
            return Error{"sqlite: " + m, ErrorKind::io};
        }
        return {};
    }

    Status begin() override { return run_script("BEGIN IMMEDIATE"); }
    Status commit() override { return run_script("COMMIT"); }
    void rollback() noexcept override {
        if (sqlite3_get_autocommit(db_) == 0) (void)sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }

private:
    Result<sqlite3_stmt*> prepare(std::string_view sql) {
        auto it = statements_.find(std::string(sql));
        if (it != statements_.end()) return it->second;
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) != SQLITE_OK)
            return sqlite_error(db_, "prepare " + first_words(sql));
        statements_.emplace(std::string(sql), stmt);
        return stmt;
    }
    static std::string first_words(std::string_view sql) {
        auto s = std::string(sql.substr(0, 60));
        for (auto& ch : s)
            if (ch == '\n') ch = ' ';
        return s;
    }

    sqlite3* db_;
    std::unordered_map<std::string, sqlite3_stmt*> statements_;
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
