#pragma once
// Remote diagnostics (docs/updates.md, "Remote diagnostics"): the back office asks a gateway for a log bundle
// — its state summary and the last hours of its journal — which the gateway uploads over HTTPS. Each bundle
// gets an id ("lb-" and 16 hex digits) that is also its command's id and its file's name
// (<diagnostics.dir>/<id>.json: never a name from a request), and an upload link with an expiring HMAC token
// bound to the bundle, its site and its size limit (like a release's download link: releases::link_token,
// with a key of its own). One upload per bundle. A bundle's state: requested, received, or failed (the
// gateway's ack said so, the command could not be sent, or the link expired without an upload). Bundles older
// than the retention are deleted with their files. Table `log_bundles`.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/releases/releases.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::diagnostics {

struct Settings {
    std::filesystem::path dir;  // <id>.json, link.key
    std::string public_url;     // https://HOST[:PORT] the gateways upload to
    std::chrono::seconds link_lifetime{std::chrono::hours(24)};
    std::chrono::hours retention{24 * 30};
};

enum class BundleState { requested, received, failed };
std::string_view to_string(BundleState s);

struct LogBundle {
    std::string id;
    std::string site_id;
    BundleState state = BundleState::requested;
    std::uint32_t hours = 24;
    std::uint64_t max_bytes = protocol::LogBundleCommand::kDefaultBytes;
    std::optional<std::uint64_t> size;  // bytes, once received
    std::string detail;                 // the gateway's ack or why it failed
    std::string requested_by;
    TimePoint requested_at{};
    TimePoint expires_at{};  // of the upload link
    std::optional<TimePoint> received_at;
};

struct Runtime {
    Settings settings;
    releases::LinkKey link_key;  // <dir>/link.key
};
// Makes the folder and loads (or makes) the link key.
Result<std::shared_ptr<Runtime>> load_runtime(Settings settings);

bool valid_bundle_id(std::string_view id);

// ---- links ----
std::string upload_url(const Runtime& rt, const std::string& id, const std::string& site,
                       std::uint64_t max_bytes, TimePoint expires);
// Whether the link's parameters are genuine and unexpired (constant-time comparison).
bool upload_link_valid(const Runtime& rt, const std::string& id, std::string_view site,
                       std::string_view max_bytes, std::string_view expires, std::string_view token,
                       TimePoint now);
// The HTTP transport's body limit for a request line (HttpServerOptions::body_limit_for): the link's size
// limit for an upload to a genuine, unexpired link; 0 (the transport's default) for anything else.
std::size_t upload_body_limit(const Runtime& rt, TimePoint now, std::string_view method,
                              std::string_view target);

// ---- bundles ----
struct Requested {
    LogBundle bundle;
    protocol::Command command;  // to send; its id is the bundle's
};
// A new bundle for `site` (it must be a known site: not_found otherwise), its row written and audited, and
// the command that asks the gateway for it. hours 1..168, max_bytes 64 KiB..16 MiB (errors name them).
Result<Requested> request_bundle(storage::Db& db, const Runtime& rt, const std::string& site,
                                 std::uint32_t hours, std::uint64_t max_bytes, const std::string& actor,
                                 TimePoint now);
// The command could not be sent: the bundle is failed with the reason.
Status mark_unsent(storage::Db& db, const std::string& id, const std::string& reason);

// Stores the upload of bundle `id` (its link checked by the caller): `file` (a body the transport spooled;
// moved, or copied across filesystems) or `body`. Refusals: not_found (no such bundle for that site),
// conflict (not waiting for an upload: received already, or failed), invalid with kind `rejected` when over
// its max_bytes. Nothing is left behind by a refusal.
Result<LogBundle> store_upload(storage::Db& db, const Runtime& rt, const std::string& id,
                               const std::string& site, const std::filesystem::path& file,
                               std::string_view body, TimePoint now);

// A site's bundles, newest first (at most 100), with their states as of `now`.
Result<std::vector<LogBundle>> list_bundles(storage::Db& db, const std::string& site, TimePoint now);
Result<std::optional<LogBundle>> get_bundle(storage::Db& db, const std::string& id, TimePoint now);
std::filesystem::path file_of(const Settings& settings, const LogBundle& b);
// The file name a download is offered as: pvfleet-log-bundle-<site>-<requested, UTC>.json.
std::string download_name(const LogBundle& b);

// Deletes bundles requested before now - retention, files first; returns how many.
Result<int> purge_expired(storage::Db& db, const Settings& settings, TimePoint now);

}  // namespace pvfleet::diagnostics
