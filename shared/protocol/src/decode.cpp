// Decoding of protocol v1 payloads: the body of each message kind and the public decode functions.
// docs/protocol.md is the specification; every failure names the JSON path of the offending field.
#include <algorithm>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec_detail.hpp"
#include "pvfleet/domain/points.hpp"

namespace pvfleet::protocol {
using namespace detail;
namespace {

// ---- telemetry ----

// What one telemetry batch may still hold (see kMaxBatchSamples and its neighbours).
struct BatchBudget {
    std::size_t samples = kMaxBatchSamples;
    std::size_t readings = kMaxBatchReadings;

    Status take_samples(std::size_t n, const Path& path) {
        if (n > samples) return Error::at(path.str(), "the batch has more than " + std::to_string(kMaxBatchSamples) + " samples");
        samples -= n;
        return {};
    }
    Status take_readings(std::size_t n, const Path& path) {
        if (n > readings) return Error::at(path.str(), "the batch has more than " + std::to_string(kMaxBatchReadings) + " readings");
        readings -= n;
        return {};
    }
};

Status check_entries(const json& list, const Path& path) {
    if (list.size() > kMaxValueEntries) {
        return Error::at(path.str(), std::to_string(list.size()) + " entries, more than " + std::to_string(kMaxValueEntries));
    }
    return {};
}

Result<std::optional<double>> read_optional_number(const json& j, const Path& path) {
    if (j.is_null()) return std::optional<double>{};
    if (!j.is_number()) return type_error(path, "number or null", j);
    PVF_TRY(double v, read_number(j, path));
    return std::optional<double>(v);
}

Status read_column(const std::string& name, PointShape shape, const json& column, const Path& path,
                   std::vector<domain::Sample>& samples, BatchBudget& budget) {
    if (!column.is_array()) return type_error(path, "array", column);
    if (column.size() != samples.size()) {
        return Error::at(path.str(), std::to_string(column.size()) + " entries, expected " + std::to_string(samples.size()) +
                                   " (one per entry of dt)");
    }
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const json& entry = column[i];
        const Path at(path, i);
        auto& sample = samples[i];
        switch (shape) {
            case PointShape::scalar: {
                PVF_TRY(auto v, read_optional_number(entry, at));
                if (v) {
                    PVF_CHECK(budget.take_readings(1, at));
                    sample.values.emplace(name, *v);
                }
                break;
            }
            case PointShape::per_mppt:
            case PointShape::per_phase: {
                if (entry.is_null()) break;
                if (!entry.is_array()) return type_error(at, "array or null", entry);
                PVF_CHECK(check_entries(entry, at));
                PVF_CHECK(budget.take_readings(entry.size(), at));
                std::vector<std::optional<double>> values;
                values.reserve(entry.size());
                for (std::size_t k = 0; k < entry.size(); ++k) {
                    PVF_TRY(auto v, read_optional_number(entry[k], {at, k}));
                    values.push_back(v);
                }
                sample.arrays.emplace(name, std::move(values));
                break;
            }
            case PointShape::state: {
                if (entry.is_null()) break;
                if (!entry.is_string()) return type_error(at, "string or null", entry);
                PVF_TRY(sample.state, read_enum(entry, at, domain::kInverterStateNames));
                break;
            }
            case PointShape::event_list: {
                if (entry.is_null()) break;
                if (!entry.is_array()) return type_error(at, "array or null", entry);
                PVF_CHECK(check_entries(entry, at));
                PVF_CHECK(budget.take_readings(entry.size(), at));
                for (std::size_t k = 0; k < entry.size(); ++k) {
                    PVF_TRY(auto ev, read_nonempty(entry[k], {at, k}, 64));
                    sample.events.push_back(std::move(ev));
                }
                break;
            }
        }
    }
    return {};
}

Result<std::vector<domain::Sample>> read_device_block(const json& block, const Path& path, BatchBudget& budget) {
    if (!block.is_object()) return type_error(path, "object", block);
    PVF_TRY(std::string device_id, need(block, "device_id", path, read_device_id));
    PVF_TRY(TimePoint t0, need(block, "t0", path, read_time));
    PVF_TRY(const json* dt, need_array(block, "dt", path));
    const Path dt_path(path, "dt");
    if (dt->empty()) return Error::at(dt_path.str(), "must not be empty");
    // Before anything is allocated for them.
    PVF_CHECK(budget.take_samples(dt->size(), dt_path));
    std::vector<domain::Sample> samples(dt->size());
    TimePoint t = t0;
    for (std::size_t i = 0; i < dt->size(); ++i) {
        const json& d = (*dt)[i];
        const Path at(dt_path, i);
        if (d.is_number_integer() && !d.is_number_unsigned()) {
            return Error::at(at.str(), "negative delta " + std::to_string(d.get<std::int64_t>()) +
                                     " (samples must be in time order)");
        }
        PVF_TRY(std::uint64_t delta, read_u64(d, at));
        if (delta > kMaxTimeMs || static_cast<std::uint64_t>(to_epoch_ms(t)) + delta > kMaxTimeMs) {
            return Error::at(at.str(), "timestamp after the year 3000");
        }
        t += Millis{static_cast<long long>(delta)};
        samples[i].device_id = device_id;
        samples[i].t = t;
    }
    PVF_TRY(const json* points, need_object(block, "points", path));
    const Path points_path(path, "points");
    if (points->size() > kMaxDevicePoints) {
        return Error::at(points_path.str(), std::to_string(points->size()) + " points, more than " + std::to_string(kMaxDevicePoints));
    }
    for (const auto& [name, column] : points->items()) {
        const Path at(points_path, name);
        PVF_TRY(PointShape shape, shape_of(name, at));
        PVF_CHECK(read_column(name, shape, column, at, samples, budget));
    }
    return samples;
}

Result<TelemetryBatch> telemetry_body(const json& root, std::string site) {
    TelemetryBatch m;
    m.site_id = std::move(site);
    PVF_TRY(m.seq, need(root, "seq", "", read_seq));
    if (const json* h = optional_field(root, "historical")) { PVF_TRY(m.historical, read_bool(*h, "historical")); }
    PVF_TRY(m.sent_at, need(root, "sent_at", "", read_time));
    if (const json* r = optional_field(root, "resolution_s")) {
        PVF_TRY(std::uint64_t res, read_u64(*r, "resolution_s"));
        if (res == 0 || res > 86400) return Error::at("resolution_s", std::to_string(res) + " is outside 1..86400");
        m.resolution_s = static_cast<std::uint32_t>(res);
    }
    if (const json* a = optional_field(root, "aggregate")) { PVF_TRY(m.aggregate, read_bool(*a, "aggregate")); }
    if (m.aggregate && !m.resolution_s) return Error::at("resolution_s", "required when aggregate is true");
    PVF_TRY(const json* devices, need_array(root, "devices", ""));
    const Path devices_path = "devices";
    if (devices->size() > kMaxBatchDevices) {
        return Error::at(devices_path.str(), std::to_string(devices->size()) + " device blocks, more than " + std::to_string(kMaxBatchDevices));
    }
    BatchBudget budget;
    std::vector<std::string> seen;
    for (std::size_t i = 0; i < devices->size(); ++i) {
        const Path at(devices_path, i);
        PVF_TRY(auto samples, read_device_block((*devices)[i], at, budget));
        const std::string& id = samples.front().device_id;
        if (std::find(seen.begin(), seen.end(), id) != seen.end()) {
            return Error::at(Path(at, "device_id").str(), in_quotes(id) + " appears in more than one block");
        }
        seen.push_back(id);
        // The first block's vector becomes the batch's: most batches carry one device.
        if (m.samples.empty()) m.samples = std::move(samples);
        else std::move(samples.begin(), samples.end(), std::back_inserter(m.samples));
    }
    return m;
}

// ---- ticket events ----

Result<domain::EvidenceItem> read_evidence(const json& j, const Path& path) {
    if (!j.is_object()) return type_error(path, "object", j);
    domain::EvidenceItem e;
    PVF_TRY(e.name, need(j, "name", path, [](const json& v, const Path& p) { return read_nonempty(v, p); }));
    PVF_TRY(e.observed, need(j, "observed", path, read_number));
    if (const json* x = optional_field(j, "expected")) { PVF_TRY(e.expected, read_number(*x, {path, "expected"})); }
    if (const json* u = optional_field(j, "unit")) { PVF_TRY(e.unit, read_string(*u, {path, "unit"})); }
    PVF_TRY(e.t, need(j, "t", path, read_time));
    return e;
}

Result<domain::Ticket> read_ticket(const json& j, const Path& path) {
    domain::Ticket t;
    PVF_TRY(t.id, need(j, "id", path, [](const json& v, const Path& p) { return read_nonempty(v, p); }));
    PVF_TRY(t.device_id, need(j, "device_id", path, read_device_id));
    PVF_TRY(t.kind, need(j, "fault_kind", path, [](const json& v, const Path& p) {
                return read_enum(v, p, domain::kFaultKindNames);
            }));
    // Optional: per-input tickets name their input; messages from gateways before that have none.
    if (const json* x = optional_field(j, "input")) {
        const Path at(path, "input");
        PVF_TRY(auto input, read_u64(*x, at));
        if (input < 1 || input > static_cast<std::uint64_t>(domain::kMaxInput))
            return Error::at(at.str(), "expected an input number 1.." + std::to_string(domain::kMaxInput) + ", got " +
                                           std::to_string(input));
        t.input = static_cast<int>(input);
    }
    PVF_TRY(t.severity, need(j, "severity", path, [](const json& v, const Path& p) {
                return read_enum(v, p, domain::kSeverityNames);
            }));
    PVF_TRY(t.state, need(j, "state", path, [](const json& v, const Path& p) {
                return read_enum(v, p, domain::kTicketStateNames);
            }));
    PVF_TRY(t.summary, need(j, "summary", path, read_string));
    if (const json* ev = optional_field(j, "evidence")) {
        const Path at(path, "evidence");
        if (!ev->is_array()) return type_error(at, "array", *ev);
        for (std::size_t i = 0; i < ev->size(); ++i) {
            PVF_TRY(auto item, read_evidence((*ev)[i], {at, i}));
            t.evidence.push_back(std::move(item));
        }
    }
    PVF_TRY(t.opened_at, need(j, "opened_at", path, read_time));
    PVF_TRY(t.updated_at, need(j, "updated_at", path, read_time));
    if (const json* x = optional_field(j, "acknowledged_at")) { PVF_TRY(t.acknowledged_at, read_time(*x, {path, "acknowledged_at"})); }
    if (const json* x = optional_field(j, "acknowledged_by")) { PVF_TRY(t.acknowledged_by, read_string(*x, {path, "acknowledged_by"})); }
    if (const json* x = optional_field(j, "acknowledge_note")) { PVF_TRY(t.acknowledge_note, read_string(*x, {path, "acknowledge_note"})); }
    if (const json* x = optional_field(j, "resolved_at")) { PVF_TRY(t.resolved_at, read_time(*x, {path, "resolved_at"})); }
    if (const json* x = optional_field(j, "resolved_by")) { PVF_TRY(t.resolved_by, read_string(*x, {path, "resolved_by"})); }
    return t;
}

Result<TicketEventMessage> ticket_event_body(const json& root, std::string site) {
    TicketEventMessage m;
    m.site_id = std::move(site);
    PVF_TRY(m.seq, need(root, "seq", "", read_seq));
    if (const json* h = optional_field(root, "historical")) { PVF_TRY(m.historical, read_bool(*h, "historical")); }
    PVF_TRY(m.sent_at, need(root, "sent_at", "", read_time));
    PVF_TRY(m.event.kind, need(root, "event", "", [](const json& v, const Path& p) {
                return read_enum(v, p, domain::kTicketEventKindNames);
            }));
    PVF_TRY(m.event.at, need(root, "at", "", read_time));
    PVF_TRY(const json* ticket, need_object(root, "ticket", ""));
    PVF_TRY(m.event.ticket, read_ticket(*ticket, "ticket"));
    return m;
}

// ---- status ----

Result<StatusMessage> status_body(const json& root, std::string site) {
    StatusMessage m;
    m.site_id = std::move(site);
    PVF_TRY(m.state, need(root, "state", "", [](const json& v, const Path& p) {
                return read_enum(v, p, kSiteState);
            }));
    PVF_TRY(m.sent_at, need(root, "sent_at", "", read_time));
    PVF_TRY(m.agent_version, need(root, "agent_version", "", [](const json& v, const Path& p) {
                return read_nonempty(v, p, 64);
            }));
    const bool online = m.state == SiteState::online;
    // Online reports must be complete; an offline last will carries what was known at connect time.
    auto field = [&](const char* key) -> Result<const json*> {
        if (online) return required_field(root, key, "");
        return optional_field(root, key);
    };
    PVF_TRY(const json* uptime, field("uptime_s"));
    if (uptime) { PVF_TRY(m.uptime_s, read_u64(*uptime, "uptime_s")); }
    PVF_TRY(const json* backlog, field("backlog_depth"));
    if (backlog) { PVF_TRY(m.backlog_depth, read_u64(*backlog, "backlog_depth")); }
    if (const json* last = optional_field(root, "last_seq")) { PVF_TRY(m.last_seq, read_seq(*last, "last_seq")); }
    PVF_TRY(const json* config, field("config_version"));
    if (config) { PVF_TRY(m.config_version, read_nonempty(*config, "config_version", 64)); }
    PVF_TRY(const json* devices, field("devices"));
    if (devices) {
        if (!devices->is_array()) return type_error("devices", "array", *devices);
        const Path devices_path = "devices";
        for (std::size_t i = 0; i < devices->size(); ++i) {
            const json& d = (*devices)[i];
            const Path at(devices_path, i);
            if (!d.is_object()) return type_error(at, "object", d);
            DevicePollStatus s;
            PVF_TRY(s.device_id, need(d, "device_id", at, read_device_id));
            if (const json* x = optional_field(d, "last_ok_poll")) { PVF_TRY(s.last_ok_poll, read_time(*x, {at, "last_ok_poll"})); }
            if (const json* w = optional_field(d, "wired_inputs")) {
                const Path wp(at, "wired_inputs");
                if (!w->is_array() || w->size() > static_cast<std::size_t>(domain::kMaxInput))
                    return Error::at(wp.str(), "expected an array of at most " + std::to_string(domain::kMaxInput) +
                                                   " input numbers");
                for (std::size_t k = 0; k < w->size(); ++k) {
                    PVF_TRY(auto input, read_u64((*w)[k], {wp, k}));
                    if (input < 1 || input > static_cast<std::uint64_t>(domain::kMaxInput))
                        return Error::at(Path(wp, k).str(), "expected an input number 1.." +
                                                                std::to_string(domain::kMaxInput));
                    s.wired_inputs.push_back(static_cast<int>(input));
                }
            }
            m.devices.push_back(std::move(s));
        }
    }
    if (const json* q = optional_field(root, "quota")) {
        if (!q->is_object()) return type_error("quota", "object", *q);
        QuotaReport r;
        PVF_TRY(r.downsampled_samples, need(*q, "downsampled_samples", "quota", read_u64));
        PVF_TRY(r.dropped_samples, need(*q, "dropped_samples", "quota", read_u64));
        if (const json* x = optional_field(*q, "downsampled_before")) { PVF_TRY(r.downsampled_before, read_time(*x, "quota/downsampled_before")); }
        m.quota = r;
    }
    return m;
}

// ---- commands ----

Result<std::string> read_command_id(const json& j, const Path& path) {
    PVF_TRY(std::string id, read_string(j, path));
    if (!is_valid_command_id(id)) return Error::at(path.str(), in_quotes(id) + " is not a valid command id");
    return id;
}

Result<CommandType> read_command_type(const json& j, const Path& path) {
    return read_enum(j, path, kCommandType);
}

template <class T>
Result<T> ticket_args(const json& args) {
    T c;
    auto nonempty = [](const json& v, const Path& p) { return read_nonempty(v, p); };
    PVF_TRY(c.ticket_id, need(args, "ticket_id", "args", nonempty));
    PVF_TRY(c.by, need(args, "by", "args", nonempty));
    if (const json* n = optional_field(args, "note")) { PVF_TRY(c.note, read_string(*n, "args/note")); }
    return c;
}

Result<CommandBody> command_args(CommandType type, const json& args) {
    switch (type) {
        case CommandType::ack_ticket: {
            PVF_TRY(auto c, ticket_args<AckTicketCommand>(args));
            return CommandBody{std::move(c)};
        }
        case CommandType::resolve_ticket: {
            PVF_TRY(auto c, ticket_args<ResolveTicketCommand>(args));
            return CommandBody{std::move(c)};
        }
        case CommandType::set_config: {
            // The whole config, or a merge patch with the config_version the patched config gets.
            if (optional_field(args, "patch") == nullptr) {
                PVF_TRY(const json* config, need_object(args, "config", "args"));
                if (optional_field(args, "config_version") != nullptr)
                    return Error::at("args/config_version",
                                     "only with a patch (a whole config carries its own)");
                return CommandBody{SetConfigCommand{config->dump()}};
            }
            if (optional_field(args, "config") != nullptr)
                return Error::at("args", "either config or patch, not both");
            PVF_TRY(const json* patch, need_object(args, "patch", "args"));
            if (auto s = check_patch(*patch); !s) return s.error().under("args/patch");
            SetConfigCommand c;
            c.patch_json = patch->dump();
            PVF_TRY(c.config_version, need(args, "config_version", "args", [](const json& v, const Path& p) {
                        return read_nonempty(v, p, 64);
                    }));
            return CommandBody{std::move(c)};
        }
        case CommandType::resend: {
            ResendCommand c;
            PVF_TRY(c.from_seq, need(args, "from_seq", "args", read_seq));
            PVF_TRY(c.to_seq, need(args, "to_seq", "args", read_seq));
            if (c.to_seq < c.from_seq) {
                return Error::at("args/to_seq", std::to_string(c.to_seq) + " is below from_seq " + std::to_string(c.from_seq));
            }
            return CommandBody{c};
        }
        case CommandType::probe: {
            PVF_TRY(auto device, need(args, "device_id", "args", read_device_id));
            return CommandBody{ProbeCommand{std::move(device)}};
        }
        case CommandType::update: {
            UpdateCommand c;
            auto text = [](const json& v, const Path& p) { return read_nonempty(v, p, 2048); };
            PVF_TRY(c.version, need(args, "version", "args", text));
            PVF_TRY(c.url, need(args, "url", "args", text));
            PVF_TRY(c.sha256, need(args, "sha256", "args", text));
            PVF_TRY(c.size, need(args, "size", "args", read_u64));
            PVF_TRY(c.signature, need(args, "signature", "args", text));
            PVF_CHECK(check_update(c));
            return CommandBody{std::move(c)};
        }
        case CommandType::log_bundle: {
            LogBundleCommand c;
            PVF_TRY(const std::uint64_t hours, need(args, "hours", "args", read_u64));
            if (hours < LogBundleCommand::kMinHours || hours > LogBundleCommand::kMaxHours)
                return Error::at("args/hours", "expected 1..168, got " + std::to_string(hours));
            c.hours = static_cast<std::uint32_t>(hours);
            if (const json* m = optional_field(args, "max_bytes")) {
                PVF_TRY(c.max_bytes, read_u64(*m, "args/max_bytes"));
            }
            auto url = [](const json& v, const Path& p) { return read_nonempty(v, p, 2048); };
            PVF_TRY(c.upload_url, need(args, "upload_url", "args", url));
            PVF_CHECK(check_log_bundle(c));
            return CommandBody{std::move(c)};
        }
    }
    return Error::at("command", "unhandled command type");
}

Result<Command> command_body(const json& root, std::string site) {
    Command m;
    m.site_id = std::move(site);
    PVF_TRY(m.command_id, need(root, "command_id", "", read_command_id));
    PVF_TRY(m.issued_at, need(root, "issued_at", "", read_time));
    if (const json* x = optional_field(root, "expires_at")) { PVF_TRY(m.expires_at, read_time(*x, "expires_at")); }
    PVF_TRY(CommandType type, need(root, "command", "", read_command_type));
    PVF_TRY(const json* args, need_object(root, "args", ""));
    PVF_TRY(m.body, command_args(type, *args));
    return m;
}

Result<CommandAck> command_ack_body(const json& root, std::string site) {
    CommandAck m;
    m.site_id = std::move(site);
    PVF_TRY(m.command_id, need(root, "command_id", "", read_command_id));
    PVF_TRY(m.command, need(root, "command", "", read_command_type));
    PVF_TRY(m.status, need(root, "status", "", [](const json& v, const Path& p) {
                return read_enum(v, p, kAckStatus);
            }));
    PVF_TRY(m.at, need(root, "at", "", read_time));
    if (const json* d = optional_field(root, "detail")) { PVF_TRY(m.detail, read_string(*d, "detail")); }
    return m;
}

// Parses, checks version, kind and site id, then hands the object to the body reader.
template <class T, class Body>
Result<T> decode_as(std::string_view payload, MessageKind expected, Body body) {
    try {
        PVF_TRY(json root, parse_json(payload));
        PVF_CHECK(check_version(root));
        PVF_TRY(MessageKind kind, read_kind(root));
        if (kind != expected) {
            return Error::at("kind", "expected " + in_quotes(to_string(expected)) + ", got " + in_quotes(to_string(kind)));
        }
        PVF_TRY(std::string site, read_site_id(root));
        return body(root, std::move(site));
    } catch (const json::exception& e) {
        // Every access above is type-checked first; reaching this is a codec bug, still not a crash.
        return Error::at("payload", std::string("unexpected decoder failure: ") + e.what());
    }
}

}  // namespace

