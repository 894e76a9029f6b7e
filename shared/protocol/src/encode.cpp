// Encoding of protocol v1 payloads. It validates the rules the decoder checks, so a producer bug is caught
// where it is made; keys follow the order docs/protocol.md documents.
#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "codec_detail.hpp"
#include "framing.hpp"
#include "pvfleet/domain/points.hpp"

namespace pvfleet::protocol {
using namespace detail;
namespace {

Status check_seq(Seq v, const std::string& path) {
    if (v == 0) return Error::at(path, "must be at least 1");
    if (v > kMaxSeq) return Error::at(path, std::to_string(v) + " exceeds the largest seq " + std::to_string(kMaxSeq));
    return {};
}

Status check_site(const std::string& site) {
    if (!is_valid_site_id(site)) return Error::at("site_id", in_quotes(site) + " is not a valid site id");
    return {};
}

Status check_time(TimePoint t, const std::string& path) {
    const auto ms = to_epoch_ms(t);
    if (ms < 0 || static_cast<std::uint64_t>(ms) > kMaxTimeMs) {
        return Error::at(path, "timestamp " + std::to_string(ms) + " outside 1970..3000");
    }
    return {};
}

json time_json(TimePoint t) { return to_epoch_ms(t); }

// Integral values go out without ".0" (smaller and exact); non-finite values are not JSON and become null.
json number_json(double v) {
    if (!std::isfinite(v)) return nullptr;
    constexpr double kExactIntegers = 9007199254740992.0;  // 2^53
    if (v == std::trunc(v) && std::fabs(v) < kExactIntegers) return static_cast<std::int64_t>(v);
    return v;
}

Result<std::string> finish(const json& j, EncodeOptions options) {
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    if (options.compress) {
        text = deflate_payload(text);
        if (text.empty()) return Error::at("payload", "zlib compression failed", ErrorKind::io);
    }
    if (text.size() > kMaxPayloadBytes) {
        return Error::at("payload", std::to_string(text.size()) + " bytes exceeds the " +
                                        std::to_string(kMaxPayloadBytes) + "-byte limit");
    }
    return text;
}

json header(std::string_view kind, const std::string& site) {
    json j = json::object();
    j["v"] = kProtocolVersion;
    j["kind"] = kind;
    j["site_id"] = site;
    return j;
}

// Where a point's column goes in the encoded output: canonical points in documentation order, vendor points after.
std::size_t point_rank(std::string_view name) {
    const auto all = domain::all_points();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].name == name) return i;
    }
    return all.size();
}

Result<json> device_block(const std::vector<const domain::Sample*>& samples, const std::vector<std::size_t>& index) {
    const auto& first = *samples.front();
    json block = json::object();
    block["device_id"] = first.device_id;
    block["t0"] = time_json(first.t);
    json dt = json::array();
    TimePoint prev = first.t;
    std::vector<std::string> names;
    bool any_state = false;
    bool any_events = false;
    for (std::size_t i = 0; i < samples.size(); ++i) {
        const auto& s = *samples[i];
        const std::string at = sub("samples", index[i]);
        PVF_CHECK(check_time(s.t, sub(at, "t")));
        dt.push_back((s.t - prev).count());
        prev = s.t;
        for (const auto& [name, value] : s.values) {
            const std::string p = sub(sub(at, "values"), name);
            PVF_TRY(PointShape shape, shape_of(name, p));
            if (shape != PointShape::scalar) return Error::at(p, "not a scalar point");
            names.push_back(name);
        }
        for (const auto& [name, value] : s.arrays) {
            const std::string p = sub(sub(at, "arrays"), name);
            PVF_TRY(PointShape shape, shape_of(name, p));
            if (shape != PointShape::per_mppt && shape != PointShape::per_phase) {
                return Error::at(p, "not a per-MPPT or per-phase point");
            }
            names.push_back(name);
        }
        for (std::size_t k = 0; k < s.events.size(); ++k) {
            if (s.events[k].empty() || s.events[k].size() > 64) {
                return Error::at(sub(sub(at, "events"), k), "event names are 1..64 bytes");
            }
        }
        any_state = any_state || s.state.has_value();
        any_events = any_events || !s.events.empty();
    }
    block["dt"] = std::move(dt);
    std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
        const auto ra = point_rank(a);
        const auto rb = point_rank(b);
        return ra != rb ? ra < rb : a < b;
    });
    names.erase(std::unique(names.begin(), names.end()), names.end());
    json points = json::object();
    for (const auto& name : names) {
        json column = json::array();
        for (const auto* s : samples) {
            if (auto v = s->values.find(name); v != s->values.end()) {
                column.push_back(number_json(v->second));
            } else if (auto a = s->arrays.find(name); a != s->arrays.end()) {
                json entries = json::array();
                for (const auto& e : a->second) entries.push_back(e ? number_json(*e) : json(nullptr));
                column.push_back(std::move(entries));
            } else {
                column.push_back(nullptr);
            }
        }
        points[name] = std::move(column);
    }
    if (any_state) {
        json column = json::array();
        for (const auto* s : samples) column.push_back(s->state ? json(domain::to_string(*s->state)) : json(nullptr));
        points[std::string(domain::points::inverter_state)] = std::move(column);
    }
    if (any_events) {
        json column = json::array();
        for (const auto* s : samples) column.push_back(s->events);
        points[std::string(domain::points::events)] = std::move(column);
    }
    block["points"] = std::move(points);
    return block;
}

