// The gateway on a filesystem that fills up: pvfleet-edge run keeps its SQLite file on a small tmpfs mounted by
// the test (size-limited, so it really runs full), reads two inverters from pvfleet-sim over Modbus TCP and
// syncs to a real mosquitto. Once telemetry flows, a filler file takes every free byte. The agent must keep
// polling, detecting (a ground fault injected on the simulator's control port becomes a ticket, stored and
// published) and syncing (every seq arrives, none missing), and what it stored is never lost or corrupted:
// integrity_check is ok and the ticket is in the file. Needs the right to mount (root); skipped otherwise.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/mqtt_broker.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using sync::itest::Mosquitto;

namespace {

// A size-limited tmpfs at `where`, unmounted when this goes out of scope.
class SmallFilesystem {
public:
    SmallFilesystem(std::filesystem::path where, std::uint64_t bytes) : where_(std::move(where)) {
        std::filesystem::create_directories(where_);
        const std::string opts = "size=" + std::to_string(bytes) + ",mode=0755";
        mounted_ = ::mount("tmpfs", where_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
        if (!mounted_) error_ = std::strerror(errno);
    }
    ~SmallFilesystem() {
        if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
    }
    SmallFilesystem(const SmallFilesystem&) = delete;
    SmallFilesystem& operator=(const SmallFilesystem&) = delete;
    [[nodiscard]] bool mounted() const { return mounted_; }
    [[nodiscard]] const std::string& error() const { return error_; }

private:
    std::filesystem::path where_;
    bool mounted_ = false;
    std::string error_;
};

// Writes `path` until the filesystem refuses (ENOSPC); returns the bytes written.
std::uint64_t fill(const std::filesystem::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    std::setvbuf(f, nullptr, _IONBF, 0);
    const std::string chunk(4096, 'x');
    std::uint64_t written = 0;
    while (std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) written += chunk.size();
    std::fclose(f);
    return written;
}

// One line to the simulator's control port, its reply line.
std::string control(int port, const std::string& line) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return "connect failed";
    }
    const std::string out = line + "\n";
    (void)!::write(fd, out.data(), out.size());
    std::string reply;
    char c = 0;
    while (::read(fd, &c, 1) == 1 && c != '\n') reply += c;
    ::close(fd);
    return reply;
}

std::size_t arrivals_on(const sync::itest::Recorder& r, const std::string& site, const std::string& topic_end) {
    std::size_t n = 0;
    for (const auto& [key, arrivals] : r.seqs()) {
        if (key.first == site && arrivals.front().topic.ends_with(topic_end)) ++n;
    }
    return n;
}

// The first column of every row a statement returns.
std::vector<std::string> query(const std::filesystem::path& db_path, const std::string& sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    std::vector<std::string> rows;
    char* err = nullptr;
    const int rc = sqlite3_exec(
        db, sql.c_str(),
        [](void* out, int, char** values, char**) {
            static_cast<std::vector<std::string>*>(out)->push_back(values[0] ? values[0] : "");
            return 0;
        },
        &rows, &err);
    const std::string message = err ? err : "";
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE_MESSAGE(rc == SQLITE_OK, message);
    return rows;
}

}  // namespace

