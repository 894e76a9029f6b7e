#include <doctest/doctest.h>
#include <sqlite3.h>

#include "support/fake_sun.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using domain::FaultKind;
using domain::TicketEventKind;

namespace {
const TimePoint t0 = from_epoch_ms(1'467'370'800'000LL);  // 2016-07-01 11:00 UTC

domain::Sample sample(TimePoint t, double w) {
    domain::Sample s;
    s.device_id = "inv1";
    s.t = t;
    s.values[std::string(domain::points::ac_power_w)] = w;
    return s;
}
}  // namespace

TEST_CASE("store: tickets and their events, one live ticket per (device, kind)") {
    test::TempDir dir;
    auto db = store::GatewayStore::open((dir / "edge.db").string());
    REQUIRE(db.ok());
    detect::TicketBook book;
    auto opened = book.raise("inv1", FaultKind::not_producing, domain::Severity::minor, "down",
                             {{"ac_power_w", -3, 4000.0, "W", t0}}, t0);
    REQUIRE((*db)->record(*opened).ok());
    auto ack = book.acknowledge(opened->ticket.id, "ana", "coming", t0 + 1h);
    REQUIRE((*db)->record(*ack).ok());

    auto tickets = (*db)->tickets(false);
    REQUIRE(tickets.ok());
    REQUIRE(tickets->size() == 1);
    CHECK(tickets->front() == ack->ticket);
    auto events = (*db)->events_after(0);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 2);
    CHECK(events->at(0).event == *opened);
    CHECK(events->at(1).event == *ack);
    CHECK(events->at(1).event_id > events->at(0).event_id);
    CHECK((*db)->events_after(events->at(0).event_id)->size() == 1);

    // A second live ticket for the same (device, kind) under another id is refused by the schema.
    domain::TicketEvent dup = *opened;
    dup.ticket.id = "other";
    auto refused = (*db)->record(dup);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::conflict);

    auto missing = (*db)->ticket("nope");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
}

TEST_CASE("store: detector state, cursor and telemetry round trip; reopening keeps everything") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    {
        auto db = store::GatewayStore::open(path);
        REQUIRE(db.ok());
        CHECK_FALSE((*db)->detector_state()->has_value());
        REQUIRE((*db)->save_detector_state(nlohmann::json{{"version", 1}, {"x", 2}}).ok());
        REQUIRE((*db)->save_cursor("replay:inv1", "2016-07-01T11:00:00.000Z").ok());
        auto s = sample(t0, 1234.5);
        s.arrays["dc_current_a"] = {1.0, std::nullopt};
        s.state = domain::InverterState::producing;
        s.events = {"grid_overvoltage"};
        REQUIRE((*db)->insert_sample(s).ok());
    }
    auto db = store::GatewayStore::open(path);
    REQUIRE(db.ok());
    CHECK((**(*db)->detector_state())["x"] == 2);
    CHECK(**(*db)->cursor("replay:inv1") == "2016-07-01T11:00:00.000Z");
    auto samples = (*db)->samples("inv1", t0, t0 + 1min);
    REQUIRE(samples.ok());
    REQUIRE(samples->size() == 1);
    CHECK(samples->front().values.at("ac_power_w") == 1234.5);
    CHECK(samples->front().arrays.at("dc_current_a")[1] == std::nullopt);
    CHECK(samples->front().state == domain::InverterState::producing);
    CHECK(samples->front().events == std::vector<std::string>{"grid_overvoltage"});
}