// The members a resend changes come first (telemetry_head() is this object's text without its closing brace).
json telemetry_envelope(const std::string& site_id, Seq seq, bool historical, TimePoint sent_at) {
    json j = header("telemetry", site_id);
    j["seq"] = seq;
    j["historical"] = historical;
    j["sent_at"] = time_json(sent_at);
    return j;
}

Result<json> telemetry_json(const TelemetryBatch& m) {
    PVF_CHECK(check_site(m.site_id));
    PVF_CHECK(check_seq(m.seq, "seq"));
    if (m.samples.size() > kMaxBatchSamples) {
        return Error::at("samples", std::to_string(m.samples.size()) + " samples, more than " + std::to_string(kMaxBatchSamples) + " in one batch");
    }
    PVF_CHECK(check_time(m.sent_at, "sent_at"));
    if (m.resolution_s && (*m.resolution_s == 0 || *m.resolution_s > 86400)) {
        return Error::at("resolution_s", std::to_string(*m.resolution_s) + " is outside 1..86400");
    }
    if (m.aggregate && !m.resolution_s) return Error::at("resolution_s", "required when aggregate is true");
    // Group by device in order of first appearance; time order within a device (stable for equal times).
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::size_t>> by_device;
    for (std::size_t i = 0; i < m.samples.size(); ++i) {
        const auto& id = m.samples[i].device_id;
        if (!is_valid_device_id(id)) {
            return Error::at(sub(sub("samples", i), "device_id"), in_quotes(id) + " is not a valid device id");
        }
        auto [it, inserted] = by_device.try_emplace(id);
        if (inserted) order.push_back(id);
        it->second.push_back(i);
    }
    json j = telemetry_envelope(m.site_id, m.seq, m.historical, m.sent_at);
    if (m.resolution_s) j["resolution_s"] = *m.resolution_s;
    if (m.aggregate) j["aggregate"] = true;
    json devices = json::array();
    for (const auto& id : order) {
        auto& index = by_device[id];
        std::stable_sort(index.begin(), index.end(), [&](std::size_t a, std::size_t b) { return m.samples[a].t < m.samples[b].t; });
        std::vector<const domain::Sample*> samples;
        for (auto i : index) samples.push_back(&m.samples[i]);
        PVF_TRY(json block, device_block(samples, index));
        devices.push_back(std::move(block));
    }
    j["devices"] = std::move(devices);
    return j;
}
}  // namespace

std::string_view to_string(SiteState v) { return enum_name(kSiteState, v); }
std::string_view to_string(CommandType v) { return enum_name(kCommandType, v); }
std::string_view to_string(AckStatus v) { return enum_name(kAckStatus, v); }

Result<std::string> encode(const TelemetryBatch& m, EncodeOptions options) {
    PVF_TRY(json j, telemetry_json(m));
    return finish(j, options);
}