TEST_CASE("pvfleet-edge run: on a filesystem that fills up it keeps polling, detecting and syncing") {
    if (test::find_program("mosquitto").empty()) {
        MESSAGE("mosquitto not installed: skipped");
        return;
    }
    test::TempDir dir;
    SmallFilesystem fs(dir / "fs", 24ull << 20);
    if (!fs.mounted()) {
        MESSAGE("cannot mount a tmpfs here (" << fs.error() << "; needs root or CAP_SYS_ADMIN): skipped");
        return;
    }
    const int port = test::free_tcp_port();
    Mosquitto broker(dir / "broker", port, {"listener " + std::to_string(port) + " 127.0.0.1", "allow_anonymous true"});
    REQUIRE(broker.start());
    sync::itest::Recorder recorder;
    mqtt::ClientOptions sub;
    sub.server_uri = "tcp://127.0.0.1:" + std::to_string(port);
    sub.client_id = "test-server";
    sub.subscriptions = sync::itest::all_uplink_subscriptions();
    sync::itest::Subscriber subscriber(sub, recorder);
    REQUIRE(sync::itest::wait_until([&] { return subscriber.connected(); }, 10s));

    std::ofstream(dir / "sim.json") << R"({
      "name": "full-disk", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
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
    test::ChildProcess sim({PVFLEET_SIM_EXE, "--site", (dir / "sim.json").string(), "--listen", "127.0.0.1:0",
                            "--control", "0", "--start", "2026-06-21T10:00:00Z"},
                           dir / "sim.log");
    const auto tcp = test::wait_for_log_line(dir / "sim.log", "listening tcp ");
    REQUIRE_MESSAGE(!tcp.empty(), test::read_file(dir / "sim.log"));
    const auto ctl = test::wait_for_log_line(dir / "sim.log", "control tcp ");
    REQUIRE(!ctl.empty());
    const int control_port = std::stoi(ctl.substr(ctl.rfind(':') + 1));

    const auto db_path = dir / "fs" / "edge.db";
    auto site = nlohmann::json::parse(R"({
      "format": 1, "site_id": "full-disk-1", "config_version": "t1", "latitude": 47.99, "longitude": 7.85,
      "time_zone": "Europe/Berlin",
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "sunspec", "ac_kw": 8},
                    {"id": "inv2", "endpoint": "lan", "unit": 247, "profile": "goodwe-et", "ac_kw": 10}],
      "arrays": [{"inverter": "inv1", "dc_kw": 8.5, "tilt": 35, "azimuth": 180},
                 {"inverter": "inv2", "dc_kw": 11, "tilt": 30, "azimuth": 180}],
      "poll": {"fast_s": 1, "slow_s": 5}, "sync": {"batch_interval_s": 2},
      "store": {"quota_mb": 4, "budget_mb": 16, "min_free_mb": 4}})");
    site["endpoints"][0]["tcp"] = tcp.substr(0, tcp.find(' '));
    site["store"]["path"] = db_path.string();
    site["mqtt"] = {{"uri", "tcp://127.0.0.1:" + std::to_string(port)}};
    std::ofstream(dir / "site.json") << site.dump(2);
    test::ChildProcess agent({PVFLEET_EDGE_EXE, "run", "--config", (dir / "site.json").string()}, dir / "agent.log");
    auto agent_log = [&] { return test::read_file(dir / "agent.log"); };

    // Telemetry flows; then the filesystem fills up.
    REQUIRE_MESSAGE(sync::itest::wait_until([&] { return arrivals_on(recorder, "full-disk-1", "/telemetry") >= 3; }, 60s),
                    agent_log());
    const auto filler_bytes = fill(dir / "fs" / "filler");
    MESSAGE("filler took " << filler_bytes << " B");
    CHECK(std::filesystem::space(dir / "fs").available < (1u << 20));
    const std::size_t telemetry_at_fill = arrivals_on(recorder, "full-disk-1", "/telemetry");

    // Syncing and polling go on: more telemetry batches (of new samples) arrive.
    CHECK_MESSAGE(sync::itest::wait_until(
                      [&] { return arrivals_on(recorder, "full-disk-1", "/telemetry") >= telemetry_at_fill + 8; }, 90s),
                  agent_log());
    // Detection goes on: a ground fault becomes a ticket, published.
    REQUIRE(control(control_port, "fault inv2 event ground_fault") == "ok fault inv2 event");
    CHECK_MESSAGE(sync::itest::wait_until([&] { return arrivals_on(recorder, "full-disk-1", "/tickets") >= 1; }, 60s),
                  agent_log());
    const std::size_t telemetry_later = arrivals_on(recorder, "full-disk-1", "/telemetry");
    CHECK(sync::itest::wait_until(
        [&] { return arrivals_on(recorder, "full-disk-1", "/telemetry") >= telemetry_later + 3; }, 30s));
    CHECK(agent.running());

    // Every seq from 1 to the newest arrived: nothing the outbox held was lost.
    const auto seqs = recorder.seqs_of("full-disk-1");
    REQUIRE_FALSE(seqs.empty());
    CHECK(*seqs.begin() == 1);
    CHECK(seqs.size() == *seqs.rbegin());
    CHECK(recorder.undecodable() == 0);

    CHECK(agent.stop(5000ms) == 0);

    // The file is sound, and the ticket is in it.
    CHECK(query(db_path, "PRAGMA integrity_check") == std::vector<std::string>{"ok"});
    const auto tickets = query(db_path, "SELECT kind FROM tickets WHERE device_id = 'inv2'");
    CHECK(std::find(tickets.begin(), tickets.end(), "inverter_fault") != tickets.end());
    std::filesystem::remove(dir / "fs" / "filler");
}
