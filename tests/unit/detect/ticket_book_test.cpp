#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "pvfleet/detect/ticket_book.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using domain::FaultKind;
using domain::Severity;
using domain::TicketEventKind;
using domain::TicketState;

namespace {
const TimePoint t0 = from_epoch_ms(1'467'370'800'000LL);
domain::EvidenceItem ev(double v) { return {"ac_power_w", v, 4000.0, "W", t0}; }
}  // namespace

TEST_CASE("one ticket per (device, kind): new evidence updates, never a duplicate") {
    detect::TicketBook book;
    auto e1 = book.raise("inv1", FaultKind::not_producing, Severity::minor, "down", {ev(0)}, t0);
    REQUIRE(e1);
    CHECK(e1->kind == TicketEventKind::opened);
    CHECK(e1->ticket.id == "inv1-not_producing-20160701T110000Z");
    CHECK_FALSE(book.raise("inv1", FaultKind::not_producing, Severity::minor, "down", {ev(0)}, t0 + 1min));
    auto e2 = book.raise("inv1", FaultKind::not_producing, Severity::minor, "down", {ev(1)}, t0 + 2min);
    REQUIRE(e2);
    CHECK(e2->kind == TicketEventKind::updated);
    CHECK(e2->ticket.evidence.size() == 2);
    auto e3 = book.raise("inv1", FaultKind::not_producing, Severity::major, "down long", {}, t0 + 3min);
    REQUIRE(e3);
    CHECK(e3->ticket.severity == Severity::major);
    CHECK(e3->ticket.id == e1->ticket.id);
    // another kind or device is another ticket
    CHECK(book.raise("inv2", FaultKind::not_producing, Severity::minor, "down", {}, t0)->kind == TicketEventKind::opened);
    CHECK(book.raise("inv1", FaultKind::comm_lost, Severity::minor, "mute", {}, t0)->kind == TicketEventKind::opened);
    CHECK(book.tickets().size() == 3);
}

TEST_CASE("lifecycle: open -> acknowledged -> resolved -> closed; recurrence before closing reopens") {
    detect::TicketBook book(detect::TicketConfig{.close_after_resolved_min = 60, .max_evidence = 20});
    const auto id = book.raise("inv1", FaultKind::string_fault, Severity::minor, "weak", {}, t0)->ticket.id;
    auto ack = book.acknowledge(id, "ana", "on my way", t0 + 5min);
    REQUIRE(ack.ok());
    CHECK(ack->ticket.state == TicketState::acknowledged);
    CHECK(ack->ticket.acknowledged_by == "ana");
    CHECK(ack->ticket.acknowledge_note == "on my way");
    CHECK(*ack->ticket.acknowledged_at == t0 + 5min);
    CHECK(book.acknowledge(id, "bob", "", t0 + 6min).error().kind == ErrorKind::conflict);
    CHECK(book.acknowledge("nope", "bob", "", t0).error().kind == ErrorKind::not_found);
    CHECK_FALSE(book.resolve(id, "", t0).ok());
    auto res = book.resolve(id, "ana", t0 + 1h);
    REQUIRE(res.ok());
    CHECK(res->ticket.resolved_by == "ana");
    CHECK_FALSE(book.is_live("inv1", FaultKind::string_fault));
    // back within the quiet hour: same ticket, open again
    auto again = book.raise("inv1", FaultKind::string_fault, Severity::minor, "weak", {}, t0 + 90min);
    REQUIRE(again);
    CHECK(again->kind == TicketEventKind::opened);
    CHECK(again->ticket.id == id);
    CHECK(again->ticket.state == TicketState::open);
    CHECK(book.clear("inv1", FaultKind::string_fault, t0 + 2h)->ticket.resolved_by == "auto");
    CHECK(book.tick(t0 + 2h + 59min).empty());
    auto closed = book.tick(t0 + 3h);
    REQUIRE(closed.size() == 1);
    CHECK(closed[0].kind == TicketEventKind::closed);
    CHECK(closed[0].ticket.state == TicketState::closed);
    CHECK(book.tickets().empty());
    // after closing, a new fault is a new ticket
    auto fresh = book.raise("inv1", FaultKind::string_fault, Severity::minor, "weak", {}, t0 + 5h);
    CHECK(fresh->ticket.id != id);
}

