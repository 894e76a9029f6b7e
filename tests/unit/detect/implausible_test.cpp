// Values the edge's plausibility layer refused (Sample::implausible) are data-quality evidence: a point refused
// persistently raises implausible_values naming the point and the value; one refusal does not.
#include <doctest/doctest.h>

#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/domain/points.hpp"
#include "support/fake_sun.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using domain::FaultKind;
using domain::TicketEventKind;

namespace {

using test::day_start;

struct Rig {
    test::FakeSun sun{std::vector<std::string>{"inv1"}};
    ManualClock clock;
    detect::DetectionPipeline pipeline{detect::DetectionConfig{}, sun, clock};
    std::vector<domain::TicketEvent> events;

    void feed(TimePoint t, std::map<std::string, double, std::less<>> implausible) {
        domain::Sample s;
        s.device_id = "inv1";
        s.t = t;
        s.values["ac_power_w"] = 2000 + static_cast<double>(to_epoch_ms(t) / 60000 % 97);  // never frozen
        s.values["energy_total_wh"] = 1e6 + static_cast<double>(to_epoch_ms(t) - to_epoch_ms(day_start(0))) / 1e3;
        s.implausible = std::move(implausible);
        clock.set(t);
        for (auto& e : pipeline.on_sample(s)) events.push_back(e);
    }
    std::vector<domain::TicketEvent> of(TicketEventKind k) const {
        std::vector<domain::TicketEvent> out;
        for (const auto& e : events) {
            if (e.ticket.kind == FaultKind::implausible_values && e.kind == k) out.push_back(e);
        }
        return out;
    }
};

}  // namespace

TEST_CASE("implausible values: a persistent refusal opens one ticket naming the point and value; quiet resolves") {
    Rig r;
    const TimePoint t0 = day_start(0) + 2h;  // at night too: bad words are not a matter of daylight
    r.feed(t0, {{"battery_power_w", -2147483648.0}});
    r.feed(t0 + 5min, {{"battery_power_w", -2147483648.0}});
    CHECK(r.of(TicketEventKind::opened).empty());  // 2 readings
    r.feed(t0 + 10min, {{"battery_power_w", -2147483648.0}, {"dc_current_a[1]", 6553.5}});
    auto opened = r.of(TicketEventKind::opened);
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].at == t0 + 10min);
    CHECK(opened[0].ticket.summary.find("battery_power_w -2147483648.0 W") != std::string::npos);
    REQUIRE(opened[0].ticket.evidence.size() == 1);
    CHECK(opened[0].ticket.evidence[0].name == "battery_power_w");
    CHECK(opened[0].ticket.evidence[0].observed == -2147483648.0);
    CHECK(opened[0].ticket.evidence[0].unit == "W");

    // The second point becomes persistent too: the same ticket, new evidence.
    r.feed(t0 + 15min, {{"battery_power_w", -2147483648.0}, {"dc_current_a[1]", 6553.5}});
    r.feed(t0 + 20min, {{"battery_power_w", -2147483648.0}, {"dc_current_a[1]", 6553.5}});
    CHECK(r.of(TicketEventKind::opened).size() == 1);
    auto updated = r.of(TicketEventKind::updated);
    REQUIRE(updated.size() == 1);
    CHECK(updated[0].ticket.evidence.back().name == "dc_current_a[1]");
    CHECK(updated[0].ticket.evidence.back().unit == "A");

    // Readings plausible again for the clear time (60 min): resolved.
    for (TimePoint t = t0 + 25min; t <= t0 + 90min; t += 5min) r.feed(t, {});
    CHECK(r.of(TicketEventKind::resolved).size() == 1);
}

TEST_CASE("implausible values: an occasional glitch is no ticket") {
    Rig r;
    const TimePoint t0 = day_start(0) + 10h;
    for (int i = 0; i < 10; ++i) {
        // one refusal every 2 hours: each streak has ended before the next
        r.feed(t0 + std::chrono::hours(2 * i), {{"ac_frequency_hz", 655.35}});
        r.feed(t0 + std::chrono::hours(2 * i) + 1h, {});
    }
    CHECK(r.events.empty());
}
