// The whole gateway agent as installed: `pvfleet-edge run --config site.json` reads two inverters from
// pvfleet-sim over Modbus TCP, stores and detects, and publishes telemetry and status to a real mosquitto.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/mqtt/client.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/update/update.hpp"
#include "support/mqtt_broker.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using sync::itest::Mosquitto;

namespace {

// Every ack of one site, as the back office receives them. A set_config restarts the agent, so acks come from
// two agents in turn over a minute or more: one long-lived subscriber collects them all.
class AckListener {
public:
    AckListener(const std::string& server_uri, const std::string& site) {
        mqtt::ClientOptions o;
        o.server_uri = server_uri;
        o.client_id = "test-acks";
        // The probe topic last: the broker handles a client's subscriptions in order, so once a probe comes
        // back on it, the acks subscription is in place too.
        o.subscriptions = {{protocol::topic_for(site, protocol::MessageKind::command_ack), 1}, {kProbeTopic, 1}};
        io_.run([&] {
            auto c = mqtt::Client::create(io_.context().get_executor(), std::move(o));
            REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
            client_ = std::move(*c);
            client_->on_message = [this](const mqtt::Message& m) {
                std::lock_guard lock(mu_);
                if (m.topic == kProbeTopic) {
                    probe_seen_ = true;
                    return;
                }
                auto ack = protocol::decode_command_ack(m.payload);
                if (ack)
                    acks_.push_back(std::move(*ack));
                else
                    ++undecodable_;
            };
            client_->start();
        });
    }
    ~AckListener() {
        io_.run([&] { client_.reset(); });
    }
    bool connected() {
        bool c = false;
        io_.run([&] { c = client_->connected(); });
        return c;
    }
    // Connected and subscribed: a probe published to ourselves came back (published again while it does not).
    bool subscribed(std::chrono::milliseconds timeout) {
        return sync::itest::wait_until(
            [&] {
                if (!connected()) return false;
                {
                    std::lock_guard lock(mu_);
                    if (probe_seen_) return true;
                }
                io_.run([&] { client_->publish({kProbeTopic, "probe", 1, false}, [](Status) {}); });
                return sync::itest::wait_until(
                    [&] {
                        std::lock_guard lock(mu_);
                        return probe_seen_;
                    },
                    500ms);
            },
            timeout);
    }
    // The acks received so far, in arrival order.
    std::vector<protocol::CommandAck> acks() {
        std::lock_guard lock(mu_);
        return acks_;
    }
    // The nth ack (0: the first) of a command id, waiting for it up to `timeout`.
    std::optional<protocol::CommandAck> wait_for(const std::string& command_id, size_t nth,
                                                 std::chrono::milliseconds timeout) {
        std::optional<protocol::CommandAck> found;
        sync::itest::wait_until(
            [&] {
                std::lock_guard lock(mu_);
                size_t seen = 0;
                for (const auto& a : acks_) {
                    if (a.command_id == command_id && seen++ == nth) found = a;
                }
                return found.has_value();
            },
            timeout);
        return found;
    }
    size_t undecodable() {
        std::lock_guard lock(mu_);
        return undecodable_;
    }

private:
    sync::itest::IoThread io_;
    std::unique_ptr<mqtt::Client> client_;
    std::mutex mu_;
    std::vector<protocol::CommandAck> acks_;
    size_t undecodable_ = 0;
    bool probe_seen_ = false;
    static constexpr const char* kProbeTopic = "pvfleet-test/acks-probe";
};

}  // namespace

