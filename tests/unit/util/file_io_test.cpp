// Files written whole: the bytes there after the call, a replaced file never seen half-written (the temporary
// removed), and failures that name the file and leave nothing behind.
#include "pvfleet/util/file_io.hpp"

#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "support/paths.hpp"

using namespace pvfleet;
namespace fs = std::filesystem;

TEST_CASE("file_io: written and synced, replaced whole, mode on creation") {
    test::TempDir dir;
    const fs::path file = dir / "state.json";
    const std::string big(300'000, 'x');  // more than one write() may take at once on a pipe-like file
    REQUIRE(util::write_file_synced(file, big, 0600));
    CHECK(test::read_file(file) == big);
    CHECK((fs::status(file).permissions() & fs::perms::all) ==
          (fs::perms::owner_read | fs::perms::owner_write));
    REQUIRE(util::replace_file_atomically(file, "{\"phase\":\"idle\"}"));
    CHECK(test::read_file(file) == "{\"phase\":\"idle\"}");
    CHECK_FALSE(fs::exists(dir / "state.json.tmp"));
    CHECK(util::sync_directory(dir.path()));
}

TEST_CASE("file_io: failures name the file and leave the old one") {
    test::TempDir dir;
    const fs::path file = dir / "crl.pem";
    REQUIRE(util::replace_file_atomically(file, "old"));
    const auto missing = util::write_file_synced(dir / "no-such-folder" / "x", "y");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("no-such-folder/x' cannot be created") != std::string::npos);
    // The rename target is a folder: the temporary goes, the old file stays.
    fs::create_directories(dir / "taken");
    const auto blocked = util::replace_file_atomically(dir / "taken", "new");
    REQUIRE_FALSE(blocked);
    CHECK(blocked.error().message.find("cannot be renamed") != std::string::npos);
    CHECK_FALSE(fs::exists(dir / "taken.tmp"));
    CHECK(test::read_file(file) == "old");
    CHECK_FALSE(util::sync_directory(dir / "nothing-here"));
}
