#pragma once
// The real pvfleet-server run to its end, and a look into its SQLite file (the server_cli tests).
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"

namespace pvfleet::cli_test {

struct Outcome {
    int status = -1;
    std::string output;  // stdout and stderr
};

// Runs pvfleet-server with these arguments to its end (`run` ends by itself only when it refuses to start).
inline Outcome server(const std::filesystem::path& dir, std::vector<std::string> args, const std::string& name) {
    const std::filesystem::path log = dir / (name + ".log");
    args.insert(args.begin(), PVFLEET_SERVER_BIN);
    test::ChildProcess proc(args, log);
    const auto status = proc.wait(std::chrono::seconds(60));
    REQUIRE_MESSAGE(status.has_value(), "pvfleet-server " << name << " did not end");
    return {*status, test::read_file(log)};
}

// The first column of the first row of `sql` on the SQLite file (0 without rows).
inline long long scalar(const std::filesystem::path& db_path, const std::string& sql) {
    storage::DbOptions o;
    o.sqlite_path = db_path.string();
    auto db = storage::open_db(o);
    REQUIRE(db.ok());
    auto r = (*db)->run(sql);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r->rows.empty() ? 0 : r->rows[0].integer(0);
}

}  // namespace pvfleet::cli_test