Result<TelemetryBatch> decode_telemetry(std::string_view payload) {
    return decode_as<TelemetryBatch>(payload, MessageKind::telemetry, telemetry_body);
}
Result<TicketEventMessage> decode_ticket_event(std::string_view payload) {
    return decode_as<TicketEventMessage>(payload, MessageKind::ticket_event, ticket_event_body);
}
Result<StatusMessage> decode_status(std::string_view payload) {
    return decode_as<StatusMessage>(payload, MessageKind::status, status_body);
}
Status check_config_patch(std::string_view patch_json) {
    const json patch = json::parse(patch_json, nullptr, false);
    if (patch.is_discarded()) return Error{"not JSON"};
    return check_patch(patch);
}

Result<Command> decode_command(std::string_view payload) {
    return decode_as<Command>(payload, MessageKind::command, command_body);
}
Result<CommandAck> decode_command_ack(std::string_view payload) {
    return decode_as<CommandAck>(payload, MessageKind::command_ack, command_ack_body);
}

Result<Message> decode(std::string_view payload) {
    try {
        PVF_TRY(json root, parse_json(payload));
        PVF_CHECK(check_version(root));
        PVF_TRY(MessageKind kind, read_kind(root));
        PVF_TRY(std::string site, read_site_id(root));
        auto wrap = [](auto r) -> Result<Message> {
            if (!r) return r.error();
            return Message{std::move(r).value()};
        };
        switch (kind) {
            case MessageKind::telemetry: return wrap(telemetry_body(root, std::move(site)));
            case MessageKind::ticket_event: return wrap(ticket_event_body(root, std::move(site)));
            case MessageKind::status: return wrap(status_body(root, std::move(site)));
            case MessageKind::command: return wrap(command_body(root, std::move(site)));
            case MessageKind::command_ack: return wrap(command_ack_body(root, std::move(site)));
        }
        return Error::at("kind", "unhandled message kind");
    } catch (const json::exception& e) {
        return Error::at("payload", std::string("unexpected decoder failure: ") + e.what());
    }
}

Result<Message> decode_for_topic(std::string_view topic, std::string_view payload) {
    PVF_TRY(TopicRef ref, parse_topic(topic));
    PVF_TRY(Message m, decode(payload));
    if (kind_of(m) != ref.kind) {
        return Error::at("kind", in_quotes(to_string(kind_of(m))) + " payload on a " + in_quotes(info(ref.kind).topic_suffix) + " topic");
    }
    if (site_of(m) != ref.site_id) {
        return Error::at("site_id", in_quotes(site_of(m)) + " does not match the topic's site " + in_quotes(ref.site_id));
    }
    return m;
}

MessageKind kind_of(const Message& m) { return static_cast<MessageKind>(m.index()); }

const std::string& site_of(const Message& m) {
    return std::visit([](const auto& message) -> const std::string& { return message.site_id; }, m);
}

}  // namespace pvfleet::protocol
