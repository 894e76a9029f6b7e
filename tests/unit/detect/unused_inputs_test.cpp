// Unused MPPT inputs and per-input string tickets, on a fake sun and a manual clock: inputs nothing is wired to
// never ticket (learned, or from the site's wiring), a string that produced and stops does, and each input has
// its own ticket.
#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/detect/site.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/util/time.hpp"
#include "support/fake_sun.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using domain::FaultKind;
using domain::TicketEventKind;
namespace points = domain::points;

namespace {

using test::day_start;

// An inverter with four MPPT inputs; `strings(t)` gives each input's share of a string's clear-sky current
// (1 = a healthy string, 0 = nothing).
struct FourInputs {
    test::FakeSun sun;
    ManualClock clock;
    detect::DetectionPipeline pipeline{{}, sun, clock};
    std::vector<domain::TicketEvent> events;

    void run(TimePoint from, TimePoint to, const std::function<std::vector<double>(TimePoint)>& strings) {
        for (TimePoint t = from; t < to; t += 15min) {
            const auto share = strings(t);
            const double expected = sun.at("inv1", t).expected_ac_w;
            domain::Sample s;
            s.device_id = "inv1";
            s.t = t;
            double total = 0;
            auto& dc = s.arrays[std::string(points::dc_current_a)];
            for (double f : share) {
                dc.emplace_back(expected > 0 ? f * expected / 400 : 0.0);
                total += f;
            }
            // AC: what the strings deliver, against a plant sized for two healthy strings.
            s.values[std::string(points::ac_power_w)] = expected > 0 ? 0.85 * expected * total / 2 : -3.0;
            clock.set(t);
            for (auto& e : pipeline.on_sample(s)) events.push_back(e);
        }
    }
    std::vector<domain::TicketEvent> strings(std::optional<TicketEventKind> ev = std::nullopt) const {
        std::vector<domain::TicketEvent> out;
        for (const auto& e : events) {
            if (e.ticket.kind == FaultKind::string_fault && (!ev || e.kind == *ev)) out.push_back(e);
        }
        return out;
    }
};

auto two_of_four = [](TimePoint) { return std::vector<double>{1, 1, 0, 0}; };

}  // namespace

TEST_CASE("unused inputs: two strings on a four-input inverter never ticket inputs 3 and 4, learned or wired") {
    FourInputs learned;
    learned.run(day_start(0), day_start(5), two_of_four);
    CHECK(learned.strings().empty());
    CHECK(learned.pipeline.input_status("inv1") ==
          std::vector<std::string>{"producing", "producing", "unused", "unused"});

    FourInputs wired;
    wired.pipeline.set_wiring({{"inv1", {1, 2}}});
    wired.run(day_start(0), day_start(5), two_of_four);
    CHECK(wired.strings().empty());
    CHECK(wired.pipeline.input_status("inv1") == std::vector<std::string>{"wired", "wired", "unwired", "unwired"});
}

TEST_CASE("unused inputs: learned only after a good-sun day, and kept across a restart") {
    FourInputs p;
    p.run(day_start(0), day_start(0) + 13h, two_of_four);  // the first day is not over: nothing learned yet
    CHECK(p.pipeline.input_status("inv1")[2] == "not seen producing yet");
    p.run(day_start(0) + 13h, day_start(1) + 1h, two_of_four);
    CHECK(p.pipeline.input_status("inv1")[2] == "unused");

    // A restart: the state comes back from the store's JSON.
    FourInputs q;
    REQUIRE(q.pipeline.load_state(nlohmann::json::parse(p.pipeline.save_state().dump())));
    CHECK(q.pipeline.input_status("inv1") == std::vector<std::string>{"producing", "producing", "unused", "unused"});

    // A dull day (the other inputs far below the clear-sky expectation) is no good-sun day: nothing is learned.
    FourInputs dull;
    dull.run(day_start(0), day_start(2), [](TimePoint) { return std::vector<double>{0.45, 0.45, 0, 0}; });
    CHECK(dull.pipeline.input_status("inv1")[2] == "not seen producing yet");
    CHECK(dull.strings().empty());
}

TEST_CASE("unused inputs: a string that produced and stops is a fault; a string connected later is judged") {
    FourInputs p;
    p.run(day_start(0), day_start(2), two_of_four);
    const TimePoint cut = day_start(2) + 10h;
    p.run(day_start(2), day_start(3), [&](TimePoint t) {
        return std::vector<double>{1, t >= cut && t < cut + 2h ? 0.0 : 1.0, 0, 0};
    });
    auto opened = p.strings(TicketEventKind::opened);
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].ticket.input == 2);
    CHECK(opened[0].ticket.summary == "MPPT 2 open (no input)");
    CHECK(opened[0].ticket.id == "inv1-string_fault-mppt2-20160703T103000Z");
    CHECK(opened[0].at == cut + 30min);
    REQUIRE(p.strings(TicketEventKind::resolved).size() == 1);

    // The installer wires a third string on day 3: input 3 produces, is judged from then on, and its loss opens.
    const TimePoint lost = day_start(5) + 11h;
    p.run(day_start(3), day_start(6), [&](TimePoint t) {
        return std::vector<double>{1, 1, t >= lost ? 0.0 : 1.0, 0};
    });
    auto third = p.strings(TicketEventKind::opened);
    REQUIRE(third.size() == 2);
    CHECK(third[1].ticket.input == 3);
    CHECK(third[1].at == lost + 30min);
}

