// JSON codec of protocol v1. Decoding checks every field's presence, type and range and reports the first
// problem with its JSON path; docs/protocol.md is the specification this file implements.
#include "pvfleet/protocol/codec.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>

#include "framing.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/util/enum_names.hpp"

namespace pvfleet::protocol {
namespace {

// Ordered: encoded keys follow the documented order, and a set_config object reaches the edge with the
// producer's key order.
using json = nlohmann::ordered_json;
using domain::PointShape;

// Year 3000: far enough for any real timestamp, small enough that sums of two never overflow.
constexpr std::uint64_t kMaxTimeMs = 32503680000000ULL;
constexpr std::size_t kMaxIdLength = 128;

std::string sub(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "/" + std::string(key);
}
std::string sub(const std::string& path, std::size_t index) { return sub(path, std::to_string(index)); }

// The decoder's JSON path: a parent and one key or index, spelled out (as sub() spells it) only when an error is
// reported, so that a valid payload costs no path strings (it cost several allocations per array element). It
// refers to its parent and its text, never owns them: build it on the stack from longer-lived ones.
class Path {
public:
    Path(const char* root) : key_(root) {}          // NOLINT(google-explicit-constructor): "", "quota", ...
    Path(const std::string& root) : key_(root) {}   // NOLINT(google-explicit-constructor)
    Path(const Path& parent, std::string_view key) : parent_(&parent), key_(key) {}
    Path(const Path& parent, std::size_t index) : parent_(&parent), index_(index) {}
    // A temporary parent would dangle.
    Path(Path&& parent, std::string_view key) = delete;
    Path(Path&& parent, std::size_t index) = delete;

    std::string str() const {
        std::string key = index_ ? std::to_string(*index_) : std::string(key_);
        return parent_ ? sub(parent_->str(), key) : key;
    }

private:
    const Path* parent_ = nullptr;
    std::string_view key_;
    std::optional<std::size_t> index_;
};

std::string_view type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null: return "null";
        case json::value_t::boolean: return "boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned: return "integer";
        case json::value_t::number_float: return "number";
        case json::value_t::string: return "string";
        case json::value_t::array: return "array";
        case json::value_t::object: return "object";
        default: return "binary";
    }
}

Error type_error(const Path& path, std::string_view expected, const json& got) {
    return Error::at(path.str(), "expected " + std::string(expected) + ", got " + std::string(type_name(got)));
}

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

// A field that may be absent; JSON null counts as absent.
const json* optional_field(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
}

Result<const json*> required_field(const json& obj, const char* key, const Path& path) {
    auto it = obj.find(key);
    if (it == obj.end()) return Error::at(Path(path, key).str(), "missing required field");
    return &*it;
}

Result<std::uint64_t> read_u64(const json& j, const Path& path) {
    if (j.is_number_unsigned()) return j.get<std::uint64_t>();
    if (j.is_number_integer()) return Error::at(path.str(), "expected non-negative integer, got " + std::to_string(j.get<std::int64_t>()));
    return type_error(path, "integer", j);
}

Result<Seq> read_seq(const json& j, const Path& path) {
    PVF_TRY(auto v, read_u64(j, path));
    if (v == 0) return Error::at(path.str(), "must be at least 1");
    if (v > kMaxSeq) return Error::at(path.str(), std::to_string(v) + " exceeds the largest seq " + std::to_string(kMaxSeq));
    return v;
}

Status check_seq(Seq v, const std::string& path) {
    if (v == 0) return Error::at(path, "must be at least 1");
    if (v > kMaxSeq) return Error::at(path, std::to_string(v) + " exceeds the largest seq " + std::to_string(kMaxSeq));
    return {};
}

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

Result<TimePoint> read_time(const json& j, const Path& path) {
    if (!j.is_number_integer()) return type_error(path, "UTC timestamp in ms (integer)", j);
    if (!j.is_number_unsigned()) return Error::at(path.str(), "timestamp " + std::to_string(j.get<std::int64_t>()) + " is before 1970");
    const auto v = j.get<std::uint64_t>();
    if (v > kMaxTimeMs) return Error::at(path.str(), "timestamp " + std::to_string(v) + " is after the year 3000");
    return from_epoch_ms(static_cast<long long>(v));
}

Result<bool> read_bool(const json& j, const Path& path) {
    if (!j.is_boolean()) return type_error(path, "boolean", j);
    return j.get<bool>();
}

Result<std::string> read_string(const json& j, const Path& path) {
    if (!j.is_string()) return type_error(path, "string", j);
    return j.get<std::string>();
}

Result<std::string> read_nonempty(const json& j, const Path& path, std::size_t max_length = kMaxIdLength) {
    PVF_TRY(auto s, read_string(j, path));
    if (s.empty()) return Error::at(path.str(), "must not be empty");
    if (s.size() > max_length) return Error::at(path.str(), "longer than " + std::to_string(max_length) + " bytes");
    return s;
}

Result<double> read_number(const json& j, const Path& path) {
    if (!j.is_number()) return type_error(path, "number", j);
    const double v = j.get<double>();
    if (!std::isfinite(v)) return Error::at(path.str(), "number out of range");
    return v;
}

