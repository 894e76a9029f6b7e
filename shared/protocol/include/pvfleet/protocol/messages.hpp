#pragma once
// Envelopes of protocol v1 as C++ values. docs/protocol.md describes their JSON form.
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::protocol {

// Site-scoped sequence number: persisted by the edge, strictly increasing, starts at 1. Telemetry batches and
// ticket events share one sequence; (site_id, seq) is the idempotency key and what gap detection watches.
using Seq = std::uint64_t;

// Samples of any number of devices. On the wire it is columnar per device; decoding returns the samples
// grouped by device (in order of first appearance) and in time order within a device.
struct TelemetryBatch {
    std::string site_id;
    Seq seq = 0;
    bool historical = false;  // true when sent from the backlog (store-and-forward), not live
    TimePoint sent_at;
    std::optional<std::uint32_t> resolution_s;  // nominal spacing of samples, when known
    bool aggregate = false;  // samples are resolution_s aggregates (quota downsampling), not raw readings
    std::vector<domain::Sample> samples;
    friend bool operator==(const TelemetryBatch&, const TelemetryBatch&) = default;
};

struct TicketEventMessage {
    std::string site_id;
    Seq seq = 0;
    bool historical = false;
    TimePoint sent_at;
    domain::TicketEvent event;
    friend bool operator==(const TicketEventMessage&, const TicketEventMessage&) = default;
};

enum class SiteState { online, offline };

struct DevicePollStatus {
    std::string device_id;
    std::optional<TimePoint> last_ok_poll;  // nullopt: never polled successfully since start
    // Inverters: the MPPT inputs (1-based) the site config wires an array to; empty when the config does not say.
    std::vector<int> wired_inputs;
    friend bool operator==(const DevicePollStatus&, const DevicePollStatus&) = default;
};

// What the disk quota policy did to raw telemetry that was not yet sent.
struct QuotaReport {
    std::uint64_t downsampled_samples = 0;  // raw samples replaced by 5-minute aggregates
    std::uint64_t dropped_samples = 0;      // samples deleted without being sent
    std::optional<TimePoint> downsampled_before;  // raw data older than this is only available as aggregates
    friend bool operator==(const QuotaReport&, const QuotaReport&) = default;
};

// Retained on the status topic; also the MQTT last will (state offline). Not sequenced: the newest wins.
struct StatusMessage {
    std::string site_id;
    SiteState state = SiteState::online;
    TimePoint sent_at;
    std::string agent_version;
    // Required when online, optional when offline (a last will is composed at connect time).
    std::optional<std::uint64_t> uptime_s;
    std::optional<std::uint64_t> backlog_depth;  // messages in the outbox not yet acknowledged by the broker
    std::optional<Seq> last_seq;                 // highest seq assigned so far; lets the server see a gap at the tail
    std::optional<std::string> config_version;
    std::vector<DevicePollStatus> devices;
    std::optional<QuotaReport> quota;
    friend bool operator==(const StatusMessage&, const StatusMessage&) = default;
};

// ---- downlink commands (server -> edge) ----
struct AckTicketCommand {
    std::string ticket_id;
    std::string by;
    std::string note;
    friend bool operator==(const AckTicketCommand&, const AckTicketCommand&) = default;
};
struct ResolveTicketCommand {
    std::string ticket_id;
    std::string by;
    std::string note;
    friend bool operator==(const ResolveTicketCommand&, const ResolveTicketCommand&) = default;
};
// A site config, applied atomically by the edge: the whole config, or (fleet config, docs/updates.md) an RFC
// 7396 JSON merge patch over the gateway's current config file with the config_version the result gets.
// Exactly one of config_json and patch_json is set. Kept as compact JSON text so this header does not depend
// on a JSON library; the config module parses and validates it.
struct SetConfigCommand {
    std::string config_json = {};     // a JSON object: the whole config
    std::string patch_json = {};      // or a JSON object: the merge patch (check_config_patch)
    std::string config_version = {};  // with a patch: the patched config's config_version (1..64 bytes)
    [[nodiscard]] bool is_patch() const { return !patch_json.empty(); }
    friend bool operator==(const SetConfigCommand&, const SetConfigCommand&) = default;
};
// Ask the edge to send seq from_seq..to_seq (inclusive) again.
struct ResendCommand {
    Seq from_seq = 1;
    Seq to_seq = 1;
    friend bool operator==(const ResendCommand&, const ResendCommand&) = default;
};
struct ProbeCommand {
    std::string device_id;
    friend bool operator==(const ProbeCommand&, const ProbeCommand&) = default;
};

// Install another version of the agent (docs/updates.md): the gateway downloads `url` (HTTPS, resumable), checks
// size, SHA-256 and the Ed25519 signature over that SHA-256 against its shipped release keys, and hands the file
// to its updater. Acks: accepted "downloading …", accepted "installing …", then done "healthy …" or failed
// "rolled_back: …" / failed / rejected with the reason.
struct UpdateCommand {
    std::string version;
    std::string url;        // https://…
    std::string sha256;     // 64 lower-case hex digits
    std::uint64_t size = 0;  // bytes
    std::string signature;  // base64 of the 64-byte signature
    friend bool operator==(const UpdateCommand&, const UpdateCommand&) = default;
};

// Remote diagnostics (docs/updates.md, "Remote diagnostics"): the gateway uploads a bundle of its state
// summary and the last `hours` of its journal, at most `max_bytes` in all, to `upload_url` (the server's
// expiring HTTPS link for this bundle). Acks: accepted, then done with the size or failed with the reason.
struct LogBundleCommand {
    static constexpr std::uint32_t kMinHours = 1, kMaxHours = 168;
    static constexpr std::uint64_t kMinBytes = 64 * 1024, kMaxBytes = 16 * 1024 * 1024;
    static constexpr std::uint64_t kDefaultBytes = 2 * 1024 * 1024;
    std::uint32_t hours = 24;
    std::uint64_t max_bytes = kDefaultBytes;
    std::string upload_url;  // https://…
    friend bool operator==(const LogBundleCommand&, const LogBundleCommand&) = default;
};

enum class CommandType { ack_ticket, resolve_ticket, set_config, resend, probe, update, log_bundle };

using CommandBody = std::variant<AckTicketCommand, ResolveTicketCommand, SetConfigCommand, ResendCommand,
                                 ProbeCommand, UpdateCommand, LogBundleCommand>;

struct Command {
    std::string site_id;
    std::string command_id;  // unique per command; a repeated id is a duplicate delivery
    TimePoint issued_at;     // orders commands of one site; an older set_config than the applied one is stale
    std::optional<TimePoint> expires_at;  // not executed after this time (acked as stale)
    CommandBody body;
    [[nodiscard]] CommandType type() const { return static_cast<CommandType>(body.index()); }
    friend bool operator==(const Command&, const Command&) = default;
};

enum class AckStatus {
    accepted,   // received and started; a final ack (done/failed) follows, e.g. for resend
    done,       // carried out
    duplicate,  // command_id seen before; not carried out again
    stale,      // expired, or older than a command already applied
    rejected,   // invalid for this site (unknown ticket, unknown device, config refused)
    failed,     // valid but could not be carried out
};

struct CommandAck {
    std::string site_id;
    std::string command_id;
    CommandType command = CommandType::probe;
    AckStatus status = AckStatus::done;
    TimePoint at;
    std::string detail;  // human-readable reason or result summary; may be empty
    friend bool operator==(const CommandAck&, const CommandAck&) = default;
};

using Message = std::variant<TelemetryBatch, TicketEventMessage, StatusMessage, Command, CommandAck>;

std::string_view to_string(SiteState v);
std::string_view to_string(CommandType v);
std::string_view to_string(AckStatus v);

}  // namespace pvfleet::protocol