TEST_CASE("clear without a live ticket does nothing; evidence is capped") {
    detect::TicketBook book(detect::TicketConfig{.close_after_resolved_min = 60, .max_evidence = 3});
    CHECK_FALSE(book.clear("inv1", FaultKind::not_producing, t0));
    book.raise("inv1", FaultKind::not_producing, Severity::minor, "down", {ev(1), ev(2)}, t0);
    book.raise("inv1", FaultKind::not_producing, Severity::minor, "down", {ev(3), ev(4)}, t0 + 1min);
    const auto* t = book.find("inv1", FaultKind::not_producing);
    REQUIRE(t != nullptr);
    REQUIRE(t->evidence.size() == 3);
    CHECK(t->evidence.front().observed == 2);
    CHECK(t->evidence.back().observed == 4);
}

TEST_CASE("ticket JSON round trip and event line") {
    detect::TicketBook book;
    auto e = book.raise("inv1", FaultKind::comm_lost, Severity::minor, "mute", {ev(0)}, t0);
    auto ack = book.acknowledge(e->ticket.id, "ana", "note", t0 + 1min);
    auto back = detect::ticket_from_json(detect::to_json(ack->ticket));
    REQUIRE(back.ok());
    CHECK(*back == ack->ticket);
    auto line = detect::event_line(*ack);
    CHECK(line["event"] == "acknowledged");
    CHECK(line["ticket_id"] == e->ticket.id);
    CHECK(line["kind"] == "comm_lost");
    CHECK(line["severity"] == "minor");
    CHECK(line["device"] == "inv1");
    CHECK(line["at"] == "2016-07-01T11:01:00.000Z");
    CHECK(line["by"] == "ana");
    CHECK_FALSE(detect::ticket_from_json(nlohmann::json{{"id", "x"}}).ok());
}

TEST_CASE("ticket JSON: the local page's form is the stored one under the page's names") {
    detect::TicketBook book;
    domain::EvidenceItem no_expectation{"ac_voltage_v", 0.0, std::nullopt, "V", t0};
    auto e = book.raise("inv1", FaultKind::grid_outage, Severity::major, "no grid", {no_expectation}, t0);
    REQUIRE(e);
    const nlohmann::json open = detect::to_page_json(e->ticket);
    const nlohmann::json expected_open = {
        {"id", e->ticket.id},
        {"device_id", "inv1"},
        {"kind", "grid_outage"},
        {"severity", "major"},
        {"state", "open"},
        {"summary", "no grid"},
        {"evidence",
         {{{"name", "ac_voltage_v"}, {"observed", 0.0}, {"expected", nullptr}, {"unit", "V"},
           {"t", "2016-07-01T11:00:00.000Z"}}}},
        {"opened_at", "2016-07-01T11:00:00.000Z"},
        {"updated_at", "2016-07-01T11:00:00.000Z"},
        {"acknowledged_at", nullptr},
        {"acknowledged_by", ""},
        {"acknowledge_note", ""},
        {"resolved_at", nullptr},
        {"resolved_by", ""},
        {"input", nullptr}};
    CHECK(open == expected_open);

    auto ack = book.acknowledge(e->ticket.id, "ana", "on my way", t0 + 1min);
    REQUIRE(ack);
    const auto acked = detect::to_page_json(ack->ticket);
    CHECK(acked["state"] == "acknowledged");
    CHECK(acked["acknowledged_at"] == "2016-07-01T11:01:00.000Z");
    CHECK(acked["acknowledged_by"] == "ana");
    CHECK(acked["acknowledge_note"] == "on my way");
    CHECK_FALSE(acked.contains("device"));
}