Result<std::string> read_device_id(const json& j, const Path& path) {
    PVF_TRY(auto s, read_string(j, path));
    if (!is_valid_device_id(s)) return Error::at(path.str(), in_quotes(s) + " is not a valid device id");
    return s;
}

bool is_valid_command_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                        c == '_' || c == '.' || c == ':';
        if (!ok) return false;
    }
    return true;
}

// A name from `names`; an unknown one is refused with the list of known names.
template <class E, std::size_t N>
Result<E> read_enum(const json& j, const Path& path, const EnumNames<E, N>& names) {
    PVF_TRY(auto s, read_string(j, path));
    if (auto v = enum_from_name(names, s)) return *v;
    return Error::at(path.str(), "unknown " + in_quotes(s) + " (expected " + enum_names_list(names) + ")");
}

// Required-field shorthands: read obj[key] with reader `fn`.
template <class Fn>
auto need(const json& obj, const char* key, const Path& path, Fn fn)
    -> decltype(fn(std::declval<const json&>(), std::declval<const Path&>())) {
    PVF_TRY(const json* field, required_field(obj, key, path));
    return fn(*field, Path(path, key));
}

Result<const json*> need_object(const json& obj, const char* key, const Path& path) {
    PVF_TRY(const json* field, required_field(obj, key, path));
    if (!field->is_object()) return type_error(Path(path, key), "object", *field);
    return field;
}

Result<const json*> need_array(const json& obj, const char* key, const Path& path) {
    PVF_TRY(const json* field, required_field(obj, key, path));
    if (!field->is_array()) return type_error(Path(path, key), "array", *field);
    return field;
}

// ---- enum text ----
constexpr EnumNames<SiteState, 2> kSiteState{{{SiteState::online, "online"}, {SiteState::offline, "offline"}}};
constexpr EnumNames<CommandType, 5> kCommandType{{{CommandType::ack_ticket, "ack_ticket"},
                                                  {CommandType::resolve_ticket, "resolve_ticket"},
                                                  {CommandType::set_config, "set_config"},
                                                  {CommandType::resend, "resend"},
                                                  {CommandType::probe, "probe"}}};
constexpr EnumNames<AckStatus, 6> kAckStatus{{{AckStatus::accepted, "accepted"},
                                              {AckStatus::done, "done"},
                                              {AckStatus::duplicate, "duplicate"},
                                              {AckStatus::stale, "stale"},
                                              {AckStatus::rejected, "rejected"},
                                              {AckStatus::failed, "failed"}}};

// ---- parsing the payload ----

// Rejects deep nesting before the JSON parser sees it, so hostile input cannot exhaust the stack anywhere.
Status check_depth(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '{' || c == '[') {
            if (++depth > kMaxJsonDepth) {
                return Error::at("payload", "JSON nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
            }
        } else if (c == '}' || c == ']') {
            --depth;
        }
    }
    return {};
}

// A SAX handler that builds the same DOM as json::parse (same values, same key order; of a repeated key, the last
// value in the place of the first) with each array and object allocated once, at its final size: values wait on
// a stack until their container closes. json::parse grows each container element by element, which was a fifth
// of the parse. Errors are thrown as json::parse throws them (nlohmann's parse_error or out_of_range).
class DomBuilder {
public:
    DomBuilder() {
        values_.reserve(32);
        keys_.reserve(16);
        open_.reserve(kMaxJsonDepth + 1);
    }
    bool null() { return add(nullptr); }
    bool boolean(bool v) { return add(v); }
    bool number_integer(json::number_integer_t v) { return add(v); }
    bool number_unsigned(json::number_unsigned_t v) { return add(v); }
    bool number_float(json::number_float_t v, const json::string_t& /*text*/) { return add(v); }
    bool string(json::string_t& v) { return add(std::move(v)); }
    bool binary(json::binary_t& v) { return add(json::binary(std::move(v))); }
    bool start_object(std::size_t /*unknown*/) {
        open_.push_back({values_.size(), keys_.size()});
        return true;
    }
    bool key(json::string_t& k) {
        keys_.push_back(std::move(k));
        return true;
    }
    bool end_object() {
        const auto [first, first_key] = open_.back();
        open_.pop_back();
        json object(json::value_t::object);
        auto& members = object.get_ref<json::object_t&>();
        members.reserve(values_.size() - first);
        for (std::size_t i = first; i < values_.size(); ++i) {
            auto& k = keys_[first_key + (i - first)];
            if (auto it = members.find(k); it != members.end()) it->second = std::move(values_[i]);
            else members.emplace_back(std::move(k), std::move(values_[i]));
        }
        values_.resize(first);
        keys_.resize(first_key);
        return add(std::move(object));
    }
    bool start_array(std::size_t /*unknown*/) {
        open_.push_back({values_.size(), keys_.size()});
        return true;
    }
    bool end_array() {
        const std::size_t first = open_.back().first;
        open_.pop_back();
        json array(json::value_t::array);
        auto& elements = array.get_ref<json::array_t&>();
        elements.reserve(values_.size() - first);
        std::move(values_.begin() + static_cast<std::ptrdiff_t>(first), values_.end(), std::back_inserter(elements));
        values_.resize(first);
        return add(std::move(array));
    }
    template <class Exception>
    bool parse_error(std::size_t /*position*/, const std::string& /*token*/, const Exception& e) {
        throw e;
    }
    // The parsed value, once sax_parse has returned.
    json take() { return std::move(values_.back()); }

private:
    template <class V>
    bool add(V&& v) {
        values_.emplace_back(std::forward<V>(v));
        return true;
    }

