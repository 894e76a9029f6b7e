#pragma once
// MQTT topics of protocol v1: pvfleet/v1/sites/{site_id}/{telemetry|tickets|status|commands|acks}.
#include <array>
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::protocol {

inline constexpr int kProtocolVersion = 1;
inline constexpr std::string_view kTopicPrefix = "pvfleet/v1/sites/";

// The five kinds of message; each has its own topic and its own payload "kind".
enum class MessageKind { telemetry, ticket_event, status, command, command_ack };

enum class Direction { uplink, downlink };  // uplink = edge -> server

struct TopicInfo {
    MessageKind kind;
    std::string_view payload_kind;  // value of the "kind" field in the payload
    std::string_view topic_suffix;  // last topic level
    Direction direction;
    int qos;
    bool retained;
};

// All kinds, in documentation order.
const std::array<TopicInfo, 5>& all_topics();
const TopicInfo& info(MessageKind kind);
std::string_view to_string(MessageKind kind);  // the payload kind name, e.g. "ticket_event"

// Site id rule: [a-z0-9][a-z0-9-]{0,62}. No MQTT wildcards, slashes, upper case or spaces, so a site id is
// always exactly one topic level and safe in file names and URLs.
// Names of the broker's own identities are never site ids (a site certificate with the server's name would get
// the server's rights at the broker): "broker", "ca", "pvfleet" and anything starting "pvfleet-".
bool is_valid_site_id(std::string_view site_id);
bool is_reserved_site_id(std::string_view site_id);
// Device id rule (ids from the site config, e.g. "inv1", "meter-main"): [A-Za-z0-9][A-Za-z0-9_.-]{0,63}.
bool is_valid_device_id(std::string_view device_id);

// The topic of one kind of message for one site. Precondition: is_valid_site_id(site_id).
std::string topic_for(std::string_view site_id, MessageKind kind);
// The server-side subscription for one kind over all sites: "pvfleet/v1/sites/+/telemetry".
std::string subscription_for(MessageKind kind);

struct TopicRef {
    std::string site_id;
    MessageKind kind = MessageKind::telemetry;
    friend bool operator==(const TopicRef&, const TopicRef&) = default;
};

// "pvfleet/v1/sites/demo-01/telemetry" -> {demo-01, telemetry}; errors start with "topic: ".
Result<TopicRef> parse_topic(std::string_view topic);

}  // namespace pvfleet::protocol
