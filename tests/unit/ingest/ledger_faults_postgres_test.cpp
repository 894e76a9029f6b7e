// Every error path of one group commit on PostgreSQL (fault_walk.hpp): fewer, multi-row statements, the
// sites locked FOR UPDATE, the LATERAL probe of stored readings. Skipped with a message without PostgreSQL.
#include "fault_walk.hpp"
#include "support/postgres.hpp"

using namespace pvfleet;

TEST_CASE("ingest ledger on PostgreSQL: a failure at any statement stores nothing; the retry stores all once") {
    if (!storage::postgres_available()) {
        MESSAGE("this build has no libpqxx: skipped");
        return;
    }
    test::PostgresCluster cluster;
    if (!cluster.ok()) {
        MESSAGE("PostgreSQL cases skipped: " << cluster.why());
        return;
    }
    const auto statements = ingest_test::walk_failures([&](const std::string& name) {
        storage::DbOptions o;
        o.engine = storage::Engine::postgres;
        o.postgres_uri = cluster.create_database(name);
        auto db = storage::open_db(o);
        REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
        return std::move(*db);
    }, false);
    MESSAGE("PostgreSQL: walked " << statements << " failing statements");
}