TEST_CASE("wired inputs: a wired input that never produces is a fault from day one") {
    FourInputs p;
    p.pipeline.set_wiring({{"inv1", {1, 2, 3}}});
    p.run(day_start(0), day_start(1), [](TimePoint) { return std::vector<double>{1, 1, 0, 0}; });
    auto opened = p.strings(TicketEventKind::opened);
    REQUIRE(opened.size() == 1);
    CHECK(opened[0].ticket.input == 3);
    CHECK(opened[0].ticket.severity == domain::Severity::major);
}

TEST_CASE("per-input tickets: a live ticket on one input does not hide a new fault on another") {
    FourInputs p;
    p.run(day_start(0), day_start(1), [](TimePoint) { return std::vector<double>{1, 1, 1, 0}; });
    const TimePoint first = day_start(1) + 9h;
    const TimePoint second = day_start(1) + 11h;
    p.run(day_start(1), day_start(1) + 14h, [&](TimePoint t) {
        return std::vector<double>{t >= second ? 0.0 : 1.0, t >= first ? 0.0 : 1.0, 1, 0};
    });
    auto opened = p.strings(TicketEventKind::opened);
    REQUIRE(opened.size() == 2);
    CHECK(opened[0].ticket.input == 2);
    CHECK(opened[0].at == first + 30min);
    CHECK(opened[1].ticket.input == 1);
    CHECK(opened[1].at == second + 30min);
    CHECK(opened[0].ticket.id != opened[1].ticket.id);
    CHECK(p.pipeline.book().is_live("inv1", FaultKind::string_fault, 1));
    CHECK(p.pipeline.book().is_live("inv1", FaultKind::string_fault, 2));
    CHECK_FALSE(p.pipeline.book().is_live("inv1", FaultKind::string_fault, 3));
}

// ---- the scenario on real data: SERF West's two DC inputs on a four-input inverter ----

namespace {

struct WestRow {
    TimePoint t;
    double ac_w, pos_a, neg_a;
};

// SERF West, 15-minute data: AC power and the DC current of the positive and the negative half of the array.
// Timestamps are local standard time (-07:00) without an offset in the file.
std::vector<WestRow> load_serf_west() {
    const auto path = test::reference_dir() / "data/pv/serf_west_15min.csv";
    std::istringstream in(test::read_file(path));
    std::string line;
    std::getline(in, line);  // header: ,ac_current__779,ac_power__773,...,dc_neg_current__777,..,dc_pos_current__775
    std::vector<WestRow> rows;
    while (std::getline(in, line)) {
        std::vector<std::string> cells;
        std::stringstream cs(line);
        for (std::string c; std::getline(cs, c, ',');) cells.push_back(c);
        REQUIRE(cells.size() >= 9);
        auto t = parse_iso8601(cells[0] + "-07:00");
        REQUIRE(t.ok());
        rows.push_back({*t, std::stod(cells[2]), std::stod(cells[8]), std::stod(cells[6])});
    }
    REQUIRE(rows.size() > 400);
    return rows;
}

// The evaluation's plausible SERF West parameters (the data set does not publish them); with `wired`, two arrays
// (the array's halves) on MPPT 1 and 2 of four.
nlohmann::json west_site(bool wired) {
    nlohmann::json site{{"latitude", 39.742}, {"longitude", -105.1727}, {"elevation_m", 1800},
                        {"inverters", {{{"id", "inv1"}, {"ac_kw", 5.5}, {"mppt_inputs", 4}}}}};
    if (wired) {
        site["arrays"] = {{{"inverter", "inv1"}, {"mppt", 1}, {"dc_kw", 2.9}, {"tilt", 40}, {"azimuth", 180}},
                          {{"inverter", "inv1"}, {"mppt", 2}, {"dc_kw", 2.9}, {"tilt", 40}, {"azimuth", 180}}};
    } else {
        site["arrays"] = {{{"inverter", "inv1"}, {"dc_kw", 5.8}, {"tilt", 40}, {"azimuth", 180}}};
    }
    return site;
}

// Replays the rows through the pipeline; `inputs(row)` gives the four inputs' DC currents and the AC power.
struct WestReplay {
    std::unique_ptr<detect::SolarSunModel> sun;
    ManualClock clock;
    std::unique_ptr<detect::DetectionPipeline> pipeline;
    std::vector<domain::TicketEvent> events;

