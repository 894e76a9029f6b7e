// pvfleet-server refuses to start with a personal-data key that is not the database's, and never creates a
// new key for a database that holds encrypted data (the real binary, its SQLite file and key file).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include "server_runs.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using cli_test::scalar;
using cli_test::server;

void write(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
    fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

constexpr const char* kCsv =
    "customer_name,phone,email,address,notes,site_id,site_name,site_address,latitude,longitude,time_zone,kwp,"
    "tilt,azimuth,installed_on\n"
    "Anna Schmidt,+49 171 2345678,anna@example.org,\"Hauptstr. 1, 10115 Berlin\",,berlin-001,House roof,"
    "\"Hauptstr. 1, 10115 Berlin\",52.5321,13.3849,Europe/Berlin,9.8,30,180,2024-05-17\n";

}  // namespace

TEST_CASE("server start-up: the key check value; a wrong key or a missing key with data is refused") {
    test::TempDir temp;
    const fs::path& dir = temp.path();
    const fs::path config = dir / "server.json";
    write(config, R"({"database": {"kind": "sqlite", "path": "server.db"}, "http": {"port": 0}})");
    write(dir / "customers.csv", kCsv);
    const fs::path db = dir / "server.db";
    const fs::path key = dir / "secret.key";
    const std::vector<std::string> import{"import", "customers", (dir / "customers.csv").string(), "--config",
                                          config.string()};

    // First start (an import): the default key is created and its check value stored.
    auto first = server(dir, import, "import-1");
    REQUIRE_MESSAGE(first.status == 0, first.output);
    CHECK(fs::exists(key));
    CHECK(scalar(db, "SELECT COUNT(*) FROM field_key_check") == 1);
    CHECK(scalar(db, "SELECT COUNT(*) FROM customers") == 1);

    // Another key in its place: `run` and `import` refuse, name the key file, and change nothing.
    const std::string right_key = test::read_file(key);
    write(key, std::string(64, 'd') + "\n");
    auto wrong_run = server(dir, {"run", "--config", config.string()}, "run-wrong");
    CHECK(wrong_run.status != 0);
    CHECK_MESSAGE(wrong_run.output.find(key.string()) != std::string::npos, wrong_run.output);
    CHECK(wrong_run.output.find("key check value") != std::string::npos);
    CHECK(wrong_run.output.find("http listening") == std::string::npos);
    auto wrong_import = server(dir, import, "import-wrong");
    CHECK(wrong_import.status != 0);
    CHECK(wrong_import.output.find(key.string()) != std::string::npos);
    CHECK(scalar(db, "SELECT COUNT(*) FROM customers") == 1);

    // The key file gone: refused, and no new key is written.
    fs::remove(key);
    auto missing = server(dir, {"run", "--config", config.string()}, "run-missing");
    CHECK(missing.status != 0);
    CHECK_MESSAGE(missing.output.find(key.string()) != std::string::npos, missing.output);
    CHECK(missing.output.find("not found") != std::string::npos);
    CHECK_FALSE(fs::exists(key));

    // The right key back: accepted.
    write(key, right_key);
    std::string second = kCsv;
    second.replace(second.find("Anna Schmidt"), 12, "Ben Berger");
    second.replace(second.find("berlin-001"), 10, "berlin-002");
    write(dir / "customers.csv", second);
    auto again = server(dir, import, "import-2");
    CHECK_MESSAGE(again.status == 0, again.output);
    CHECK(scalar(db, "SELECT COUNT(*) FROM customers") == 2);
}
