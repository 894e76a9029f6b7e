#pragma once
// The server's repositories tested on both engines: a fresh SQLite file, and a fresh PostgreSQL database when the
// build has libpqxx and a throwaway cluster starts (support/postgres.hpp); otherwise the PostgreSQL cases are
// skipped with a message saying why. Header-only: only server tests include it.
#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/result.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"

namespace pvfleet::test {

struct Backend {
    std::string name;
    std::function<std::unique_ptr<storage::Db>()> open;
};

inline PostgresCluster& shared_cluster() {
    static PostgresCluster cluster;
    return cluster;
}

inline std::unique_ptr<storage::Db> open_or_fail(const storage::DbOptions& options) {
    auto db = storage::open_db(options);
    REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
    return std::move(*db);
}

// Fresh databases for one case, named `prefix` + a counter.
inline std::vector<Backend> fresh_backends(TempDir& dir, const std::string& prefix) {
    static int counter = 0;
    ++counter;
    std::vector<Backend> out;
    storage::DbOptions sqlite;
    sqlite.sqlite_path = (dir / (prefix + std::to_string(counter) + ".db")).string();
    out.push_back({"sqlite", [sqlite] { return open_or_fail(sqlite); }});
    if (!storage::postgres_available()) {
        MESSAGE("this build has no libpqxx: PostgreSQL cases skipped");
        return out;
    }
    if (!shared_cluster().ok()) {
        MESSAGE("PostgreSQL cases skipped: " << shared_cluster().why());
        return out;
    }
    storage::DbOptions postgres;
    postgres.engine = storage::Engine::postgres;
    postgres.postgres_uri = shared_cluster().create_database(prefix + std::to_string(counter));
    out.push_back({"postgres", [postgres] { return open_or_fail(postgres); }});
    return out;
}

// The personal-data key of the tests (never a real one).
inline records::FieldCipher test_cipher() {
    std::array<unsigned char, 32> key{};
    key.fill(0x42);
    return records::FieldCipher::from_key(key);
}

// The value of a Result the test expects to hold one; otherwise the case fails with the error's text.
template <class T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r).value();
}

}  // namespace pvfleet::test