std::string telemetry_head(const std::string& site_id, Seq seq, bool historical, TimePoint sent_at) {
    std::string text = telemetry_envelope(site_id, seq, historical, sent_at).dump(-1, ' ', false, json::error_handler_t::replace);
    text.pop_back();  // the closing brace: the batch's other members follow
    return text;
}

Result<ResendableTelemetry> encode_resendable(const TelemetryBatch& m) {
    PVF_TRY(json j, telemetry_json(m));
    const std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    ResendableTelemetry out;
    out.live = deflate_payload(text);
    if (out.live.empty()) return Error::at("payload", "zlib compression failed", ErrorKind::io);
    if (out.live.size() > kMaxPayloadBytes) {
        return Error::at("payload", std::to_string(out.live.size()) + " bytes exceeds the " +
                                        std::to_string(kMaxPayloadBytes) + "-byte limit");
    }
    const std::string head = telemetry_head(m.site_id, m.seq, m.historical, m.sent_at);
    if (text.starts_with(head)) out.stored = deflate_payload_split(text, head.size());
    if (out.stored.empty()) {
        out.stored = out.live;
    } else {
        out.rest = split_rest_of_text(std::string_view(text).substr(head.size()));
    }
    return out;
}

Result<std::string> encode(const TicketEventMessage& m, EncodeOptions options) {
    PVF_CHECK(check_site(m.site_id));
    PVF_CHECK(check_seq(m.seq, "seq"));
    PVF_CHECK(check_time(m.sent_at, "sent_at"));
    PVF_CHECK(check_time(m.event.at, "at"));
    const auto& t = m.event.ticket;
    if (t.id.empty() || t.id.size() > kMaxIdLength) return Error::at("ticket/id", "must be 1..128 bytes");
    if (!is_valid_device_id(t.device_id)) return Error::at("ticket/device_id", in_quotes(t.device_id) + " is not a valid device id");
    PVF_CHECK(check_time(t.opened_at, "ticket/opened_at"));
    PVF_CHECK(check_time(t.updated_at, "ticket/updated_at"));
    json j = header("ticket_event", m.site_id);
    j["seq"] = m.seq;
    j["historical"] = m.historical;
    j["sent_at"] = time_json(m.sent_at);
    j["event"] = domain::to_string(m.event.kind);
    j["at"] = time_json(m.event.at);
    json ticket = json::object();
    ticket["id"] = t.id;
    ticket["device_id"] = t.device_id;
    ticket["fault_kind"] = domain::to_string(t.kind);
    if (t.input) {
        if (*t.input < 1 || *t.input > domain::kMaxInput)
            return Error::at("ticket/input", "expected an input number 1.." + std::to_string(domain::kMaxInput) +
                                                 ", got " + std::to_string(*t.input));
        ticket["input"] = *t.input;
    }
    ticket["severity"] = domain::to_string(t.severity);
    ticket["state"] = domain::to_string(t.state);
    ticket["summary"] = t.summary;
    json evidence = json::array();
    for (std::size_t i = 0; i < t.evidence.size(); ++i) {
        const auto& e = t.evidence[i];
        const std::string at = sub("ticket/evidence", i);
        if (e.name.empty() || e.name.size() > kMaxIdLength) return Error::at(sub(at, "name"), "must be 1..128 bytes");
        if (!std::isfinite(e.observed)) return Error::at(sub(at, "observed"), "not a finite number");
        if (e.expected && !std::isfinite(*e.expected)) return Error::at(sub(at, "expected"), "not a finite number");
        PVF_CHECK(check_time(e.t, sub(at, "t")));
        json item = json::object();
        item["name"] = e.name;
        item["observed"] = number_json(e.observed);
        if (e.expected) item["expected"] = number_json(*e.expected);
        if (!e.unit.empty()) item["unit"] = e.unit;
        item["t"] = time_json(e.t);
        evidence.push_back(std::move(item));
    }
    ticket["evidence"] = std::move(evidence);
    ticket["opened_at"] = time_json(t.opened_at);
    ticket["updated_at"] = time_json(t.updated_at);
    if (t.acknowledged_at) {
        PVF_CHECK(check_time(*t.acknowledged_at, "ticket/acknowledged_at"));
        ticket["acknowledged_at"] = time_json(*t.acknowledged_at);
    }
    if (!t.acknowledged_by.empty()) ticket["acknowledged_by"] = t.acknowledged_by;
    if (!t.acknowledge_note.empty()) ticket["acknowledge_note"] = t.acknowledge_note;
    if (t.resolved_at) {
        PVF_CHECK(check_time(*t.resolved_at, "ticket/resolved_at"));
        ticket["resolved_at"] = time_json(*t.resolved_at);
    }
    if (!t.resolved_by.empty()) ticket["resolved_by"] = t.resolved_by;
    j["ticket"] = std::move(ticket);
    return finish(j, options);
}

