// Two pvfleet-server instances on one broker and one PostgreSQL database, splitting ingest through a shared
// subscription; one of them is killed and restarted mid-run. Every seq of every gateway is stored exactly
// once and each (site, device, fault kind) has exactly one work order.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <iostream>

#include "support/mqtt_broker.hpp"
#include "support/server_process.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

TEST_CASE("two server instances, one PostgreSQL, shared subscription: no loss, no duplicate work order") {
    if (test::find_program("mosquitto").empty()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    test::PostgresCluster pg;
    if (!pg.ok()) {
        MESSAGE("PostgreSQL not available: skipped (" << pg.why() << ")");
        return;
    }
    const std::string uri_db = pg.create_database("fleet");
    test::TempDir dir;
    const int port = test::free_tcp_port();
    sync::itest::Mosquitto broker(
        dir / "broker", port, {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous true"});
    REQUIRE(broker.start());
    const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);

    // Instances on one database share its personal-data key (the second would refuse to start with its own).
    const auto key = dir / "secret.key";
    std::ofstream(key) << std::string(64, 'e') << "\n";
    std::filesystem::permissions(key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    auto options = [&](const std::string& id) {
        itest::ServerProcessOptions o;
        o.secret_key_file = key.string();
        o.broker_uri = uri;
        o.client_id = id;
        o.shared_group = "fleet";
        o.postgres_uri = uri_db;
        return o;
    };
    itest::ServerProcess a(dir / "a", options("server-a"));
    itest::ServerProcess b(dir / "b", options("server-b"));
    REQUIRE_MESSAGE(a.start(), a.log());
    REQUIRE_MESSAGE(b.start(), b.log());

    constexpr int kCount = 300;
    const std::vector<std::string> sites{"fleet-1", "fleet-2", "fleet-3"};
    std::vector<std::unique_ptr<test::ChildProcess>> agents;
    for (const auto& site : sites)
        agents.push_back(std::make_unique<test::ChildProcess>(
            std::vector<std::string>{SYNC_TEST_AGENT, uri, (dir / (site + ".db")).string(), site,
                                     std::to_string(kCount), "60"},
            dir / (site + ".log")));
    // Mid-run by progress, not by a pause: b is killed once a third of all messages is stored (its share of
    // those in flight must come back through the gap check), and restarted once a alone stored another 150 (or
    // everything).
    const auto stored = [&] { return a.scalar("SELECT COUNT(*) FROM received"); };
    const long long total = static_cast<long long>(sites.size()) * kCount;
    CHECK_MESSAGE(sync::itest::wait_until([&] { return stored() >= total / 3; }, 60s), (a.log() + b.log()));
    b.kill();
    const long long at_kill = stored();
    sync::itest::wait_until([&] { return stored() >= std::min(at_kill + 150, total); }, 30s);
    REQUIRE_MESSAGE(b.start(), b.log());

    const auto complete = [&] {
        for (const auto& s : sites)
            if (a.scalar("SELECT COUNT(*) FROM received WHERE site_id = $1", {s}) != kCount) return false;
        return true;
    };
    const bool all = sync::itest::wait_until(complete, 120s);
    CHECK_MESSAGE(all, (a.log() + b.log()));
    for (const auto& s : sites) {
        CAPTURE(s);
        CHECK(a.scalar("SELECT COUNT(*) FROM received WHERE site_id = $1", {s}) == kCount);
        CHECK(a.scalar("SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw WHERE site_id = $1", {s}) == kCount - kCount / 5);
        CHECK(a.scalar("SELECT COUNT(*) FROM ticket_events WHERE site_id = $1", {s}) == kCount / 5);
        // The test gateway's tickets are all inv1/comm_lost: one work order, updated by every later event.
        CHECK(a.scalar("SELECT COUNT(*) FROM work_orders WHERE site_id = $1", {s}) == 1);
        CHECK(a.scalar("SELECT contiguous_through FROM site_seq WHERE site_id = $1", {s}) == kCount);
    }
    // Both instances did part of the work.
    const auto ingested = [](const std::string& log) {
        return log.find("work order") != std::string::npos || log.find("stored") != std::string::npos;
    };
    CHECK(ingested(a.log()));
    std::cout << "two instances: " << sites.size() * kCount
              << " messages stored once each across a kill of one instance\n";
    for (auto& ag : agents) ag->stop();
}