TEST_CASE("persistent detection: a technician's ack from another connection is seen by the agent") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto agent_db = store::GatewayStore::open(path);
    auto cli_db = store::GatewayStore::open(path);
    REQUIRE(agent_db.ok());
    REQUIRE(cli_db.ok());
    test::FakeSun sun;
    ManualClock clock;
    detect::DetectionPipeline pipeline({}, sun, clock);
    store::PersistentDetection agent(**agent_db, pipeline);
    REQUIRE(agent.resume().ok());

    const TimePoint day = from_epoch_ms(1'467'331'200'000LL);
    std::vector<store::DetectionInput> batch;
    for (TimePoint t = day; t < day + 24h; t += 15min) batch.emplace_back(sample(t, sun.at("inv1", t).expected_ac_w * 0.8));
    REQUIRE(agent.process(batch).ok());
    batch.clear();
    for (TimePoint t = day + 24h; t < day + 24h + 11h; t += 15min) {
        batch.emplace_back(sample(t, t < day + 34h ? sun.at("inv1", t).expected_ac_w * 0.8 : -3.0));
    }
    auto events = agent.process(batch);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    const auto id = events->front().event.ticket.id;

    auto ack = store::PersistentDetection::acknowledge(**cli_db, id, "ana", "on my way", day + 35h);
    REQUIRE(ack.ok());
    CHECK(ack->ticket.state == domain::TicketState::acknowledged);
    CHECK(store::PersistentDetection::acknowledge(**cli_db, id, "bob", "", day + 35h).error().kind ==
          ErrorKind::conflict);

    // The agent's next batch keeps the acknowledgement and resolves the ticket when production returns.
    batch.clear();
    for (TimePoint t = day + 35h; t < day + 36h; t += 15min) batch.emplace_back(sample(t, 3000));
    auto later = agent.process(batch);
    REQUIRE(later.ok());
    REQUIRE(later->size() == 1);
    CHECK(later->front().event.kind == TicketEventKind::resolved);
    CHECK(later->front().event.ticket.acknowledged_by == "ana");
    auto all = (*cli_db)->events_of(id);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 3);
    CHECK(all->at(1).event.kind == TicketEventKind::acknowledged);
    // The agent read its tickets back because another writer had recorded an event; it says so, and the events
    // it returns carry their store ids.
    CHECK(agent.others_recorded());
    CHECK(events->front().event_id == all->at(0).event_id);
    CHECK(later->front().event_id == all->at(2).event_id);
    batch.clear();
    batch.emplace_back(sample(day + 36h, 3000));
    REQUIRE(agent.process(batch).ok());
    CHECK_FALSE(agent.others_recorded());  // only its own events since: nothing read back
}

TEST_CASE("persistent detection: technician actions on the agent's own book, recorded with their event ids") {
    test::TempDir dir;
    auto db = store::GatewayStore::open((dir / "edge.db").string());
    REQUIRE(db.ok());
    test::FakeSun sun;
    ManualClock clock;
    detect::DetectionPipeline pipeline({}, sun, clock);
    store::PersistentDetection agent(**db, pipeline);
    REQUIRE(agent.resume().ok());
    const TimePoint day = from_epoch_ms(1'467'331'200'000LL);
    std::vector<store::DetectionInput> batch;
    for (TimePoint t = day; t < day + 24h; t += 15min) batch.emplace_back(sample(t, sun.at("inv1", t).expected_ac_w * 0.8));
    REQUIRE(agent.process(batch).ok());
    batch.clear();
    for (TimePoint t = day + 24h; t < day + 35h; t += 15min)
        batch.emplace_back(sample(t, t < day + 34h ? sun.at("inv1", t).expected_ac_w * 0.8 : -3.0));
    auto opened = agent.process(batch);
    REQUIRE(opened.ok());
    REQUIRE(opened->size() == 1);
    const auto id = opened->front().event.ticket.id;

    auto ack = agent.acknowledge_ticket(id, "ana", "on my way", day + 35h);
    REQUIRE(ack.ok());
    CHECK(ack->event_id == opened->front().event_id + 1);
    CHECK(ack->event.ticket.state == domain::TicketState::acknowledged);
    CHECK_FALSE(agent.others_recorded());
    CHECK(agent.acknowledge_ticket(id, "bob", "", day + 35h).error().kind == ErrorKind::conflict);
    CHECK(agent.acknowledge_ticket("nope", "bob", "", day + 35h).error().kind == ErrorKind::not_found);
    CHECK(pipeline.book().find_id(id)->acknowledged_by == "ana");  // its own book, not read back
    auto stored = (*db)->ticket(id);
    REQUIRE(stored.ok());
    CHECK((*stored)->acknowledged_by == "ana");
}

