// The edge agent is killed with SIGKILL at random moments while it produces and publishes, and restarted
// each time; at the end every seq 1..N has arrived at a subscriber, repeated deliveries carry exactly the same
// message, and the broker published the agent's last will (retained offline status) after the kills.
#include <doctest/doctest.h>

#include <csignal>
#include <iostream>
#include <random>

#include "support/mqtt_broker.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

TEST_CASE("sync: edge killed mid-publish and restarted, no loss, duplicates only repeat a seq") {
    if (::pvfleet::test::find_program("mosquitto").empty()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    ::pvfleet::test::TempDir dir;
    const int port = ::pvfleet::test::free_tcp_port();
    sync::itest::Mosquitto broker(dir / "broker", port, {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous true"});
    REQUIRE(broker.start());
    const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);

    sync::itest::Recorder recorder;
    mqtt::ClientOptions sub;
    sub.server_uri = uri;
    sub.client_id = "test-server";
    sub.reconnect_min = 100ms;
    sub.subscriptions = sync::itest::all_uplink_subscriptions();
    sync::itest::Subscriber subscriber(sub, recorder);
    REQUIRE(sync::itest::wait_until([&] { return subscriber.connected(); }, 10s));

    constexpr protocol::Seq kCount = 400;
    const std::vector<std::string> argv{SYNC_TEST_AGENT, uri, (dir / "edge.db").string(), "site-k", std::to_string(kCount)};
    std::mt19937 rng(20260719);
    std::uniform_int_distribution<int> pause_ms(150, 700);
    int kills = 0;
    for (int round = 0; round < 8; ++round) {
        const std::size_t statuses_before = recorder.statuses().size();
        ::pvfleet::test::ChildProcess agent(argv, dir / ("agent-" + std::to_string(round) + ".log"));
        // Kill only a connected agent (its online status arrived): a kill before it connects tests nothing, and on
        // a loaded machine connecting can take longer than the whole pause.
        sync::itest::wait_until([&] { return recorder.statuses().size() > statuses_before || !agent.running(); },
                                10s);
        // The random moment of the kill is what is under test, so a pause of random length is the point here.
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));
        if (!agent.running()) break;  // finished already
        agent.signal(SIGKILL);
        agent.wait(5s);
        ++kills;
    }
    {
        ::pvfleet::test::ChildProcess agent(argv, dir / "agent-final.log");
        const auto status = agent.wait(60s);
        REQUIRE_MESSAGE(status.has_value(), "the agent did not finish");
        CHECK_MESSAGE(*status == 0, ::pvfleet::test::read_file(dir / "agent-final.log"));
    }
    const bool all = sync::itest::wait_until([&] { return recorder.seqs_of("site-k").size() == kCount; }, 15s);
    CHECK(all);
    const auto seqs = recorder.seqs_of("site-k");
    CHECK(seqs.size() == kCount);
    if (!seqs.empty()) {
        CHECK(*seqs.begin() == 1);
        CHECK(*seqs.rbegin() == kCount);
    }
    std::size_t duplicates = 0;
    for (const auto& [key, arrivals] : recorder.seqs()) {
        duplicates += arrivals.size() - 1;
        for (const auto& a : arrivals) CHECK_MESSAGE(a.fingerprint == arrivals.front().fingerprint, "seq " << key.second);
    }
    CHECK(recorder.undecodable() == 0);
    bool saw_will = false;
    for (const auto& s : recorder.statuses()) saw_will = saw_will || s.state == protocol::SiteState::offline;
    if (kills > 0) CHECK_MESSAGE(saw_will, "no offline last will after " << kills << " kills");
    std::cout << "kill: " << kills << " kills, " << seqs.size() << " of " << kCount << " seqs arrived, " << duplicates
              << " duplicate deliveries\n";
}
