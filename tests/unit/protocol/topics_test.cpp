#include <doctest/doctest.h>

#include "pvfleet/protocol/topics.hpp"

using namespace pvfleet::protocol;

TEST_CASE("topics are built per site and kind") {
    CHECK(topic_for("demo-01", MessageKind::telemetry) == "pvfleet/v1/sites/demo-01/telemetry");
    CHECK(topic_for("demo-01", MessageKind::ticket_event) == "pvfleet/v1/sites/demo-01/tickets");
    CHECK(topic_for("demo-01", MessageKind::status) == "pvfleet/v1/sites/demo-01/status");
    CHECK(topic_for("demo-01", MessageKind::command) == "pvfleet/v1/sites/demo-01/commands");
    CHECK(topic_for("demo-01", MessageKind::command_ack) == "pvfleet/v1/sites/demo-01/acks");
    CHECK(subscription_for(MessageKind::telemetry) == "pvfleet/v1/sites/+/telemetry");
    CHECK(info(MessageKind::status).retained);
    CHECK(info(MessageKind::command).direction == Direction::downlink);
}

TEST_CASE("every built topic parses back") {
    for (const auto& t : all_topics()) {
        auto parsed = parse_topic(topic_for("site-7", t.kind));
        REQUIRE(parsed.ok());
        CHECK(*parsed == TopicRef{"site-7", t.kind});
    }
}

TEST_CASE("bad topics are refused with a precise reason") {
    struct Case {
        const char* topic;
        const char* error;
    };
    const Case cases[] = {
        {"other/v1/sites/a/status", "topic: 'other/v1/sites/a/status' does not start with 'pvfleet/v1/sites/'"},
        {"pvfleet/v2/sites/a/status", "topic: unsupported protocol version 'v2' (expected v1)"},
        {"pvfleet/v1/devices/a/status", "topic: 'pvfleet/v1/devices/a/status' does not start with 'pvfleet/v1/sites/'"},
        {"pvfleet/v1/sites/a", "topic: 'pvfleet/v1/sites/a' has no message kind after the site id"},
        {"pvfleet/v1/sites/Bad/status", "topic: 'Bad' is not a valid site id"},
        {"pvfleet/v1/sites/+/status", "topic: '+' is not a valid site id"},
        {"pvfleet/v1/sites//status", "topic: '' is not a valid site id"},
        {"pvfleet/v1/sites/a/weather", "topic: unknown message kind 'weather' (expected telemetry, tickets, status, commands, acks)"},
        {"pvfleet/v1/sites/a/status/extra", "topic: unknown message kind 'status/extra' (expected telemetry, tickets, status, commands, acks)"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.topic);
        auto r = parse_topic(c.topic);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().message == c.error);
    }
}

TEST_CASE("site id rule: [a-z0-9][a-z0-9-]{0,62}") {
    CHECK(is_valid_site_id("a"));
    CHECK(is_valid_site_id("0-site-with-dashes-99"));
    CHECK(is_valid_site_id(std::string(63, 'x')));
    CHECK_FALSE(is_valid_site_id(std::string(64, 'x')));
    CHECK_FALSE(is_valid_site_id(""));
    CHECK_FALSE(is_valid_site_id("-leading"));
    CHECK_FALSE(is_valid_site_id("Upper"));
    CHECK_FALSE(is_valid_site_id("with/slash"));
    CHECK_FALSE(is_valid_site_id("wild#"));
    CHECK_FALSE(is_valid_site_id("under_score"));
    // The broker's own identities are never sites.
    for (const char* reserved : {"pvfleet-server", "pvfleet", "pvfleet-x", "broker", "ca"}) {
        CAPTURE(reserved);
        CHECK(is_reserved_site_id(reserved));
        CHECK_FALSE(is_valid_site_id(reserved));
    }
    CHECK(is_valid_site_id("pvfleetsite"));
    CHECK(is_valid_site_id("cab"));
    CHECK(is_valid_site_id("broker-2"));
    CHECK(parse_topic("pvfleet/v1/sites/pvfleet-server/telemetry").error().message ==
          "topic: 'pvfleet-server' is not a valid site id");
    CHECK(is_valid_device_id("inv1"));
    CHECK(is_valid_device_id("Meter_main.2-a"));
    CHECK_FALSE(is_valid_device_id("_x"));
    CHECK_FALSE(is_valid_device_id("a/b"));
}
