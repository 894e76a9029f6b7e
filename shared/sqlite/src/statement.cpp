#include "pvfleet/sqlite/statement.hpp"

#include <sqlite3.h>

#include <utility>

namespace pvfleet::sqlite {

Error last_error(sqlite3* db, std::string_view what) {
    const int code = sqlite3_extended_errcode(db) & 0xff;  // the primary code under an extended one
    const ErrorKind kind = (code == SQLITE_BUSY || code == SQLITE_LOCKED) ? ErrorKind::busy
                           : code == SQLITE_CONSTRAINT                    ? ErrorKind::conflict
                                                                          : ErrorKind::io;
    return Error{std::string(what) + ": " + sqlite3_errmsg(db), kind};
}

Status exec(sqlite3* db, std::string_view sql, std::string_view what) {
    char* message = nullptr;
    const std::string text(sql);
    const int rc = sqlite3_exec(db, text.c_str(), nullptr, nullptr, &message);
    if (rc == SQLITE_OK) return {};
    Error error = last_error(db, what);
    if (message != nullptr) error.message = std::string(what) + ": " + message;
    sqlite3_free(message);
    return error;
}

Statement::Statement(sqlite3* db, std::string_view sql, Lifetime lifetime) : db_(db) {
    const unsigned flags = lifetime == Lifetime::persistent ? SQLITE_PREPARE_PERSISTENT : 0;
    if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &stmt_, nullptr) != SQLITE_OK) {
        sqlite3_finalize(stmt_);
        stmt_ = nullptr;
    }
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), stmt_(std::exchange(other.stmt_, nullptr)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
    if (this != &other) {
        sqlite3_finalize(stmt_);
        db_ = other.db_;
        stmt_ = std::exchange(other.stmt_, nullptr);
    }
    return *this;
}

Statement& Statement::bind(int i, long long v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
}

Statement& Statement::bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
}

Statement& Statement::bind_view(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
    return *this;
}

Statement& Statement::bind_real(int i, double v) {
    sqlite3_bind_double(stmt_, i, v);
    return *this;
}

Statement& Statement::bind_null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
}

Statement& Statement::bind_blob(int i, std::string_view bytes) {
    // A zero-length blob needs a non-null pointer, or SQLite stores NULL.
    sqlite3_bind_blob(stmt_, i, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()), SQLITE_TRANSIENT);
    return *this;
}

int Statement::parameter_index(const char* name) const { return sqlite3_bind_parameter_index(stmt_, name); }

int Statement::step() {
    // A statement that failed to prepare reports the prepare's error (still the connection's last one).
    if (stmt_ == nullptr) return sqlite3_errcode(db_) == SQLITE_OK ? SQLITE_MISUSE : sqlite3_errcode(db_);
    return sqlite3_step(stmt_);
}

void Statement::reset() { sqlite3_reset(stmt_); }
void Statement::clear_bindings() { sqlite3_clear_bindings(stmt_); }

int Statement::column_count() const { return sqlite3_column_count(stmt_); }
int Statement::column_type(int col) const { return sqlite3_column_type(stmt_, col); }
bool Statement::is_null(int col) const { return column_type(col) == SQLITE_NULL; }
long long Statement::integer(int col) const { return sqlite3_column_int64(stmt_, col); }
double Statement::real(int col) const { return sqlite3_column_double(stmt_, col); }

std::string Statement::text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::string Statement::blob(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

long long Statement::changes() const { return sqlite3_changes64(db_); }

Borrowed::~Borrowed() {
    if (statement_ != nullptr) statement_->reset();
}

Result<Borrowed> StatementCache::get(std::string_view sql) {
    auto it = statements_.find(std::string(sql));
    if (it == statements_.end()) {
        Statement statement(db_, sql, Lifetime::persistent);
        if (!statement.ok()) {
            std::string head(sql.substr(0, 60));
            for (auto& ch : head)
                if (ch == '\n') ch = ' ';
            return last_error(db_, "prepare " + head);
        }
        it = statements_.emplace(std::string(sql), std::move(statement)).first;
    }
    return Borrowed(it->second);
}

}  // namespace pvfleet::sqlite
