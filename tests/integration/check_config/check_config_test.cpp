// `pvfleet-edge check-config SITE.json` over golden cases (tests/golden/config/check-config.json): each case is
// a JSON merge patch onto a valid site config, with the exit status and the exact stdout and stderr the binary
// must give. "$DIR" stands for the case's folder (the config file is $DIR/site.json, its register maps
// $DIR/maps: two GoodWe maps, so the list of known profiles does not move when maps are added to the product).
// PVFLEET_GOLDEN_UPDATE=1 rewrites the expectations from what the binary gives now (review the diff).
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;
namespace fs = std::filesystem;

namespace {

std::string replace_all(std::string text, const std::string& from, const std::string& to) {
    for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
        text.replace(at, from.size(), to);
    return text;
}

struct Outcome {
    int status = -1;
    std::string out, err;
};

// Runs the binary on `file` with stdout and stderr kept apart (their interleaving is not defined).
Outcome check(const test::TempDir& dir, const std::vector<std::string>& args) {
    std::string command = "'" PVFLEET_EDGE_EXE "'";
    // A cross build runs the binary under the emulator ctest names (tests/CMakeLists.txt), as run_command would.
    if (const char* emulator = std::getenv("PVFLEET_TEST_EMULATOR"); emulator != nullptr && *emulator != '\0')
        command = std::string(emulator) + " " + command;
    for (const auto& a : args) command += " '" + a + "'";
    command += " >'" + (dir / "out").string() + "' 2>'" + (dir / "err").string() + "'";
    const auto r = test::run_command({"/bin/sh", "-c", command});
    const std::string d = dir.path().string();
    return {r.status, replace_all(test::read_file(dir / "out"), d, "$DIR"),
            replace_all(test::read_file(dir / "err"), d, "$DIR")};
}

void copy_maps(const test::TempDir& dir) {
    fs::create_directories(dir / "maps");
    for (const char* name : {"goodwe-dt.json", "goodwe-et.json"})
        fs::copy_file(test::source_dir() / "firmware-config/devices" / name, dir / "maps" / name);
}

}  // namespace

TEST_CASE("check-config: every golden site config gets its exit status, effective config or key-path errors") {
    const auto path = test::source_dir() / "tests/golden/config/check-config.json";
    auto golden = nlohmann::json::parse(test::read_file(path));
    const bool update = std::getenv("PVFLEET_GOLDEN_UPDATE") != nullptr;
    for (auto& c : golden.at("cases")) {
        test::TempDir dir;
        copy_maps(dir);
        auto doc = golden.at("valid");
        doc.merge_patch(c.at("patch"));
        std::ofstream(dir / "site.json") << doc.dump(2) << "\n";
        const auto got = check(dir, {"check-config", (dir / "site.json").string()});
        if (update) {
            c["exit"] = got.status;
            c["stdout"] = got.out;
            c["stderr"] = got.err;
            continue;
        }
        INFO(c.at("name").get<std::string>());
        CHECK(got.status == c.at("exit").get<int>());
        CHECK(got.out == c.at("stdout").get<std::string>());
        CHECK(got.err == c.at("stderr").get<std::string>());
    }
    if (update) std::ofstream(path) << golden.dump(1) << "\n";
}

TEST_CASE("check-config: the spellings, a missing file and a bad command line") {
    test::TempDir dir;
    copy_maps(dir);
    auto golden = nlohmann::json::parse(test::read_file(test::source_dir() / "tests/golden/config/check-config.json"));
    std::ofstream(dir / "site.json") << golden.at("valid").dump(2) << "\n";
    const auto verb = check(dir, {"check-config", (dir / "site.json").string()});
    CHECK(verb.status == 0);
    const auto flag = check(dir, {"--check-config", (dir / "site.json").string()});
    CHECK(flag.status == 0);
    CHECK(flag.out == verb.out);
    const auto option = check(dir, {"check-config", "--config", (dir / "site.json").string()});
    CHECK(option.out == verb.out);

    const auto missing = check(dir, {"check-config", (dir / "absent.json").string()});
    CHECK(missing.status == 1);
    CHECK(missing.err == "$DIR/absent.json: bad site config:\n$DIR/absent.json: cannot open\n");

    std::ofstream(dir / "broken.json") << "{\"format\": 1,";
    const auto broken = check(dir, {"check-config", (dir / "broken.json").string()});
    CHECK(broken.status == 1);
    CHECK(broken.err.find("not JSON") != std::string::npos);

    CHECK(check(dir, {"check-config"}).status == 2);
    CHECK(check(dir, {"check-config", "a.json", "b.json"}).status == 2);
}
