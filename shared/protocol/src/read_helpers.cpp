// The codec's JSON readers and payload parsing: type and range checks that name the offending field's path.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <iterator>
#include <utility>
#include <vector>

#include "codec_detail.hpp"
#include "framing.hpp"

namespace pvfleet::protocol::detail {
namespace {

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

// Levels of arrays and objects, the value itself included.
int nesting(const json& j) {
    if (!j.is_structured()) return 0;
    int deepest = 0;
    for (const auto& v : j) deepest = std::max(deepest, nesting(v));
    return deepest + 1;
}

}  // namespace

std::string sub(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "/" + std::string(key);
}
std::string sub(const std::string& path, std::size_t index) { return sub(path, std::to_string(index)); }

std::string in_quotes(std::string_view s) { return "'" + std::string(s) + "'"; }

Status check_update(const UpdateCommand& c) {
    const auto all_of = [](std::string_view s, auto pred) {
        return std::all_of(s.begin(), s.end(), [&](char ch) { return pred(static_cast<unsigned char>(ch)); });
    };
    if (c.version.empty() || c.version.size() > 64 ||
        !all_of(c.version, [](unsigned char ch) { return std::isalnum(ch) || ch == '.' || ch == '+' || ch == '~' || ch == '-' || ch == ':'; }))
        return Error::at("args/version", in_quotes(c.version) + " is not a package version");
    if (c.url.rfind("https://", 0) != 0 || c.url.size() > 2048 || !all_of(c.url, [](unsigned char ch) { return ch > ' ' && ch < 127; }))
        return Error::at("args/url", "must be an https:// URL of at most 2048 printable characters");
    if (c.sha256.size() != 64 || !all_of(c.sha256, [](unsigned char ch) { return std::isdigit(ch) || (ch >= 'a' && ch <= 'f'); }))
        return Error::at("args/sha256", "must be 64 lower-case hex digits");
    if (c.size == 0 || c.size > (std::uint64_t{1} << 30)) return Error::at("args/size", "must be 1 byte .. 1 GiB");
    if (c.signature.size() != 88) return Error::at("args/signature", "must be the base64 of a 64-byte Ed25519 signature");
    return {};
}

Status check_patch(const json& patch) {
    if (!patch.is_object()) return Error{"expected a JSON object"};
    for (const char* key : {"site_id", "config_version"}) {
        if (!patch.contains(key)) continue;
        return Error::at(key, std::string_view(key) == "site_id"
                                  ? "may not be changed by a fleet patch"
                                  : "set by the command's config_version, not inside the patch");
    }
    // A command carries the patch two levels down (the payload, its args), within the decoder's bound.
    if (nesting(patch) > kMaxJsonDepth - 2)
        return Error{"nested deeper than " + std::to_string(kMaxJsonDepth - 2) + " levels"};
    if (const auto size = patch.dump().size(); size > kMaxConfigPatchBytes)
        return Error{std::to_string(size) + " bytes exceeds the " + std::to_string(kMaxConfigPatchBytes) +
                     "-byte limit"};
    return {};
}

Status check_patch_config_version(const std::string& version) {
    if (version.empty() || version.size() > 64)
        return Error::at("args/config_version", "must be 1..64 bytes");
    return {};
}

Status check_log_bundle(const LogBundleCommand& c) {
    if (c.hours < LogBundleCommand::kMinHours || c.hours > LogBundleCommand::kMaxHours)
        return Error::at("args/hours", "expected 1..168, got " + std::to_string(c.hours));
    if (c.max_bytes < LogBundleCommand::kMinBytes || c.max_bytes > LogBundleCommand::kMaxBytes)
        return Error::at("args/max_bytes", "expected 65536..16777216, got " + std::to_string(c.max_bytes));
    const bool printable = std::all_of(c.upload_url.begin(), c.upload_url.end(), [](char ch) {
        return static_cast<unsigned char>(ch) > ' ' && static_cast<unsigned char>(ch) < 127;
    });
    if (c.upload_url.rfind("https://", 0) != 0 || c.upload_url.size() > 2048 || !printable)
        return Error::at("args/upload_url", "must be an https:// URL of at most 2048 printable characters");
    return {};
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

Error type_error(const Path& path, std::string_view expected, const json& got) {
    return Error::at(path.str(), "expected " + std::string(expected) + ", got " + std::string(type_name(got)));
}

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

Result<std::string> read_nonempty(const json& j, const Path& path, std::size_t max_length) {
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

namespace {

bool is_vendor_point(std::string_view name) {
    if (!name.starts_with(kVendorPointPrefix) || name.size() == kVendorPointPrefix.size() || name.size() > 64) return false;
    for (char c : name) {
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

}  // namespace

Result<PointShape> shape_of(std::string_view name, const Path& path) {
    if (const auto* p = domain::find_point(name)) return p->shape;
    if (is_vendor_point(name)) return PointShape::scalar;
    return Error::at(path.str(), "unknown point (not canonical and no valid '" + std::string(kVendorPointPrefix) +
                               "' vendor prefix)");
}

// ---- parsing the payload ----

namespace {

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

}  // namespace

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

}  // namespace pvfleet::protocol::detail
