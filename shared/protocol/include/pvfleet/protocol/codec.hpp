#pragma once
// Encode and decode protocol v1 payloads. Decoding never throws on bad input: every failure is an Error whose
// message starts with the JSON path of the offending field ("devices/0/points/ac_power_w/3: expected number
// or null, got string"). Encoding validates the same rules, so a producer bug is caught where it is made.
#include <cstddef>
#include <string>
#include <string_view>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::protocol {

// Largest payload accepted on the wire (plain or compressed), and largest JSON text a compressed payload may
// inflate to (guards against zip bombs). Producers split batches to stay below kMaxPayloadBytes.
inline constexpr std::size_t kMaxPayloadBytes = 1024 * 1024;
inline constexpr std::size_t kMaxInflatedBytes = 4 * 1024 * 1024;
// Deepest JSON nesting accepted (v1 payloads need 5).
inline constexpr int kMaxJsonDepth = 16;
// Vendor-specific scalar points carry this prefix ("x_string_insulation_kohm"); any other name must be canonical.
inline constexpr std::string_view kVendorPointPrefix = "x_";

struct EncodeOptions {
    bool compress = false;  // zlib (RFC 1950) stream instead of plain JSON
};

Result<std::string> encode(const TelemetryBatch& m, EncodeOptions options = {});
Result<std::string> encode(const TicketEventMessage& m, EncodeOptions options = {});
Result<std::string> encode(const StatusMessage& m, EncodeOptions options = {});
Result<std::string> encode(const Command& m, EncodeOptions options = {});
Result<std::string> encode(const CommandAck& m, EncodeOptions options = {});
Result<std::string> encode(const Message& m, EncodeOptions options = {});

// Each accepts plain or zlib-compressed payloads and checks the payload's "kind".
Result<TelemetryBatch> decode_telemetry(std::string_view payload);
Result<TicketEventMessage> decode_ticket_event(std::string_view payload);
Result<StatusMessage> decode_status(std::string_view payload);
Result<Command> decode_command(std::string_view payload);
Result<CommandAck> decode_command_ack(std::string_view payload);
// Dispatches on the payload's "kind".
Result<Message> decode(std::string_view payload);
// For subscribers: decodes a message received on `topic` and checks that its kind and site_id match the topic.
Result<Message> decode_for_topic(std::string_view topic, std::string_view payload);

MessageKind kind_of(const Message& m);
const std::string& site_of(const Message& m);

// Framing: a payload whose first byte is '{' is plain JSON; one whose first byte is 0x78 is a zlib stream
// (the CMF byte of every 32 KiB-window deflate stream). Returns the JSON text.
Result<std::string> unframe(std::string_view payload);
bool is_compressed(std::string_view payload);
// The zlib framing of a JSON text (what EncodeOptions::compress produces); empty only if zlib fails.
std::string deflate_payload(std::string_view json_text);

}  // namespace pvfleet::protocol
