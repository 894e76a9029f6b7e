#pragma once
// Internals the protocol v1 codec's files share: the JSON readers and payload parsing (read_helpers.cpp) that
// decoding uses (decode.cpp), and the limits, path spelling, enum text and point shapes that encoding
// (encode.cpp) checks against too. Every reader checks type and range and reports the first problem with its
// JSON path.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "pvfleet/domain/points.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/util/enum_names.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::protocol::detail {

// Ordered: encoded keys follow the documented order, and a set_config object reaches the edge with the
// producer's key order.
using json = nlohmann::ordered_json;
using domain::PointShape;

// Year 3000: far enough for any real timestamp, small enough that sums of two never overflow.
inline constexpr std::uint64_t kMaxTimeMs = 32503680000000ULL;
inline constexpr std::size_t kMaxIdLength = 128;

std::string sub(const std::string& path, std::string_view key);
std::string sub(const std::string& path, std::size_t index);
std::string in_quotes(std::string_view s);
bool is_valid_command_id(std::string_view id);

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

Error type_error(const Path& path, std::string_view expected, const json& got);

// A field that may be absent; JSON null counts as absent.
const json* optional_field(const json& obj, const char* key);
Result<const json*> required_field(const json& obj, const char* key, const Path& path);

Result<std::uint64_t> read_u64(const json& j, const Path& path);
// An update command's arguments (errors name args/<member>).
Status check_update(const UpdateCommand& c);
// A set_config's merge patch (see check_config_patch); errors name the key inside the patch.
Status check_patch(const json& patch);
// A patch's config_version: 1..64 bytes.
Status check_patch_config_version(const std::string& version);
// A log_bundle command's arguments (errors name args/<member>).
Status check_log_bundle(const LogBundleCommand& c);
Result<Seq> read_seq(const json& j, const Path& path);
Result<TimePoint> read_time(const json& j, const Path& path);
Result<bool> read_bool(const json& j, const Path& path);
Result<std::string> read_string(const json& j, const Path& path);
Result<std::string> read_nonempty(const json& j, const Path& path, std::size_t max_length = kMaxIdLength);
Result<double> read_number(const json& j, const Path& path);
Result<std::string> read_device_id(const json& j, const Path& path);

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

Result<const json*> need_object(const json& obj, const char* key, const Path& path);
Result<const json*> need_array(const json& obj, const char* key, const Path& path);

// ---- enum text ----
inline constexpr EnumNames<SiteState, 2> kSiteState{{{SiteState::online, "online"}, {SiteState::offline, "offline"}}};
inline constexpr EnumNames<CommandType, 7> kCommandType{{{CommandType::ack_ticket, "ack_ticket"},
                                                         {CommandType::resolve_ticket, "resolve_ticket"},
                                                         {CommandType::set_config, "set_config"},
                                                         {CommandType::resend, "resend"},
                                                         {CommandType::probe, "probe"},
                                                         {CommandType::update, "update"},
                                                         {CommandType::log_bundle, "log_bundle"}}};
inline constexpr EnumNames<AckStatus, 6> kAckStatus{{{AckStatus::accepted, "accepted"},
                                                     {AckStatus::done, "done"},
                                                     {AckStatus::duplicate, "duplicate"},
                                                     {AckStatus::stale, "stale"},
                                                     {AckStatus::rejected, "rejected"},
                                                     {AckStatus::failed, "failed"}}};

// The shape of a point name, or an error naming it when it is neither canonical nor a vendor extension.
Result<PointShape> shape_of(std::string_view name, const Path& path);

// The payload's JSON object (plain or zlib-framed), parsed with bounded nesting.
Result<json> parse_json(std::string_view payload);
Status check_version(const json& root);
Result<MessageKind> read_kind(const json& root);
Result<std::string> read_site_id(const json& root);

}  // namespace pvfleet::protocol::detail