    std::vector<json> values_;         // values whose container has not closed yet, innermost last
    std::vector<json::string_t> keys_;  // their keys, for the objects among those containers
    std::vector<std::pair<std::size_t, std::size_t>> open_;  // per open container: its first value and key
};

Result<json> parse_json(std::string_view payload) {
    PVF_TRY(std::string_view text, unframe_view(payload));  // no copy of the text
    PVF_CHECK(check_depth(text));
    json root;
    try {
        DomBuilder builder;
        json::sax_parse(text.begin(), text.end(), &builder);  // strict: nothing may follow the value
        root = builder.take();
    } catch (const json::parse_error& e) {
        return Error::at("payload", "invalid JSON at byte " + std::to_string(e.byte));
    } catch (const json::out_of_range& e) {
        // nlohmann refuses numbers beyond double range ("number overflow parsing '1e999'") without a position.
        const std::string what = e.what();
        const auto quote = what.find('\'');
        return Error::at("payload", "number out of range" + (quote == std::string::npos ? std::string() : " (" + what.substr(quote) + ")"));
    }
    if (!root.is_object()) return type_error("payload", "JSON object", root);
    return root;
}

Status check_version(const json& root) {
    PVF_TRY(const json* v, required_field(root, "v", ""));
    if (!v->is_number_integer()) return type_error("v", "integer", *v);
    if (!v->is_number_unsigned() || v->get<std::uint64_t>() != static_cast<std::uint64_t>(kProtocolVersion)) {
        const std::string shown = v->is_number_unsigned() ? std::to_string(v->get<std::uint64_t>())
                                                          : std::to_string(v->get<std::int64_t>());
        return Error::at("v", "unsupported protocol version " + shown + " (expected " +
                                  std::to_string(kProtocolVersion) + ")");
    }
    return {};
}

Result<MessageKind> read_kind(const json& root) {
    PVF_TRY(std::string kind, need(root, "kind", "", read_string));
    std::string known;
    for (const auto& t : all_topics()) {
        if (t.payload_kind == kind) return t.kind;
        known += (known.empty() ? "" : ", ") + std::string(t.payload_kind);
    }
    return Error::at("kind", "unknown " + in_quotes(kind) + " (expected " + known + ")");
}

Result<std::string> read_site_id(const json& root) {
    PVF_TRY(std::string site, need(root, "site_id", "", read_string));
    if (!is_valid_site_id(site)) return Error::at("site_id", in_quotes(site) + " is not a valid site id");
    return site;
}

// ---- telemetry ----

// Where a point's column goes in the encoded output: canonical points in documentation order, vendor points after.
std::size_t point_rank(std::string_view name) {
    const auto all = domain::all_points();
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].name == name) return i;
    }
    return all.size();
}

bool is_vendor_point(std::string_view name) {
    if (!name.starts_with(kVendorPointPrefix) || name.size() == kVendorPointPrefix.size() || name.size() > 64) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

// The shape of a point name, or an error naming it when it is neither canonical nor a vendor extension.
Result<PointShape> shape_of(std::string_view name, const Path& path) {
    if (const auto* p = domain::find_point(name)) return p->shape;
    if (is_vendor_point(name)) return PointShape::scalar;
    return Error::at(path.str(), "unknown point (not canonical and no valid '" + std::string(kVendorPointPrefix) +
                               "' vendor prefix)");
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
            PVF_TRY(const json* config, need_object(args, "config", "args"));
            return CommandBody{SetConfigCommand{config->dump()}};
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

// ---- encoding ----

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

}  // namespace

std::string_view to_string(SiteState v) { return enum_name(kSiteState, v); }
std::string_view to_string(CommandType v) { return enum_name(kCommandType, v); }
std::string_view to_string(AckStatus v) { return enum_name(kAckStatus, v); }

namespace {
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
        json parsed = json::parse(config->config_json, nullptr, false);
        if (parsed.is_discarded() || !parsed.is_object()) return Error::at("args/config", "config_json is not a JSON object");
        args["config"] = std::move(parsed);
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

Result<TelemetryBatch> decode_telemetry(std::string_view payload) {
    return decode_as<TelemetryBatch>(payload, MessageKind::telemetry, telemetry_body);
}
Result<TicketEventMessage> decode_ticket_event(std::string_view payload) {
    return decode_as<TicketEventMessage>(payload, MessageKind::ticket_event, ticket_event_body);
}
Result<StatusMessage> decode_status(std::string_view payload) {
    return decode_as<StatusMessage>(payload, MessageKind::status, status_body);
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