    explicit WestReplay(bool wired) {
        auto site = detect::parse_site_detection(west_site(wired));
        REQUIRE_MESSAGE(site.ok(), (site.ok() ? "" : site.error().message));
        auto created = detect::SolarSunModel::create(site->model);
        REQUIRE(created.ok());
        sun = std::move(*created);
        pipeline = std::make_unique<detect::DetectionPipeline>(site->config, *sun, clock);
        pipeline->set_wiring(site->wiring);
    }
    void run(const std::vector<WestRow>& rows,
             const std::function<std::pair<double, std::vector<double>>(const WestRow&)>& inputs) {
        for (const auto& r : rows) {
            const auto [ac, dc] = inputs(r);
            domain::Sample s;
            s.device_id = "inv1";
            s.t = r.t;
            s.values[std::string(points::ac_power_w)] = ac;
            auto& a = s.arrays[std::string(points::dc_current_a)];
            for (double v : dc) a.emplace_back(v);
            clock.set(r.t);
            for (auto& e : pipeline->on_sample(s)) events.push_back(e);
        }
    }
    std::vector<domain::TicketEvent> opened_strings() const {
        std::vector<domain::TicketEvent> out;
        for (const auto& e : events) {
            if (e.ticket.kind == FaultKind::string_fault && e.kind == TicketEventKind::opened) out.push_back(e);
        }
        return out;
    }
};

// Full loss of one half from `from` on: its current goes to 0 and the AC power loses its share.
std::pair<double, double> lose(const WestRow& r, double keep_a, double lost_a) {
    const double total = r.pos_a + r.neg_a;
    const double ac = total > 0 ? r.ac_w * keep_a / total : r.ac_w;
    return {ac, lost_a};
}

}  // namespace

TEST_CASE("SERF West on inputs 1 and 2 of 4, inputs 3 and 4 at 0: no string ticket; a later loss of string 2 is "
          "ticketed on input 2") {
    const auto rows = load_serf_west();
    for (const bool wired : {false, true}) {
        CAPTURE(wired);
        WestReplay clean(wired);
        clean.run(rows, [](const WestRow& r) {
            return std::pair{r.ac_w, std::vector<double>{r.pos_a, r.neg_a, 0.0, 0.0}};
        });
        CHECK(clean.opened_strings().empty());
        CHECK(clean.pipeline->input_status("inv1") ==
              (wired ? std::vector<std::string>{"wired", "wired", "unwired", "unwired"}
                     : std::vector<std::string>{"producing", "producing", "unused", "unused"}));

        const TimePoint cut = *parse_iso8601("2022-01-04T10:01:00-07:00");
        WestReplay lost(wired);
        lost.run(rows, [&](const WestRow& r) {
            if (r.t < cut) return std::pair{r.ac_w, std::vector<double>{r.pos_a, r.neg_a, 0.0, 0.0}};
            const auto [ac, gone] = lose(r, r.pos_a, 0.0);
            return std::pair{ac, std::vector<double>{r.pos_a, gone, 0.0, 0.0}};
        });
        const auto opened = lost.opened_strings();
        REQUIRE(opened.size() == 1);
        CHECK(opened[0].ticket.input == 2);
        CHECK(opened[0].at >= cut);
        CHECK(opened[0].at <= cut + 60min);
        MESSAGE("wired " << wired << ": string 2 lost, ticket after "
                         << std::chrono::duration_cast<std::chrono::minutes>(opened[0].at - cut).count() << " min");
    }
}

TEST_CASE("SERF West on inputs 1-3 of 4: string 2 lost, then string 1 while 2's ticket is live: two tickets") {
    const auto rows = load_serf_west();
    // A third string like the other two (their mean) on input 3; input 4 unused.
    const TimePoint second_lost = *parse_iso8601("2022-01-04T10:01:00-07:00");
    const TimePoint first_lost = second_lost + 1h;
    WestReplay p(false);
    p.run(rows, [&](const WestRow& r) {
        const double third = (r.pos_a + r.neg_a) / 2;
        const double one = r.t >= first_lost ? 0.0 : r.pos_a;
        const double two = r.t >= second_lost ? 0.0 : r.neg_a;
        const double total = r.pos_a + r.neg_a + third;
        const double ac = total > 0 ? r.ac_w * (one + two + third) / total : r.ac_w;
        return std::pair{ac, std::vector<double>{one, two, third, 0.0}};
    });
    const auto opened = p.opened_strings();
    REQUIRE(opened.size() == 2);
    CHECK(opened[0].ticket.input == 2);
    CHECK(opened[0].at <= second_lost + 60min);
    CHECK(opened[1].ticket.input == 1);
    CHECK(opened[1].at >= first_lost);
    CHECK(opened[1].at <= first_lost + 60min);
    CHECK(opened[0].ticket.id != opened[1].ticket.id);
    MESSAGE("string 2: ticket after "
            << std::chrono::duration_cast<std::chrono::minutes>(opened[0].at - second_lost).count()
            << " min; string 1: after "
            << std::chrono::duration_cast<std::chrono::minutes>(opened[1].at - first_lost).count() << " min");
}
