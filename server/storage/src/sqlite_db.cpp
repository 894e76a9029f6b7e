#include <sqlite3.h>

#include <string>
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

class SqliteDb final : public Db {
public:
    explicit SqliteDb(sqlite3* db) : db_(db) {}
    ~SqliteDb() override {
        for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
        sqlite3_close_v2(db_);
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
};

}  // namespace

Result<std::unique_ptr<Db>> open_sqlite(const std::string& path) {
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
    // lack).
    if (auto s =
            db->run_script("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
        !s)
        return Error{"database " + path + ": " + s.error().message, ErrorKind::io};
    return std::unique_ptr<Db>(std::move(db));
}

}  // namespace pvfleet::storage
