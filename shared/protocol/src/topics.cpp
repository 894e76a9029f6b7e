#include "pvfleet/protocol/topics.hpp"

namespace pvfleet::protocol {
namespace {
constexpr std::array<TopicInfo, 5> kTopics{{
    {MessageKind::telemetry, "telemetry", "telemetry", Direction::uplink, 1, false},
    {MessageKind::ticket_event, "ticket_event", "tickets", Direction::uplink, 1, false},
    {MessageKind::status, "status", "status", Direction::uplink, 1, true},
    {MessageKind::command, "command", "commands", Direction::downlink, 1, false},
    {MessageKind::command_ack, "command_ack", "acks", Direction::uplink, 1, false},
}};

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alnum(char c) { return is_lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
}  // namespace

const std::array<TopicInfo, 5>& all_topics() { return kTopics; }

const TopicInfo& info(MessageKind kind) { return kTopics[static_cast<std::size_t>(kind)]; }

std::string_view to_string(MessageKind kind) { return info(kind).payload_kind; }

bool is_reserved_site_id(std::string_view id) {
    return id == "broker" || id == "ca" || id == "pvfleet" || id.starts_with("pvfleet-");
}

bool is_valid_site_id(std::string_view id) {
    if (id.empty() || id.size() > 63 || !is_lower_alnum(id.front())) return false;
    for (char c : id) {
        if (!is_lower_alnum(c) && c != '-') return false;
    }
    return !is_reserved_site_id(id);
}

bool is_valid_device_id(std::string_view id) {
    if (id.empty() || id.size() > 64 || !is_alnum(id.front())) return false;
    for (char c : id) {
        if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
    }
    return true;
}

std::string topic_for(std::string_view site_id, MessageKind kind) {
    std::string t(kTopicPrefix);
    t += site_id;
    t += '/';
    t += info(kind).topic_suffix;
    return t;
}

std::string subscription_for(MessageKind kind) { return topic_for("+", kind); }

Result<TopicRef> parse_topic(std::string_view topic) {
    constexpr std::string_view root = "pvfleet/";
    if (!topic.starts_with(root)) {
        return Error::at("topic", "'" + std::string(topic) + "' does not start with '" + std::string(kTopicPrefix) + "'");
    }
    const auto rest = topic.substr(root.size());
    const auto version = rest.substr(0, rest.find('/'));
    if (version != "v1") {
        return Error::at("topic", "unsupported protocol version '" + std::string(version) + "' (expected v1)");
    }
    if (!topic.starts_with(kTopicPrefix)) {
        return Error::at("topic", "'" + std::string(topic) + "' does not start with '" + std::string(kTopicPrefix) + "'");
    }
    const auto tail = topic.substr(kTopicPrefix.size());
    const auto slash = tail.find('/');
    if (slash == std::string_view::npos) {
        return Error::at("topic", "'" + std::string(topic) + "' has no message kind after the site id");
    }
    const auto site = tail.substr(0, slash);
    const auto suffix = tail.substr(slash + 1);
    if (!is_valid_site_id(site)) {
        return Error::at("topic", "'" + std::string(site) + "' is not a valid site id");
    }
    for (const auto& t : kTopics) {
        if (t.topic_suffix == suffix) return TopicRef{std::string(site), t.kind};
    }
    return Error::at("topic", "unknown message kind '" + std::string(suffix) +
                                  "' (expected telemetry, tickets, status, commands, acks)");
}

}  // namespace pvfleet::protocol
