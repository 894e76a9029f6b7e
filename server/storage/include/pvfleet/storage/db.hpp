#pragma once
// The SQL seam of the server: one narrow interface, two engines (SQLite, the embedded default; PostgreSQL for
// larger fleets). Statements are written once with numbered parameters ($1, $2, …), which both engines
// accept, and every value is bound, never spliced into the text.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pvfleet/util/result.hpp"

namespace pvfleet::storage {

enum class Engine { sqlite, postgres };
std::string_view to_string(Engine e);

using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string>;
using Params = std::vector<Value>;

// One result row; columns in SELECT order.
struct Row {
    std::vector<Value> cols;
    [[nodiscard]] bool is_null(std::size_t i) const {
        return std::holds_alternative<std::nullptr_t>(cols.at(i));
    }
    [[nodiscard]] std::int64_t integer(std::size_t i) const;  // 0 for NULL
    [[nodiscard]] double real(std::size_t i) const;           // 0 for NULL
    [[nodiscard]] std::string text(std::size_t i) const;      // "" for NULL
    [[nodiscard]] std::optional<std::int64_t> opt_integer(std::size_t i) const;
    [[nodiscard]] std::optional<std::string> opt_text(std::size_t i) const;
};

struct QueryResult {
    std::vector<Row> rows;
    std::int64_t affected = 0;  // rows changed by INSERT/UPDATE/DELETE
};

// A connection. Not thread-safe: each owner (ingest strand, HTTP worker) has its own.
class Db {
public:
    virtual ~Db() = default;
    [[nodiscard]] virtual Engine engine() const = 0;
    virtual Result<QueryResult> run(std::string_view sql, const Params& params = {}) = 0;
    // Several statements without parameters (migrations).
    virtual Status run_script(std::string_view sql) = 0;
    // Transactions. begin() takes the write lock up front on SQLite (BEGIN IMMEDIATE) so a transaction never
    // fails half-way on a lock upgrade; on PostgreSQL it is READ COMMITTED plus explicit row locks.
    virtual Status begin() = 0;
    virtual Status commit() = 0;
    virtual void rollback() noexcept = 0;
};

struct DbOptions {
    Engine engine = Engine::sqlite;
    std::string sqlite_path;   // file; created if missing
    std::string postgres_uri;  // libpq connection string, e.g. "postgresql://pvfleet@localhost:5432/pvfleet"
};

// Opens a connection (SQLite: WAL, foreign keys on, busy timeout 5 s).
Result<std::unique_ptr<Db>> open_db(const DbOptions& options);
bool postgres_available();  // false when this build has no libpqxx

// Runs `body` inside a transaction; commits when it returns ok, rolls back when it returns an error or
// throws.
template <class F>
auto in_transaction(Db& db, F&& body) -> decltype(body()) {
    if (auto s = db.begin(); !s) return s.error();
    try {
        auto r = body();
        if (!r) {
            db.rollback();
            return r;
        }
        if (auto c = db.commit(); !c) {
            db.rollback();
            return c.error();
        }
        return r;
    } catch (...) {
        db.rollback();
        throw;
    }
}

}  // namespace pvfleet::storage
