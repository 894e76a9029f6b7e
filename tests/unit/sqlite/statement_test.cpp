// The shared SQLite statement wrapper: binding, reading, errors and their kinds, the statement cache.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>

#include "pvfleet/sqlite/statement.hpp"

using namespace pvfleet;
using namespace pvfleet::sqlite;

namespace {

struct Close {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Connection = std::unique_ptr<sqlite3, Close>;

Connection open_memory() {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
    Connection c(db);
    REQUIRE(exec(db, "CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, x REAL, b BLOB)", "setup"));
    return c;
}

}  // namespace

TEST_CASE("sqlite statement: binds by index and reads every column type") {
    auto db = open_memory();
    Statement ins(db.get(), "INSERT INTO t (k, n, x, b) VALUES (?1, ?2, ?3, ?4)");
    REQUIRE(ins.ok());
    ins.bind(1, std::string_view("a\0b", 3)).bind(2, 42LL).bind_real(3, 2.5).bind_blob(4, "");
    CHECK(ins.step() == SQLITE_DONE);
    CHECK(ins.changes() == 1);
    ins.reset();
    ins.clear_bindings();
    ins.bind(1, "second");
    CHECK(ins.step() == SQLITE_DONE);

    Statement q(db.get(), "SELECT k, n, x, b FROM t ORDER BY n DESC");
    REQUIRE(q.step() == SQLITE_ROW);
    CHECK(q.column_count() == 4);
    CHECK(q.text(0) == std::string("a\0b", 3));
    CHECK(q.integer(1) == 42);
    CHECK(q.real(2) == 2.5);
    CHECK(q.column_type(3) == SQLITE_BLOB);  // an empty blob stays a blob, not NULL
    CHECK(q.blob(3).empty());
    REQUIRE(q.step() == SQLITE_ROW);
    CHECK(q.text(0) == "second");
    CHECK(q.is_null(1));
    CHECK(q.is_null(3));
    CHECK(q.integer(1) == 0);
    CHECK(q.text(3).empty());
    CHECK(q.step() == SQLITE_DONE);
}

TEST_CASE("sqlite statement: errors name what failed and carry a kind") {
    auto db = open_memory();
    SUBCASE("a statement that does not prepare fails when stepped") {
        Statement bad(db.get(), "SELECT nope FROM t");
        CHECK_FALSE(bad.ok());
        CHECK(bad.step() != SQLITE_ROW);
        const auto e = bad.error("read");
        CHECK(e.message == "read: no such column: nope");
        CHECK(e.kind == ErrorKind::io);
    }
    SUBCASE("a constraint is a conflict") {
        REQUIRE(exec(db.get(), "INSERT INTO t (k) VALUES ('x')", "insert"));
        Statement dup(db.get(), "INSERT INTO t (k) VALUES ('x')");
        CHECK(dup.step() == SQLITE_CONSTRAINT);
        const auto e = dup.error("insert x");
        CHECK(e.kind == ErrorKind::conflict);
        CHECK(e.message.starts_with("insert x: UNIQUE constraint failed"));
    }
    SUBCASE("exec reports SQLite's message under the caller's name") {
        auto s = exec(db.get(), "CREATE TABLE t (k TEXT)", "schema");
        REQUIRE_FALSE(s);
        CHECK(s.error().message == "schema: table t already exists");
        CHECK(s.error().kind == ErrorKind::io);
    }
}

TEST_CASE("sqlite statement: a write lock held elsewhere is busy") {
    const std::string path = "file:busy_test?mode=memory&cache=shared";
    sqlite3* a = nullptr;
    sqlite3* b = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &a, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr) ==
            SQLITE_OK);
    REQUIRE(sqlite3_open_v2(path.c_str(), &b, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, nullptr) ==
            SQLITE_OK);
    Connection ca(a);
    Connection cb(b);
    REQUIRE(exec(a, "CREATE TABLE t (k TEXT)", "setup"));
    REQUIRE(exec(a, "BEGIN IMMEDIATE; INSERT INTO t VALUES ('x')", "lock"));
    auto s = exec(b, "BEGIN IMMEDIATE", "begin");
    REQUIRE_FALSE(s);
    CHECK(s.error().kind == ErrorKind::busy);
    CHECK(s.error().message.starts_with("begin: "));
}

TEST_CASE("sqlite statement cache: one prepared statement per text, reset after each use") {
    auto db = open_memory();
    StatementCache cache(db.get());
    REQUIRE(exec(db.get(), "INSERT INTO t (k, n) VALUES ('a', 1), ('b', 2)", "insert"));
    const char* sql = "SELECT k FROM t WHERE n >= ?1 ORDER BY n";
    Statement* first = nullptr;
    {
        auto st = cache.get(sql);
        REQUIRE(st);
        first = &**st;
        (*st)->bind(1, 1LL);
        REQUIRE((*st)->step() == SQLITE_ROW);
        CHECK((*st)->text(0) == "a");
    }  // left mid-result: the borrow resets it
    {
        auto st = cache.get(sql);
        REQUIRE(st);
        CHECK(&**st == first);
        REQUIRE((*st)->step() == SQLITE_ROW);  // the binding stays until rebound
        CHECK((*st)->text(0) == "a");
    }
    auto bad = cache.get("SELECT nope\nFROM t");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "prepare SELECT nope FROM t: no such column: nope");
    cache.clear();
}