TEST_CASE("site config: every error at once, each with its key path") {
    const auto doc = nlohmann::json::parse(R"({
      "format": 1, "site_id": "Bad Site", "config_version": "1", "latitude": 47.99, "longitude": 7.85,
      "endpoints": [{"id": "lan", "tcp": "10.0.0.1:99999"}, {"id": "lan", "rtu": {"device": "/dev/ttyUSB0", "baud": 9600, "parity": "X"}}],
      "inverters": [{"id": "inv1", "endpoint": "wifi", "unit": 300, "ac_kw": 5}],
      "arrays": [{"inverter": "inv1", "dc_kw": 5, "tilt": 30, "azimuth": 180}],
      "poll": {"fast_s": 0}, "store": {"path": "edge.db"}, "mqtt": {"uri": "http://x"}, "colour": "red"})");
    auto c = agent::parse_site_config(doc, "/tmp");
    REQUIRE_FALSE(c.ok());
    const auto& m = c.error().message;
    CAPTURE(m);
    for (const char* expected : {
             "colour: unknown key",
             "site_id: 'Bad Site' must match [a-z0-9][a-z0-9-]{0,62}",
             "endpoints/0/tcp: ",
             "endpoints/1/id: duplicate 'lan'",
             "endpoints/1/rtu/parity: ",
             "inverters/0/endpoint: no endpoint 'wifi'",
             "inverters/0/unit: expected 0..247, got 300",
             "poll/fast_s: expected 1..3600, got 0",
             "mqtt/uri: 'http://x' must start with tcp:// or ssl://",
         }) {
        CHECK_MESSAGE(m.find(expected) != std::string::npos, expected);
    }
    // the shipped example is valid (its certificate files do not exist here: only those errors)
    auto example =
        agent::load_site_config(test::source_dir() / "firmware-config/sites/example-household.json");
    REQUIRE_FALSE(example.ok());
    CHECK(example.error().message ==
          "mqtt/ca_file: no file /etc/pvfleet/ca.crt\nmqtt/cert_file: no file /etc/pvfleet/site.crt\n"
          "mqtt/key_file: no file /etc/pvfleet/site.key");
}

