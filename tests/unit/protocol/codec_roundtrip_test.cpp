#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "pvfleet/protocol/codec.hpp"
#include "support/protocol_fixtures.hpp"

using namespace pvfleet;
using namespace pvfleet::protocol;
using namespace std::chrono_literals;

namespace {
// Decoding returns samples grouped by device (first appearance) and in time order: the canonical order.
std::vector<domain::Sample> canonical_order(std::vector<domain::Sample> samples) {
    std::vector<std::string> order;
    for (const auto& s : samples) {
        if (std::find(order.begin(), order.end(), s.device_id) == order.end()) order.push_back(s.device_id);
    }
    std::stable_sort(samples.begin(), samples.end(), [&](const auto& a, const auto& b) {
        const auto ra = std::find(order.begin(), order.end(), a.device_id) - order.begin();
        const auto rb = std::find(order.begin(), order.end(), b.device_id) - order.begin();
        return ra != rb ? ra < rb : a.t < b.t;
    });
    return samples;
}

template <class T, class Decode>
void check_round_trip(const T& message, Decode decode_fn) {
    for (bool compress : {false, true}) {
        CAPTURE(compress);
        auto encoded = encode(message, EncodeOptions{compress});
        REQUIRE_MESSAGE(encoded.ok(), (encoded.ok() ? "" : encoded.error().message));
        CHECK(is_compressed(*encoded) == compress);
        CHECK((encoded->front() == '{') == !compress);
        auto decoded = decode_fn(*encoded);
        REQUIRE_MESSAGE(decoded.ok(), (decoded.ok() ? "" : decoded.error().message));
        CHECK(*decoded == message);
        // The generic decoder agrees.
        auto any = decode(*encoded);
        REQUIRE(any.ok());
        CHECK(std::get<T>(*any) == message);
    }
}
}  // namespace

TEST_CASE("telemetry batch round trips through plain and compressed payloads") {
    auto batch = test::telemetry_batch();
    batch.samples = canonical_order(batch.samples);
    check_round_trip(batch, decode_telemetry);
}

TEST_CASE("telemetry encoding is columnar per device with delta timestamps") {
    auto batch = test::telemetry_batch();
    auto text = encode(batch);
    REQUIRE(text.ok());
    CHECK(text->find(R"("device_id":"inv1","t0":1468915200000,"dt":[0,10000,10000,10000,10000,10000])") != std::string::npos);
    CHECK(text->find(R"("ac_power_w":[4780,4781,4782,4783,4784,4785])") != std::string::npos);
    CHECK(text->find(R"("dc_current_a":[[4.12,null],)") != std::string::npos);
    CHECK(text->find(R"("inverter_state":["producing","producing","producing","producing",null,"producing"])") != std::string::npos);
    CHECK(text->find(R"("events":[[],[],[],["grid_overvoltage","fan_warning"],[],[]])") != std::string::npos);
    CHECK(text->find(R"("x_isolation_kohm":[null,null,null,null,null,1870.5])") != std::string::npos);
    CHECK(text->starts_with(R"({"v":1,"kind":"telemetry","site_id":"demo-site-01","seq":1042,"historical":false,)"));
}

TEST_CASE("telemetry samples out of order are sent in time order per device") {
    TelemetryBatch batch;
    batch.site_id = "s1";
    batch.seq = 1;
    batch.sent_at = test::base_time();
    batch.samples = {test::inverter_sample("inv2", test::base_time() + 20s, 1),
                     test::inverter_sample("inv1", test::base_time() + 10s, 2),
                     test::inverter_sample("inv2", test::base_time(), 3)};
    auto decoded = decode_telemetry(encode(batch).value());
    REQUIRE(decoded.ok());
    REQUIRE(decoded->samples.size() == 3);
    CHECK(decoded->samples[0].device_id == "inv2");
    CHECK(decoded->samples[0].value("ac_power_w") == 3);
    CHECK(decoded->samples[1].value("ac_power_w") == 1);
    CHECK(decoded->samples[2].device_id == "inv1");
}

TEST_CASE("historical aggregate batches and empty gap-filler batches round trip") {
    auto batch = test::telemetry_batch();
    batch.samples = canonical_order(batch.samples);
    batch.historical = true;
    batch.aggregate = true;
    batch.resolution_s = 300;
    check_round_trip(batch, decode_telemetry);
    TelemetryBatch empty{"demo-site-01", 7, true, test::base_time(), std::nullopt, false, {}};
    check_round_trip(empty, decode_telemetry);
}

