#pragma once
// The one SQLite statement wrapper of the edge store, the outbox and the server's SQLite engine: a prepared
// statement that binds by index, steps and reads columns, and turns SQLite's failures into an `Error` whose
// kind callers act on (busy: try again later; conflict: a constraint said no). Callers keep their connection
// (`sqlite3*`) and compare step() with SQLITE_ROW / SQLITE_DONE.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pvfleet/util/result.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace pvfleet::sqlite {

// The error of the last failed call on `db`, as "<what>: <SQLite's message>"; kind busy for SQLITE_BUSY and
// SQLITE_LOCKED, conflict for SQLITE_CONSTRAINT, io otherwise.
Error last_error(sqlite3* db, std::string_view what);

// Runs statements without parameters (schema, PRAGMAs, BEGIN/COMMIT); a failure reads "<what>: <message>".
Status exec(sqlite3* db, std::string_view sql, std::string_view what);

// once: a statement prepared for one use; persistent: kept for many (SQLITE_PREPARE_PERSISTENT).
enum class Lifetime { once, persistent };

class Statement {
public:
    Statement() = default;  // none: ok() is false
    // Prepares `sql`. A failed prepare is kept, not thrown: ok() is false and step() fails with SQLite's error.
    Statement(sqlite3* db, std::string_view sql, Lifetime lifetime = Lifetime::once);
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement& operator=(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;

    [[nodiscard]] bool ok() const { return stmt_ != nullptr; }

    // Parameters count from 1. Text and blobs are copied unless bound as a view (kept by the caller until
    // the statement is reset).
    Statement& bind(int i, long long v);
    Statement& bind(int i, std::string_view text);
    Statement& bind_view(int i, std::string_view text);
    Statement& bind_real(int i, double v);
    Statement& bind_null(int i);
    Statement& bind_blob(int i, std::string_view bytes);
    // The index of a named parameter ("$1", ":key"), 0 when the statement has none of that name.
    [[nodiscard]] int parameter_index(const char* name) const;

    int step();  // SQLITE_ROW, SQLITE_DONE or an error code
    void reset();           // ready to step again; bindings stay
    void clear_bindings();  // all parameters back to NULL

    [[nodiscard]] int column_count() const;
    [[nodiscard]] int column_type(int col) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL
    [[nodiscard]] bool is_null(int col) const;
    [[nodiscard]] long long integer(int col) const;
    [[nodiscard]] double real(int col) const;
    [[nodiscard]] std::string text(int col) const;  // "" for NULL
    [[nodiscard]] std::string blob(int col) const;  // "" for NULL
    // Rows changed by the connection's last INSERT, UPDATE or DELETE.
    [[nodiscard]] long long changes() const;

    [[nodiscard]] Error error(std::string_view what) const { return last_error(db_, what); }

private:
    sqlite3* db_ = nullptr;
    sqlite3_stmt* stmt_ = nullptr;
};

// A statement lent by a StatementCache: reset when the borrower is done, so the next one starts clean.
class Borrowed {
public:
    explicit Borrowed(Statement& statement) : statement_(&statement) {}
    ~Borrowed();
    Borrowed(Borrowed&& other) noexcept : statement_(other.statement_) { other.statement_ = nullptr; }
    Borrowed& operator=(Borrowed&&) = delete;
    Borrowed(const Borrowed&) = delete;
    Borrowed& operator=(const Borrowed&) = delete;
    Statement& operator*() const { return *statement_; }
    Statement* operator->() const { return statement_; }

private:
    Statement* statement_;
};

// Statements prepared once and kept by their SQL text, for the statements a connection runs again and again.
// clear() (or the destructor) finalizes them; it must run before the connection is closed.
class StatementCache {
public:
    explicit StatementCache(sqlite3* db) : db_(db) {}
    // A failed prepare reads "prepare <the statement's first 60 characters>: <message>".
    Result<Borrowed> get(std::string_view sql);
    void clear() { statements_.clear(); }

private:
    sqlite3* db_;
    std::unordered_map<std::string, Statement> statements_;
};

}  // namespace pvfleet::sqlite