Result<std::string> encode(const StatusMessage& m, EncodeOptions options) {
    PVF_CHECK(check_site(m.site_id));
    PVF_CHECK(check_time(m.sent_at, "sent_at"));
    if (m.agent_version.empty() || m.agent_version.size() > 64) return Error::at("agent_version", "must be 1..64 bytes");
    const bool online = m.state == SiteState::online;
    if (online) {
        if (!m.uptime_s) return Error::at("uptime_s", "required when online");
        if (!m.backlog_depth) return Error::at("backlog_depth", "required when online");
        if (!m.config_version) return Error::at("config_version", "required when online");
    }
    if (m.config_version && (m.config_version->empty() || m.config_version->size() > 64)) {
        return Error::at("config_version", "must be 1..64 bytes");
    }
    if (m.last_seq) PVF_CHECK(check_seq(*m.last_seq, "last_seq"));
    json j = header("status", m.site_id);
    j["state"] = to_string(m.state);
    j["sent_at"] = time_json(m.sent_at);
    j["agent_version"] = m.agent_version;
    if (m.uptime_s) j["uptime_s"] = *m.uptime_s;
    if (m.backlog_depth) j["backlog_depth"] = *m.backlog_depth;
    if (m.last_seq) j["last_seq"] = *m.last_seq;
    if (m.config_version) j["config_version"] = *m.config_version;
    if (online || !m.devices.empty()) {
        json devices = json::array();
        for (std::size_t i = 0; i < m.devices.size(); ++i) {
            const auto& d = m.devices[i];
            const std::string at = sub("devices", i);
            if (!is_valid_device_id(d.device_id)) return Error::at(sub(at, "device_id"), in_quotes(d.device_id) + " is not a valid device id");
            json dj = json::object();
            dj["device_id"] = d.device_id;
            if (d.last_ok_poll) {
                PVF_CHECK(check_time(*d.last_ok_poll, sub(at, "last_ok_poll")));
                dj["last_ok_poll"] = time_json(*d.last_ok_poll);
            } else {
                dj["last_ok_poll"] = nullptr;
            }
            if (!d.wired_inputs.empty()) {
                for (std::size_t k = 0; k < d.wired_inputs.size(); ++k) {
                    if (d.wired_inputs[k] < 1 || d.wired_inputs[k] > domain::kMaxInput || k >= 64)
                        return Error::at(sub(sub(at, "wired_inputs"), k),
                                         "expected an input number 1.." + std::to_string(domain::kMaxInput));
                }
                dj["wired_inputs"] = d.wired_inputs;
            }
            devices.push_back(std::move(dj));
        }
        j["devices"] = std::move(devices);
    }
    if (m.quota) {
        json q = json::object();
        q["downsampled_samples"] = m.quota->downsampled_samples;
        q["dropped_samples"] = m.quota->dropped_samples;
        if (m.quota->downsampled_before) {
            PVF_CHECK(check_time(*m.quota->downsampled_before, "quota/downsampled_before"));
            q["downsampled_before"] = time_json(*m.quota->downsampled_before);
        }
        j["quota"] = std::move(q);
    }
    return finish(j, options);
}