TEST_CASE("non-finite readings are sent as null, i.e. absent") {
    TelemetryBatch batch{"s1", 1, false, test::base_time(), 10, false, {}};
    auto s = test::inverter_sample("inv1", test::base_time(), std::nan(""));
    s.arrays["dc_voltage_v"] = {std::numeric_limits<double>::infinity(), 600.5};
    batch.samples.push_back(s);
    auto decoded = decode_telemetry(encode(batch).value());
    REQUIRE(decoded.ok());
    CHECK_FALSE(decoded->samples[0].value("ac_power_w").has_value());
    CHECK(decoded->samples[0].arrays.at("dc_voltage_v") == std::vector<std::optional<double>>{std::nullopt, 600.5});
}

TEST_CASE("ticket event round trips, with and without acknowledgement fields") {
    auto m = test::ticket_event();
    check_round_trip(m, decode_ticket_event);
    m.event.kind = domain::TicketEventKind::acknowledged;
    m.event.ticket.state = domain::TicketState::acknowledged;
    m.event.ticket.acknowledged_at = test::base_time() + 5min;
    m.event.ticket.acknowledged_by = "alice";
    m.event.ticket.acknowledge_note = "technician booked for Thursday";
    check_round_trip(m, decode_ticket_event);
    m.event.kind = domain::TicketEventKind::resolved;
    m.event.ticket.state = domain::TicketState::resolved;
    m.event.ticket.resolved_at = test::base_time() + 3h;
    m.event.ticket.resolved_by = "auto";
    m.historical = true;
    check_round_trip(m, decode_ticket_event);
}

TEST_CASE("ticket event: per-input tickets carry their input; a message without one (older gateways) decodes") {
    auto m = test::ticket_event();
    m.event.ticket.kind = domain::FaultKind::string_fault;
    m.event.ticket.input = 2;
    check_round_trip(m, decode_ticket_event);
    const auto payload = encode(m).value();
    CHECK(payload.find("\"input\":2") != std::string::npos);

    // As a gateway sent it before tickets had inputs: no "input" at all.
    const std::string old =
        R"x({"v":1,"kind":"ticket_event","site_id":"demo-site-01","seq":7,"sent_at":1468915261000,"event":"opened",)x"
        R"x("at":1468915260000,"ticket":{"id":"inv1-string_fault-20160719T080100Z","device_id":"inv1",)x"
        R"x("fault_kind":"string_fault","severity":"major","state":"open","summary":"MPPT 3 open (no input)",)x"
        R"x("opened_at":1468915260000,"updated_at":1468915260000}})x";
    auto decoded = decode_ticket_event(old);
    REQUIRE(decoded.ok());
    CHECK_FALSE(decoded->event.ticket.input.has_value());
    CHECK(decoded->event.ticket.kind == domain::FaultKind::string_fault);
    // Re-encoded, it stays without an input.
    CHECK(encode(*decoded).value().find("\"input\"") == std::string::npos);

    m.event.ticket.input = 0;
    auto bad = encode(m);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "ticket/input: expected an input number 1..64, got 0");
}

TEST_CASE("status: inverters' wired MPPT inputs round trip; a status without them decodes") {
    auto m = test::status_online();
    REQUIRE_FALSE(m.devices.empty());
    m.devices[0].wired_inputs = {1, 2};
    check_round_trip(m, decode_status);
    auto text = encode(m).value();
    CHECK(text.find("\"wired_inputs\":[1,2]") != std::string::npos);
    m.devices[0].wired_inputs = {0};
    REQUIRE_FALSE(encode(m).ok());
}

TEST_CASE("status round trips online and as an offline last will") {
    check_round_trip(test::status_online(), decode_status);
    StatusMessage will;
    will.site_id = "demo-site-01";
    will.state = SiteState::offline;
    will.sent_at = test::base_time();
    will.agent_version = "0.1.0";
    will.config_version = "2016-07-01.2";
    check_round_trip(will, decode_status);
}

TEST_CASE("every command type and an acknowledgement round trip") {
    for (const auto& c : test::commands()) {
        CAPTURE(to_string(c.type()));
        check_round_trip(c, decode_command);
    }
    check_round_trip(test::command_ack(), decode_command_ack);
}

TEST_CASE("decode_for_topic checks kind and site against the topic") {
    const auto payload = encode(test::status_online()).value();
    auto ok = decode_for_topic("pvfleet/v1/sites/demo-site-01/status", payload);
    REQUIRE(ok.ok());
    CHECK(kind_of(*ok) == MessageKind::status);
    CHECK(site_of(*ok) == "demo-site-01");
    auto wrong_kind = decode_for_topic("pvfleet/v1/sites/demo-site-01/telemetry", payload);
    REQUIRE_FALSE(wrong_kind.ok());
    CHECK(wrong_kind.error().message == "kind: 'status' payload on a 'telemetry' topic");
    auto wrong_site = decode_for_topic("pvfleet/v1/sites/other-site/status", payload);
    REQUIRE_FALSE(wrong_site.ok());
    CHECK(wrong_site.error().message == "site_id: 'demo-site-01' does not match the topic's site 'other-site'");
}
