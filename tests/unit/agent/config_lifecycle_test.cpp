// The site config's lifecycle alone (no agent, no broker): a config checked like a set_config's, installed as
// the file with the previous one kept, the restart handed to the caller on the executor, and the outcome
// recorded — the applied issued_at for a command, the page's text for a local save.
#include "pvfleet/agent/config_lifecycle.hpp"

#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/util/clock.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::agent;
using namespace std::chrono_literals;

namespace {

nlohmann::json site_json(const std::string& version) {
    auto j = nlohmann::json::parse(R"({
      "format": 1, "site_id": "unit-site", "latitude": 47.99, "longitude": 7.85,
      "endpoints": [{"id": "lan", "tcp": "127.0.0.1:5020"}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "ac_kw": 5}],
      "arrays": [{"inverter": "inv1", "dc_kw": 5, "tilt": 30, "azimuth": 180}],
      "store": {"path": "edge.db"}})");
    j["config_version"] = version;
    return j;
}

std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A running config read from `dir`/site.json, a store beside it and an executor the restart is posted to.
struct Fixture {
    test::TempDir dir;
    std::filesystem::path file = dir.path() / "site.json";
    SiteConfig running;
    std::unique_ptr<store::GatewayStore> db;
    ManualClock clock{from_epoch_ms(1'780'000'000'000)};
    boost::asio::io_context io;

    Fixture() {
        std::ofstream(file) << site_json("v1").dump(2);
        auto c = load_site_config(file);
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
        running = std::move(*c);
        auto s = store::GatewayStore::open((dir.path() / "edge.db").string());
        REQUIRE(s.ok());
        db = std::move(*s);
    }
    ConfigLifecycle lifecycle() { return ConfigLifecycle({*db, clock, running, io.get_executor()}); }
};

}  // namespace

TEST_CASE("config lifecycle: without a restart handler or a config file nothing can be applied") {
    Fixture f;
    auto lc = f.lifecycle();
    CHECK_FALSE(lc.can_restart());
    auto refused = lc.apply_from_local_page(site_json("v2").dump());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::unsupported);
    CHECK(read(f.file).find("\"v1\"") != std::string::npos);  // untouched

    f.running.config_file.reset();
    lc.set_restart_handler([](ConfigChange) {});
    CHECK_FALSE(lc.can_restart());
}

TEST_CASE("config lifecycle: a local save is checked, installed, restarted on the executor and recorded") {
    Fixture f;
    auto lc = f.lifecycle();
    std::vector<ConfigChange> restarts;
    lc.set_restart_handler([&](ConfigChange c) { restarts.push_back(std::move(c)); });
    REQUIRE(lc.can_restart());

    // Refused: every error with its key path, nothing written, not restarting.
    auto bad = site_json("v2");
    bad["poll"] = {{"fast_s", 0}};
    auto refused = lc.apply_from_local_page(bad.dump());
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos);
    auto foreign = site_json("v2");
    foreign["site_id"] = "another-site";
    CHECK_FALSE(lc.apply_from_local_page(foreign.dump()).ok());
    CHECK_FALSE(lc.restarting());
    CHECK(read(f.file).find("\"v1\"") != std::string::npos);

    auto applied = lc.apply_from_local_page(site_json("v2").dump());
    REQUIRE_MESSAGE(applied.ok(), (applied.ok() ? "" : applied.error().message));
    CHECK(*applied == "v2");
    CHECK(lc.restarting());
    CHECK(read(f.file).find("\"v2\"") != std::string::npos);
    CHECK(read(previous_config_path(f.file)).find("\"v1\"") != std::string::npos);
    // A second save while the first is being applied is refused as busy.
    auto busy = lc.apply_from_local_page(site_json("v3").dump());
    REQUIRE_FALSE(busy.ok());
    CHECK(busy.error().kind == ErrorKind::busy);

    // The restart is posted, never run inside the caller (an HTTP request or MQTT callback).
    CHECK(restarts.empty());
    f.io.run();
    REQUIRE(restarts.size() == 1);
    CHECK(restarts[0].command_id.empty());
    CHECK(restarts[0].issued_at == f.clock.now());
    CHECK(restarts[0].config.config_version == "v2");

    // The next agent records the outcome: the page shows it; a local save sets no applied issued_at.
    auto next = ConfigLifecycle({*f.db, f.clock, restarts[0].config, f.io.get_executor()});
    const auto outcome = next.finish(restarts[0], Status{});
    CHECK(outcome.applied);
    CHECK(outcome.detail == "config v2 applied");
    CHECK(next.last_local_change() == "config v2 applied");
}

TEST_CASE("config lifecycle: a command's outcome keeps its issued_at; a failed start says what was restored") {
    Fixture f;
    auto lc = f.lifecycle();
    auto none = lc.last_applied();
    REQUIRE(none.ok());
    CHECK_FALSE(none->has_value());

    auto v2 = lc.check(site_json("v2").dump());
    REQUIRE(v2.ok());
    const TimePoint issued = f.clock.now() - 5min;
    const ConfigChange change{"cmd-7", issued, *v2};

    const auto failed = lc.finish(change, Status{Error{"store: disk full", ErrorKind::io}});
    CHECK_FALSE(failed.applied);
    CHECK(failed.detail == "config v2 did not start (store: disk full); config v1 restored");
    CHECK_FALSE(lc.last_applied()->has_value());  // a failed change is not what later ones are ordered against
    CHECK(lc.last_local_change().empty());        // a command's outcome goes into its ack, not onto the page

    auto next = ConfigLifecycle({*f.db, f.clock, *v2, f.io.get_executor()});
    const auto ok = next.finish(change, Status{});
    CHECK(ok.applied);
    CHECK(ok.detail == "config v2 applied");
    auto stored = next.last_applied();
    REQUIRE(stored.ok());
    REQUIRE(stored->has_value());
    CHECK(**stored == issued);
    // Kept in the store: a later agent on the same database reads it back.
    CHECK(*f.lifecycle().last_applied() == std::optional<TimePoint>(issued));
}

TEST_CASE(
    "config lifecycle: a patch is merged into the running config's file, then checked like a whole config") {
    Fixture f;
    auto lc = f.lifecycle();
    const std::string before = read(f.file);
    auto patched = lc.patched(R"({"poll": {"slow_s": 600}})", "fleet-2");
    REQUIRE_MESSAGE(patched.ok(), (patched.ok() ? "" : patched.error().message));
    auto next = lc.check(*patched);
    REQUIRE_MESSAGE(next.ok(), (next.ok() ? "" : next.error().message));
    CHECK(next->config_version == "fleet-2");
    CHECK(next->intervals.slow == 600s);
    CHECK(next->site_id == "unit-site");
    CHECK(read(f.file) == before);  // merging writes nothing

    // Invalid once merged: the parser's key paths, and the file stays.
    auto invalid = lc.patched(R"({"poll": {"fast_s": 0}})", "fleet-3");
    REQUIRE(invalid.ok());
    auto refused = lc.check(*invalid);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos);
    CHECK(read(f.file) == before);

    // A file that cannot be read or is no JSON object: said so, naming the file.
    std::ofstream(f.file, std::ios::trunc) << "[1]";
    auto not_object = lc.patched("{}", "fleet-4");
    REQUIRE_FALSE(not_object.ok());
    CHECK(not_object.error().message == "config file " + f.file.string() + ": is not a JSON object");
    std::filesystem::remove(f.file);
    auto gone = lc.patched("{}", "fleet-4");
    REQUIRE_FALSE(gone.ok());
    CHECK(gone.error().message == "config file " + f.file.string() + ": cannot be read");
}