TEST_CASE("pvfleet-edge run: sim -> agent -> mosquitto; bad config exits 2; SIGTERM stops it within 2 s") {
    if (test::find_program("mosquitto").empty()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    test::TempDir dir;
    const int port = test::free_tcp_port();
    Mosquitto broker(dir / "broker", port,
                     {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous true"});
    REQUIRE(broker.start());

    sync::itest::Recorder recorder;
    mqtt::ClientOptions sub;
    sub.server_uri = "tcp://127.0.0.1:" + std::to_string(port);
    sub.client_id = "test-server";
    sub.subscriptions = sync::itest::all_uplink_subscriptions();
    sync::itest::Subscriber subscriber(sub, recorder);
    REQUIRE(sync::itest::wait_until([&] { return subscriber.connected(); }, 10s));

    std::ofstream(dir / "sim.json") << R"({
      "name": "run-test", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
      "time_zone": "Europe/Berlin", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
      "devices": [
        {"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2,
         "manufacturer": "pvfleet", "model": "SIM-8K", "serial": "SIM0001"},
        {"name": "inv2", "unit": 247, "profile": "goodwe-et", "ac_kw": 10.0, "phases": 3, "mppts": 2,
         "manufacturer": "GoodWe", "model": "GW10K-ET", "serial": "9010KETU000W0001"}],
      "arrays": [
        {"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 4.5, "tilt_deg": 35, "azimuth_deg": 180},
        {"id": "b", "device": "inv1", "mppt": 2, "dc_kwp": 4.0, "tilt_deg": 35, "azimuth_deg": 180},
        {"id": "c", "device": "inv2", "mppt": 1, "dc_kwp": 5.5, "tilt_deg": 30, "azimuth_deg": 180},
        {"id": "d", "device": "inv2", "mppt": 2, "dc_kwp": 5.5, "tilt_deg": 30, "azimuth_deg": 180}]})";
    test::ChildProcess sim(
        {PVFLEET_SIM_EXE, "--site", (dir / "sim.json").string(), "--listen", "127.0.0.1:0"}, dir / "sim.log");
    const auto tcp = test::wait_for_log_line(dir / "sim.log", "listening tcp ");
    REQUIRE_MESSAGE(!tcp.empty(), test::read_file(dir / "sim.log"));
    const std::string where = tcp.substr(0, tcp.find(' '));

    auto site = nlohmann::json::parse(R"({
      "format": 1, "site_id": "run-test-1", "config_version": "t1", "latitude": 47.99, "longitude": 7.85,
      "time_zone": "Europe/Berlin",
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "auto", "ac_kw": 8},
                    {"id": "inv2", "endpoint": "lan", "unit": 247, "profile": "goodwe-et", "ac_kw": 10},
                    {"id": "inv3", "endpoint": "lan", "unit": 9, "profile": "goodwe-dt", "ac_kw": 8}],
      "arrays": [{"inverter": "inv1", "dc_kw": 8.5, "tilt": 35, "azimuth": 180},
                 {"inverter": "inv3", "dc_kw": 8, "tilt": 30, "azimuth": 180},
                 {"inverter": "inv2", "dc_kw": 11, "tilt": 30, "azimuth": 180}],
      "poll": {"fast_s": 1, "slow_s": 5}, "store": {"path": "edge.db"}, "sync": {"batch_interval_s": 2}})");
    site["endpoints"][0]["tcp"] = where;
    site["mqtt"] = {{"uri", "tcp://127.0.0.1:" + std::to_string(port)}};
    std::ofstream(dir / "site.json") << site.dump(2);

    // A bad config is refused at start, naming the key.
    auto bad = site;
    bad["inverters"][1]["profile"] = "nosuch";
    std::ofstream(dir / "bad.json") << bad.dump();
    auto refused = test::run_command({PVFLEET_EDGE_EXE, "run", "--config", (dir / "bad.json").string()}, 60s);
    CHECK(refused.status == 2);

    test::ChildProcess agent({PVFLEET_EDGE_EXE, "run", "--config", (dir / "site.json").string()},
                             dir / "agent.log");
    // inv3 is a unit nobody answers (the simulator stays silent): its requests time out, so at the SIGTERM
    // below the poll thread is often blocked in one — the stop must not wait for it. Telemetry of the
    // answering inverters and an online status arrive at the "server".
    const bool arrived = sync::itest::wait_until(
        [&] {
            size_t batches = 0;
            for (const auto& [key, arrivals] : recorder.seqs()) batches += key.first == "run-test-1" ? 1 : 0;
            return batches >= 3 && !recorder.statuses().empty();
        },
        60s);
    CHECK_MESSAGE(arrived, test::read_file(dir / "agent.log"));
    CHECK(recorder.undecodable() == 0);
    const auto statuses = recorder.statuses();
    REQUIRE_FALSE(statuses.empty());
    CHECK(statuses.back().site_id == "run-test-1");

    const auto log = test::read_file(dir / "agent.log");
    CHECK(log.find("effective config") != std::string::npos);
    CHECK(log.find("inv1: pvfleet SIM-8K serial SIM0001 (SunSpec at 40000") != std::string::npos);

    // Downlink commands through the broker: each is answered on the acks topic.
    auto send = [&](const std::string& id, protocol::CommandBody body, std::optional<TimePoint> expires = {},
                    std::optional<TimePoint> issued = {}) {
        protocol::Command c;
        c.site_id = "run-test-1";
        c.command_id = id;
        c.issued_at = issued.value_or(SystemClock{}.now());
        c.expires_at = expires;
        c.body = std::move(body);
        auto payload = protocol::encode(c);
        REQUIRE(payload.ok());
        auto r = test::run_command(
            {test::find_program("mosquitto_pub"), "-h", "127.0.0.1", "-p", std::to_string(port), "-q", "1",
             "-t", "pvfleet/v1/sites/run-test-1/commands", "-m", *payload},
            10s);
        REQUIRE(r.status == 0);
    };
    {
        AckListener acks("tcp://127.0.0.1:" + std::to_string(port), "run-test-1");
        REQUIRE(acks.subscribed(10s));  // before the commands go out
        send("c-1", protocol::AckTicketCommand{"no-such-ticket", "alice", "on my way"});
        send("c-2", protocol::ResendCommand{1, 2});
        send("c-2", protocol::ResendCommand{1, 2});  // a redelivery: not carried out twice
        send("c-3", protocol::ResendCommand{1, 1}, SystemClock{}.now() - 1h);
        REQUIRE(sync::itest::wait_until([&] { return acks.acks().size() >= 4; }, 40s));
        CHECK(acks.undecodable() == 0);
        auto got = acks.acks();
        got.resize(4);  // the first four, as a subscriber counting four would see them
        CHECK(got[0].command_id == "c-1");
        CHECK(got[0].status == protocol::AckStatus::rejected);
        CHECK(got[0].detail.find("no-such-ticket") != std::string::npos);
        CHECK(got[1].status == protocol::AckStatus::done);
        CHECK(got[2].status == protocol::AckStatus::duplicate);
        CHECK(got[3].status == protocol::AckStatus::stale);
    }

    // probe and set_config.
    {
        AckListener acks("tcp://127.0.0.1:" + std::to_string(port), "run-test-1");
        REQUIRE(acks.subscribed(10s));  // before the commands go out
        auto agent_log = [&] { return test::read_file(dir / "agent.log"); };

        // probe: one reading of a configured device, in the ack's detail.
        send("p-1", protocol::ProbeCommand{"inv2"});
        auto probed = acks.wait_for("p-1", 0, 40s);
        REQUIRE_MESSAGE(probed, agent_log());
        CHECK_MESSAGE(probed->status == protocol::AckStatus::done, probed->detail);
        CHECK(probed->detail.size() < 16 * 1024);
        auto reading = nlohmann::json::parse(probed->detail, nullptr, false);
        REQUIRE_MESSAGE(reading.is_object(), probed->detail);
        CHECK(reading.value("device_id", "") == "inv2");
        CHECK(reading.contains("t"));
        REQUIRE(reading["points"].is_object());
        CHECK(reading["points"].contains("energy_total_wh"));
        CHECK(reading["device"].value("profile", "") == "goodwe-et");

        send("p-2", protocol::ProbeCommand{"inv1"});  // identified by SunSpec discovery
        probed = acks.wait_for("p-2", 0, 40s);
        REQUIRE(probed);
        CHECK_MESSAGE(probed->status == protocol::AckStatus::done, probed->detail);
        reading = nlohmann::json::parse(probed->detail, nullptr, false);
        CHECK(reading["device"].value("serial", "") == "SIM0001");
        CHECK_FALSE(reading["points"].empty());

        send("p-3", protocol::ProbeCommand{"inv9"});
        probed = acks.wait_for("p-3", 0, 20s);
        REQUIRE(probed);
        CHECK(probed->status == protocol::AckStatus::rejected);
        CHECK_MESSAGE(probed->detail.find("no device 'inv9'") != std::string::npos, probed->detail);

        send("p-4", protocol::ProbeCommand{"inv3"});  // configured, but nothing answers at unit 9
        probed = acks.wait_for("p-4", 0, 60s);
        REQUIRE(probed);
        CHECK(probed->status == protocol::AckStatus::failed);
        CHECK_MESSAGE(probed->detail.find("inv3") != std::string::npos, probed->detail);

        // The root updater's outcome: it is written after the new agent reported healthy — connected already —
        // so the running agent must find it on its own, not only when its link comes up.
        std::filesystem::create_directories(dir / "update");
        std::ofstream(dir / "update" / "result.json")
            << update::outcome_json({"u-1", "9.9.9", "healthy", "healthy 9.9.9 (was 0.1.0)"});
        auto updated = acks.wait_for("u-1", 0, 30s);
        REQUIRE_MESSAGE(updated, agent_log());
        CHECK(updated->status == protocol::AckStatus::done);
        CHECK(updated->detail == "healthy 9.9.9 (was 0.1.0)");
        CHECK(test::wait_until([&] { return std::filesystem::exists(dir / "update" / "result.acked.json"); }, 5s));
        CHECK_FALSE(std::filesystem::exists(dir / "update" / "result.json"));

        // set_config refused: every error with its key path; the running config and its file stay.
        const auto config_file = dir / "site.json";
        const auto original = test::read_file(config_file);
        auto refused_config = site;
        refused_config["config_version"] = "t-bad";
        refused_config["poll"]["fast_s"] = 0;
        refused_config["inverters"][0]["unit"] = 300;
        send("s-bad", protocol::SetConfigCommand{refused_config.dump()});
        auto set = acks.wait_for("s-bad", 0, 20s);
        REQUIRE(set);
        CHECK(set->status == protocol::AckStatus::rejected);
        CHECK_MESSAGE(set->detail.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos,
                      set->detail);
        CHECK_MESSAGE(set->detail.find("inverters/0/unit") != std::string::npos, set->detail);
        auto other_site = site;
        other_site["site_id"] = "run-test-2";
        send("s-other", protocol::SetConfigCommand{other_site.dump()});
        set = acks.wait_for("s-other", 0, 20s);
        REQUIRE(set);
        CHECK(set->status == protocol::AckStatus::rejected);
        CHECK_MESSAGE(set->detail.find("site_id: 'run-test-2' is not this site") != std::string::npos,
                      set->detail);
        CHECK(test::read_file(config_file) == original);
        CHECK_FALSE(std::filesystem::exists(dir / "site.json.prev"));

        // set_config applied: the file is replaced (the old one kept as .prev), the agent restarts with it
        // and the status reports the new config_version.
        auto next = site;
        next["config_version"] = "t2";
        next["poll"]["fast_s"] = 2;
        const TimePoint issued = SystemClock{}.now();
        send("s-ok", protocol::SetConfigCommand{next.dump()}, {}, issued);
        set = acks.wait_for("s-ok", 0, 90s);
        REQUIRE_MESSAGE(set, agent_log());
        CHECK_MESSAGE(set->status == protocol::AckStatus::done, set->detail);
        CHECK(set->detail == "config t2 applied");
        auto on_disk = agent::load_site_config(config_file);
        REQUIRE(on_disk.ok());
        CHECK(on_disk->config_version == "t2");
        CHECK(on_disk->intervals.fast == 2s);
        CHECK(test::read_file(dir / "site.json.prev") == original);
        CHECK_FALSE(std::filesystem::exists(dir / "site.json.new"));
        const bool reported = sync::itest::wait_until(
            [&] {
                for (const auto& st : recorder.statuses()) {
                    if (st.config_version == "t2" && st.state == protocol::SiteState::online) return true;
                }
                return false;
            },
            30s);
        CHECK_MESSAGE(reported, agent_log());
        CHECK(agent_log().find("restarting with config t2") != std::string::npos);

        // The same command delivered again: not applied twice (the id is in the store the new agent opened).
        send("s-ok", protocol::SetConfigCommand{next.dump()}, {}, issued);
        set = acks.wait_for("s-ok", 1, 20s);
        REQUIRE(set);
        CHECK(set->status == protocol::AckStatus::duplicate);

        // A set_config issued before the applied one crossed it in flight: stale, the site is not rolled
        // back.
        auto older = site;
        older["config_version"] = "t0";
        send("s-old", protocol::SetConfigCommand{older.dump()}, {}, issued - 1h);
        set = acks.wait_for("s-old", 0, 20s);
        REQUIRE(set);
        CHECK_MESSAGE(set->status == protocol::AckStatus::stale, set->detail);
        CHECK(agent::load_site_config(config_file)->config_version == "t2");

        // A config that passes the parser but cannot start (no such register map): the agent goes back to the
        // previous file and config, and says why.
        const auto applied = test::read_file(config_file);
        auto broken = next;
        broken["config_version"] = "t3";
        broken["inverters"][1]["profile"] = "nosuch";
        send("s-broken", protocol::SetConfigCommand{broken.dump()});
        set = acks.wait_for("s-broken", 0, 90s);
        REQUIRE_MESSAGE(set, agent_log());
        CHECK(set->status == protocol::AckStatus::failed);
        CHECK_MESSAGE(set->detail.find("devices/inv2/profile: unknown 'nosuch'") != std::string::npos,
                      set->detail);
        CHECK_MESSAGE(set->detail.find("config t2 restored") != std::string::npos, set->detail);
        CHECK(test::read_file(config_file) == applied);
        // ...and runs: the restored agent answers a probe.
        send("p-5", protocol::ProbeCommand{"inv2"});
        probed = acks.wait_for("p-5", 0, 40s);
        REQUIRE_MESSAGE(probed, agent_log());
        CHECK_MESSAGE(probed->status == protocol::AckStatus::done, probed->detail);

        // A fleet patch that makes the config invalid: refused with the patched config's key paths, nothing
        // changes.
        send("s-patch-bad", protocol::SetConfigCommand{"", R"({"poll":{"fast_s":0}})", "t4"});
        set = acks.wait_for("s-patch-bad", 0, 20s);
        REQUIRE(set);
        CHECK(set->status == protocol::AckStatus::rejected);
        CHECK_MESSAGE(set->detail.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos,
                      set->detail);
        CHECK(test::read_file(config_file) == applied);

        // A fleet patch applied: merged into this gateway's own file (its devices stay), installed and
        // applied like a whole config.
        send("s-patch",
             protocol::SetConfigCommand{"", R"({"poll":{"slow_s":7},"sync":{"batch_interval_s":3}})", "t4"});
        set = acks.wait_for("s-patch", 0, 90s);
        REQUIRE_MESSAGE(set, agent_log());
        CHECK_MESSAGE(set->status == protocol::AckStatus::done, set->detail);
        CHECK(set->detail == "config t4 applied");
        on_disk = agent::load_site_config(config_file);
        REQUIRE(on_disk.ok());
        CHECK(on_disk->config_version == "t4");
        CHECK(on_disk->intervals.slow == 7s);
        CHECK(on_disk->intervals.fast == 2s);  // from t2, not named by the patch
        CHECK(on_disk->devices.size() == 3);
        CHECK(test::read_file(dir / "site.json.prev") == applied);
        CHECK(acks.undecodable() == 0);
    }

    const auto t0 = std::chrono::steady_clock::now();
    agent.signal(SIGTERM);
    auto status = agent.wait(5s);
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(status.has_value());
    CHECK(*status == 0);
    CHECK_MESSAGE(took < 2s, test::read_file(dir / "agent.log"));
    CHECK(test::read_file(dir / "agent.log").find("stopped:") != std::string::npos);
}
