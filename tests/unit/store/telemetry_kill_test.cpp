// A process that polls two inverters and commits each poll cycle through TelemetryWriter, as the agent does, is
// killed with SIGKILL at random moments — most of them right after it reported a cycle committed — and started
// again. Every reported cycle must be in the database afterwards, sample for sample, and the file must pass
// integrity_check: a killed agent loses nothing it polled.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include <cmath>
#include <random>
#include <thread>

#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/telemetry_writer.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

const TimePoint kPollT0 = from_epoch_ms(1'717'200'000'000LL);  // 2024-06-01 00:00 UTC

// The sample of a device in poll cycle `cycle` (10 s apart): register-scaled and computed values alike.
domain::Sample polled(const std::string& id, long long cycle) {
    domain::Sample s;
    s.device_id = id;
    s.t = kPollT0 + Millis{cycle * 10'000};
    const double p = std::round(4000 * std::fabs(std::sin(static_cast<double>(cycle) / 300.0)));
    s.values["ac_power_w"] = p;
    s.values["energy_total_wh"] = 1.2e7 + static_cast<double>(cycle) * 11;
    s.values["ac_frequency_hz"] = static_cast<double>(4990 + cycle % 20) * 0.01;
    s.values["temperature_c"] = 25 + p / 300;
    s.arrays["dc_voltage_v"] = {static_cast<double>(4100 + cycle % 50) * 0.1, std::nullopt};
    s.arrays["dc_current_a"] = {p / 2 / 410.2, p / 2 / 398.7};
    s.state = p > 0 ? domain::InverterState::producing : domain::InverterState::sleeping;
    if (cycle % 97 == 0) s.events = {"grid_undervoltage"};
    return s;
}

// The child: cycles from `first` on, each committed and then reported on `fd` (8 bytes: the cycle number).
[[noreturn]] void poll_forever(const std::string& path, long long first, int fd) {
    auto db = store::GatewayStore::open(path);
    if (!db) _exit(2);
    store::TelemetryWriter writer(**db, {});
    for (long long c = first;; ++c) {
        writer.add(polled("inv1", c));
        writer.add(polled("inv2", c));
        if (!writer.flush(kPollT0 + Millis{c * 10'000})) _exit(3);
        if (::write(fd, &c, sizeof c) != static_cast<ssize_t>(sizeof c)) _exit(4);
    }
}

}  // namespace

TEST_CASE("telemetry: SIGKILL right after a poll cycle's commit loses none of its samples") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    const unsigned seed = std::random_device{}();
    MESSAGE("kill schedule seed " << seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> cycles(1, 60);
    std::uniform_int_distribution<int> extra_us(0, 3000);
    long long first = 0;
    for (int round = 0; round < 25; ++round) {
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            poll_forever(path, first, fds[1]);
        }
        ::close(fds[1]);
        // Wait for n reported cycles, then kill: at once (right after a commit) on even rounds, after a random
        // moment more (anywhere in the next cycles) on odd ones.
        const int n = cycles(rng);
        long long reported = -1;
        for (int i = 0; i < n; ++i) REQUIRE(::read(fds[0], &reported, sizeof reported) == static_cast<ssize_t>(sizeof reported));
        if (round % 2 == 1) std::this_thread::sleep_for(std::chrono::microseconds(extra_us(rng)));
        REQUIRE(::kill(pid, SIGKILL) == 0);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        ::close(fds[0]);
        CHECK(WIFSIGNALED(status));

        // Every reported cycle of this round is there, equal to what was polled.
        auto db = store::GatewayStore::open(path);
        REQUIRE(db);
        for (const std::string id : {"inv1", "inv2"}) {
            auto rows = (**db).samples(id, kPollT0 + Millis{first * 10'000}, kPollT0 + Millis{(reported + 1) * 10'000});
            REQUIRE(rows);
            REQUIRE(static_cast<long long>(rows->size()) == reported - first + 1);
            for (long long c = first; c <= reported; ++c) {
                CAPTURE(c);
                CHECK((*rows)[static_cast<std::size_t>(c - first)] == polled(id, c));
            }
        }
        first = reported + 1000;  // the next round starts after whatever this one committed past its report
    }
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* q = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &q, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(q) == SQLITE_ROW);
    CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(q, 0))) == "ok");
    sqlite3_finalize(q);
    sqlite3_close(db);
}