Result<std::string> encode(const Command& m, EncodeOptions options) {
    PVF_CHECK(check_site(m.site_id));
    if (!is_valid_command_id(m.command_id)) return Error::at("command_id", in_quotes(m.command_id) + " is not a valid command id");
    PVF_CHECK(check_time(m.issued_at, "issued_at"));
    json j = header("command", m.site_id);
    j["command_id"] = m.command_id;
    j["issued_at"] = time_json(m.issued_at);
    if (m.expires_at) {
        PVF_CHECK(check_time(*m.expires_at, "expires_at"));
        j["expires_at"] = time_json(*m.expires_at);
    }
    j["command"] = to_string(m.type());
    json args = json::object();
    auto ticket_fields = [&](const auto& c) -> Status {
        if (c.ticket_id.empty() || c.ticket_id.size() > kMaxIdLength) return Error::at("args/ticket_id", "must be 1..128 bytes");
        if (c.by.empty() || c.by.size() > kMaxIdLength) return Error::at("args/by", "must be 1..128 bytes");
        args["ticket_id"] = c.ticket_id;
        args["by"] = c.by;
        if (!c.note.empty()) args["note"] = c.note;
        return {};
    };
    if (const auto* ack = std::get_if<AckTicketCommand>(&m.body)) {
        PVF_CHECK(ticket_fields(*ack));
    } else if (const auto* resolve = std::get_if<ResolveTicketCommand>(&m.body)) {
        PVF_CHECK(ticket_fields(*resolve));
    } else if (const auto* config = std::get_if<SetConfigCommand>(&m.body)) {
        if (config->is_patch()) {
            if (!config->config_json.empty()) return Error::at("args", "either config or patch, not both");
            json parsed = json::parse(config->patch_json, nullptr, false);
            if (parsed.is_discarded() || !parsed.is_object())
                return Error::at("args/patch", "patch_json is not a JSON object");
            if (auto s = check_patch(parsed); !s) return s.error().under("args/patch");
            PVF_CHECK(check_patch_config_version(config->config_version));
            args["patch"] = std::move(parsed);
            args["config_version"] = config->config_version;
        } else {
            if (!config->config_version.empty())
                return Error::at("args/config_version", "only with a patch (a whole config carries its own)");
            json parsed = json::parse(config->config_json, nullptr, false);
            if (parsed.is_discarded() || !parsed.is_object())
                return Error::at("args/config", "config_json is not a JSON object");
            args["config"] = std::move(parsed);
        }
    } else if (const auto* resend = std::get_if<ResendCommand>(&m.body)) {
        PVF_CHECK(check_seq(resend->from_seq, "args/from_seq"));
        PVF_CHECK(check_seq(resend->to_seq, "args/to_seq"));
        if (resend->to_seq < resend->from_seq) {
            return Error::at("args/to_seq", std::to_string(resend->to_seq) + " is below from_seq " + std::to_string(resend->from_seq));
        }
        args["from_seq"] = resend->from_seq;
        args["to_seq"] = resend->to_seq;
    } else if (const auto* probe = std::get_if<ProbeCommand>(&m.body)) {
        if (!is_valid_device_id(probe->device_id)) return Error::at("args/device_id", in_quotes(probe->device_id) + " is not a valid device id");
        args["device_id"] = probe->device_id;
    } else if (const auto* update = std::get_if<UpdateCommand>(&m.body)) {
        PVF_CHECK(check_update(*update));
        args["version"] = update->version;
        args["url"] = update->url;
        args["sha256"] = update->sha256;
        args["size"] = update->size;
        args["signature"] = update->signature;
    } else if (const auto* bundle = std::get_if<LogBundleCommand>(&m.body)) {
        PVF_CHECK(check_log_bundle(*bundle));
        args["hours"] = bundle->hours;
        args["max_bytes"] = bundle->max_bytes;
        args["upload_url"] = bundle->upload_url;
    }
    j["args"] = std::move(args);
    return finish(j, options);
}

Result<std::string> encode(const CommandAck& m, EncodeOptions options) {
    PVF_CHECK(check_site(m.site_id));
    if (!is_valid_command_id(m.command_id)) return Error::at("command_id", in_quotes(m.command_id) + " is not a valid command id");
    PVF_CHECK(check_time(m.at, "at"));
    json j = header("command_ack", m.site_id);
    j["command_id"] = m.command_id;
    j["command"] = to_string(m.command);
    j["status"] = to_string(m.status);
    j["at"] = time_json(m.at);
    if (!m.detail.empty()) j["detail"] = m.detail;
    return finish(j, options);
}

Result<std::string> encode(const Message& m, EncodeOptions options) {
    return std::visit([&](const auto& message) { return encode(message, options); }, m);
}

}  // namespace pvfleet::protocol
