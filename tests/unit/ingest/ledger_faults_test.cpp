// Every error path of one group commit on SQLite (fault_walk.hpp).
#include "fault_walk.hpp"
#include "support/paths.hpp"

using namespace pvfleet;

TEST_CASE("ingest ledger: a failure at any statement of a group commit stores nothing; the retry stores all once") {
    test::TempDir dir;
    const auto statements = ingest_test::walk_failures([&](const std::string& name) {
        storage::DbOptions o;
        o.sqlite_path = (dir / (name + ".db")).string();
        auto db = storage::open_db(o);
        REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
        return std::move(*db);
    }, true);
    MESSAGE("SQLite: walked " << statements << " failing statements");
}