TEST_CASE("store: per-input tickets; a database of schema 1 migrates and keeps its tickets and events") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    {
        // A store written by the previous version: schema 1, one live ticket per (device, kind), a live
        // string_fault ticket that names its input only in the summary, and a closed one.
        sqlite3* raw = nullptr;
        REQUIRE(sqlite3_open(path.c_str(), &raw) == SQLITE_OK);
        const char* old = R"SQL(
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tickets (id TEXT PRIMARY KEY, device_id TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
  severity TEXT NOT NULL, opened_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE UNIQUE INDEX tickets_one_live ON tickets(device_id, kind) WHERE state <> 'closed';
CREATE TABLE ticket_events (event_id INTEGER PRIMARY KEY AUTOINCREMENT, ticket_id TEXT NOT NULL REFERENCES tickets(id),
  kind TEXT NOT NULL, at_ms INTEGER NOT NULL, body TEXT NOT NULL);
CREATE INDEX ticket_events_by_ticket ON ticket_events(ticket_id, event_id);
CREATE TABLE detector_state (id INTEGER PRIMARY KEY CHECK (id = 1), body TEXT NOT NULL);
CREATE TABLE telemetry (device_id TEXT NOT NULL, t_ms INTEGER NOT NULL, body TEXT NOT NULL,
  PRIMARY KEY (device_id, t_ms)) WITHOUT ROWID;
INSERT INTO meta VALUES ('schema_version', '1'), ('cursor:feed', '42');
INSERT INTO tickets VALUES ('inv1-string_fault-20160701T110000Z', 'inv1', 'string_fault', 'open', 'major',
  1467370800000, 1467370800000, '{"id":"inv1-string_fault-20160701T110000Z","device":"inv1","kind":"string_fault","severity":"major","state":"open","summary":"MPPT 3 open (no input)","evidence":[],"opened_at":"2016-07-01T11:00:00.000Z","updated_at":"2016-07-01T11:00:00.000Z"}');
INSERT INTO tickets VALUES ('inv1-not_producing-20160630T110000Z', 'inv1', 'not_producing', 'closed', 'minor',
  1467284400000, 1467288000000, '{"id":"inv1-not_producing-20160630T110000Z","device":"inv1","kind":"not_producing","severity":"minor","state":"closed","summary":"down","evidence":[],"opened_at":"2016-06-30T11:00:00.000Z","updated_at":"2016-06-30T12:00:00.000Z"}');
INSERT INTO ticket_events(ticket_id, kind, at_ms, body) VALUES ('inv1-string_fault-20160701T110000Z', 'opened',
  1467370800000, '{"kind":"opened","at":"2016-07-01T11:00:00.000Z","ticket":{"id":"inv1-string_fault-20160701T110000Z","device":"inv1","kind":"string_fault","severity":"major","state":"open","summary":"MPPT 3 open (no input)","evidence":[],"opened_at":"2016-07-01T11:00:00.000Z","updated_at":"2016-07-01T11:00:00.000Z"}}');
)SQL";
        char* err = nullptr;
        REQUIRE(sqlite3_exec(raw, old, nullptr, nullptr, &err) == SQLITE_OK);
        sqlite3_close(raw);
    }
    auto db = store::GatewayStore::open(path);
    REQUIRE(db.ok());
    auto all = (*db)->tickets(true);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 2);
    CHECK(all->at(0).kind == FaultKind::not_producing);
    CHECK_FALSE(all->at(0).input.has_value());
    CHECK(all->at(1).input == 3);  // from the summary
    CHECK(all->at(1).state == domain::TicketState::open);
    auto events = (*db)->events_after(0);
    REQUIRE(events.ok());
    REQUIRE(events->size() == 1);
    CHECK(events->at(0).event.ticket.summary == "MPPT 3 open (no input)");
    CHECK((*db)->cursor("feed")->value_or("") == "42");

    // The live ticket of input 3 goes on in the book; a fault on input 1 is a ticket of its own, and the schema
    // takes both.
    detect::TicketBook book;
    book.load(*all);
    CHECK(book.is_live("inv1", FaultKind::string_fault, 3));
    auto again = book.raise("inv1", FaultKind::string_fault, 3, domain::Severity::major, "MPPT 3 open (no input)", {},
                            t0 + 1h);
    CHECK_FALSE(again.has_value());
    auto other = book.raise("inv1", FaultKind::string_fault, 1, domain::Severity::major, "MPPT 1 open (no input)", {},
                            t0 + 1h);
    REQUIRE(other.has_value());
    CHECK(other->ticket.id == "inv1-string_fault-mppt1-20160701T120000Z");
    REQUIRE((*db)->record(*other).ok());
    auto live = (*db)->tickets(false);
    REQUIRE(live.ok());
    CHECK(live->size() == 2);
    // Still one live ticket per (device, kind, input).
    domain::TicketEvent dup = *other;
    dup.ticket.id = "other";
    auto refused = (*db)->record(dup);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().kind == ErrorKind::conflict);

    // Reopening a migrated store changes nothing.
    db->reset();
    auto reopened = store::GatewayStore::open(path);
    REQUIRE(reopened.ok());
    CHECK((*reopened)->tickets(false)->size() == 2);
}
