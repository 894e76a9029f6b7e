#pragma once
// Encode and decode protocol v1 payloads. Decoding never throws on bad input: every failure is an Error whose
// message starts with the JSON path of the offending field ("devices/0/points/ac_power_w/3: expected number
// or null, got string"). Encoding validates the same rules, so a producer bug is caught where it is made.
#include <cstddef>
#include <cstdint>
#include <optional>
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
// Largest sequence number (seq, last_seq, resend from_seq/to_seq): 2^53 - 1, exact in JSON readers that hold
// numbers as doubles (JavaScript) and far from the signed 64-bit columns that store it. A gateway publishing
// one message a second needs 285 million years to reach it.
inline constexpr std::uint64_t kMaxSeq = (std::uint64_t{1} << 53) - 1;
// Bounds of one telemetry batch, far above what a gateway sends (the edge flushes at 720 samples; its quota
// policy merges at most 120 batches into 5-minute aggregates, fewer samples still) and low enough that one
// message cannot hold the ingest for long or take much memory: samples over all device blocks, device
// blocks, point columns per block, entries of one per-MPPT/per-phase value or event list, and readings (every
// value, array entry and event) over the whole batch.
inline constexpr std::size_t kMaxBatchSamples = 20'000;
inline constexpr std::size_t kMaxBatchDevices = 256;
inline constexpr std::size_t kMaxDevicePoints = 256;
inline constexpr std::size_t kMaxValueEntries = 64;
inline constexpr std::size_t kMaxBatchReadings = 200'000;
// Vendor-specific scalar points carry this prefix ("x_string_insulation_kohm"); any other name must be canonical.
inline constexpr std::string_view kVendorPointPrefix = "x_";

// A set_config's merge patch: a JSON object of at most kMaxConfigPatchBytes (compact), nested at most
// kMaxJsonDepth - 2 levels (a command carries it two levels down), that names neither
// `site_id` (a patch goes to many sites) nor `config_version` (the command's own config_version sets it).
// Errors name the key inside the patch ("site_id: may not be changed by a fleet patch"); callers put them
// under their own member (Error::under).
inline constexpr std::size_t kMaxConfigPatchBytes = 64 * 1024;
Status check_config_patch(std::string_view patch_json);

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

// Head-split zlib framing, for payloads stored to be sent again with a few bytes at the front changed (the
// sync outbox: `historical` and `sent_at`). The first `head` bytes of the JSON text go into a stored
// (uncompressed) deflate block, the rest is compressed on its own, without references into the head. It is
// an ordinary zlib stream to any reader (unframe() and every other inflater read it as usual); it costs a few
// dozen bytes more than deflate_payload(), and in exchange replace_head() swaps the head without compressing
// the rest again. Empty only if zlib fails or the head is longer than a stored block (65 535 bytes).
std::string deflate_payload_split(std::string_view json_text, std::size_t head);
// The head text of a head-split payload; nullopt when `payload` does not have that framing.
std::optional<std::string_view> split_payload_head(std::string_view payload);
// The uncompressed rest of a head-split payload (the text after the head): its length and Adler-32. The zlib
// checksum covers the whole text, adler32_combine(adler32(head), adler, length), so with these kept next to a
// stored payload its head can be replaced without inflating the rest (SqliteOutbox keeps them per row).
struct SplitRest {
    std::uint32_t adler = 1;  // Adler-32 of no bytes
    std::uint32_t length = 0;
    friend bool operator==(const SplitRest&, const SplitRest&) = default;
};
// Of a head-split payload, by inflating the rest once and checking the payload's checksum with it; nullopt when
// `payload` does not have that framing or is corrupt.
std::optional<SplitRest> split_payload_rest(std::string_view payload);
// `payload` (head-split framing) with its head replaced by `new_head`: the rest is copied as it is, only the
// checksum is recomputed, from `rest` (see SplitRest) without inflating anything. nullopt when `payload` does
// not have that framing or `rest` does not add up to its checksum with its current head (the sum belongs to
// another payload). The compressed rest itself is not checked: a corrupt one fails the receiver's checksum.
std::optional<std::string> replace_payload_head(std::string_view payload, std::string_view new_head, SplitRest rest);
// The same for a payload whose SplitRest is not known: inflates the rest once for it (split_payload_rest), so
// a corrupt payload is refused here.
std::optional<std::string> replace_payload_head(std::string_view payload, std::string_view new_head);

// A telemetry batch encoded once for a sender that keeps it to send again (the edge's sync outbox): the JSON
// text is built once and framed twice, `live` as encode(m, {.compress = true}) frames it (what goes out at
// once) and `stored` in the head-split framing whose head is telemetry_head() of the batch, with the SplitRest
// of its rest taken from the text (no inflate). Sending the row again later replaces that head with
// telemetry_head(..., historical = true, the new sent_at) through replace_payload_head(): no JSON is parsed,
// edited as text or compressed again. `rest` is nullopt, and `stored` equals `live`, when the head-split
// framing could not be made (zlib failed).
struct ResendableTelemetry {
    std::string live;
    std::string stored;
    std::optional<SplitRest> rest;
};
Result<ResendableTelemetry> encode_resendable(const TelemetryBatch& m);
// The envelope members a resend changes, as encode() writes them at the front of a telemetry batch's text:
// {"v":1,"kind":"telemetry","site_id":...,"seq":...,"historical":...,"sent_at":... (no closing brace).
std::string telemetry_head(const std::string& site_id, Seq seq, bool historical, TimePoint sent_at);

}  // namespace pvfleet::protocol
