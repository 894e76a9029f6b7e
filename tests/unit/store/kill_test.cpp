// Kill at a random point: a child feeds a faulty week through PersistentDetection and is SIGKILLed at random
// moments, then restarted from what the store holds, until it finishes. Its tickets and events must equal an
// uninterrupted run exactly: nothing lost, nothing duplicated.
#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <random>
#include <thread>

#include "support/fake_sun.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kBatch = 4;

// A week of 15-min data with outages, a comm gap, fault events and a counter reset.
std::vector<store::DetectionInput> faulty_week(const test::FakeSun& sun) {
    std::vector<store::DetectionInput> out;
    const TimePoint start = from_epoch_ms(1'467'331'200'000LL);
    double energy = 1e6;
    for (TimePoint t = start; t < start + 24h * 7; t += 15min) {
        const double h = test::FakeSun::hour_of_day(t);
        const long long day = (t - start) / 24h;
        bool down = (day == 1 && h >= 9 && h < 12) || (day == 3 && h >= 13 && h < 17) || (day == 5 && h >= 8 && h < 9.5);
        if (day == 4 && h >= 10 && h < 12) {
            out.emplace_back(store::NoAnswer{"inv1", t});
            energy += sun.at("inv1", t).expected_ac_w * 0.8 * 0.25;
            continue;
        }
        const double w = down ? -3.0 : sun.at("inv1", t).expected_ac_w * 0.8;
        energy += std::max(0.0, w) * 0.25;
        if (day == 6 && h >= 12) energy = std::min(energy, 500.0 + (h - 12) * 1000);  // counter reset at noon
        domain::Sample s;
        s.device_id = "inv1";
        s.t = t;
        s.values[std::string(domain::points::ac_power_w)] = w;
        s.values[std::string(domain::points::energy_total_wh)] = energy;
        if (day == 2 && (h == 11 || h == 11.25 || h == 11.5)) s.events = {"grid_undervoltage"};
        if (day == 2 && h == 14) s.events = {"arc_fault"};
        out.push_back(std::move(s));
    }
    return out;
}

// Feeds from the stored cursor to the end, batch by batch. Returns 0 when done.
int feed(const std::string& path, const std::vector<store::DetectionInput>& inputs, const test::FakeSun& sun) {
    auto db = store::GatewayStore::open(path);
    if (!db) return 2;
    ManualClock clock;
    detect::DetectionPipeline pipeline({}, sun, clock);
    store::PersistentDetection pd(**db, pipeline);
    if (!pd.resume()) return 3;
    auto cursor = (*db)->cursor("kill");
    if (!cursor) return 4;
    std::size_t next = *cursor ? std::stoul(**cursor) : 0;
    while (next < inputs.size()) {
        const std::size_t end = std::min(inputs.size(), next + kBatch);
        std::vector<store::DetectionInput> batch(inputs.begin() + static_cast<std::ptrdiff_t>(next),
                                                 inputs.begin() + static_cast<std::ptrdiff_t>(end));
        const auto& last = batch.back();
        clock.set(std::holds_alternative<domain::Sample>(last) ? std::get<domain::Sample>(last).t
                                                               : std::get<store::NoAnswer>(last).t);
        if (!pd.process(batch, true, std::make_pair(std::string("kill"), std::to_string(end)))) return 5;
        next = end;
    }
    return 0;
}

struct Outcome {
    std::vector<domain::TicketEvent> events;
    std::vector<domain::Ticket> tickets;
};

Outcome read_outcome(const std::string& path) {
    auto db = store::GatewayStore::open(path);
    REQUIRE(db.ok());
    Outcome o;
    auto events = (*db)->events_after(0, 100000);
    REQUIRE(events.ok());
    long long prev = 0;
    for (const auto& e : *events) {
        CHECK(e.event_id > prev);
        prev = e.event_id;
        o.events.push_back(e.event);
    }
    auto tickets = (*db)->tickets(true);
    REQUIRE(tickets.ok());
    o.tickets = *tickets;
    return o;
}

}  // namespace

TEST_CASE("ticket store: SIGKILL at random points neither loses nor duplicates a ticket or an event") {
    test::TempDir dir;
    const test::FakeSun sun;
    const auto inputs = faulty_week(sun);

    const auto reference_path = (dir / "reference.db").string();
    REQUIRE(feed(reference_path, inputs, sun) == 0);
    const Outcome reference = read_outcome(reference_path);
    REQUIRE(reference.events.size() >= 10);  // the week really raises tickets

    const unsigned seed = std::random_device{}();
    MESSAGE("kill schedule seed " << seed);
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> delay_us(0, 40000);
    const auto path = (dir / "killed.db").string();
    int kills = 0;
    for (int attempt = 0; attempt < 500; ++attempt) {
        const pid_t pid = fork();
        REQUIRE(pid >= 0);
        if (pid == 0) _exit(feed(path, inputs, sun));
        // The random moment of the kill is what is under test (a power cut at any point of a write), so a
        // sleep of random length is the point here, not a wait for something.
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        const bool killed = kill(pid, SIGKILL) == 0;
        int status = 0;
        REQUIRE(waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status)) {
            REQUIRE(WEXITSTATUS(status) == 0);
            break;
        }
        REQUIRE(WIFSIGNALED(status));
        kills += killed ? 1 : 0;
    }
    MESSAGE("killed " << kills << " times");
    CHECK(kills >= 3);
    REQUIRE(feed(path, inputs, sun) == 0);  // finishes if the last child did not

    const Outcome killed = read_outcome(path);
    REQUIRE(killed.events.size() == reference.events.size());
    for (std::size_t i = 0; i < killed.events.size(); ++i) {
        CAPTURE(i);
        CHECK(killed.events[i] == reference.events[i]);
    }
    CHECK(killed.tickets == reference.tickets);
}
