#pragma once
// The part of the config lifecycle that needs no running agent (docs/protocol.md, docs/site-config.md):
// checking a pushed config, ordering set_configs, installing the config file atomically and rolling it back.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::agent {

// A set_config's config against the running one: parsed like the config file (relative paths from the
// running config file's folder; every error with its key path) and refused when it names another site.
// The result carries the running config's `config_file`.
Result<SiteConfig> check_pushed_config(std::string_view config_json, const SiteConfig& running);

// The first config of a gateway in commissioning (no config file yet, docs/local-ui.md): parsed like the
// config file would be at `file` (relative paths from its folder; every error with its key path), any site
// id, and its register maps checked (check_register_maps). The result carries `file` as its `config_file`.
Result<SiteConfig> check_first_config(std::string_view config_json, const std::filesystem::path& file);

// A set_config's merge patch (RFC 7396, docs/protocol.md) over the text of the current config file: the
// file's JSON object with the patch merged in and `config_version` set, as JSON text in the file's key order
// (new keys last). The result is checked like a whole pushed config afterwards (check_pushed_config).
// Errors: the file's text is not a JSON object, the patch is not one.
Result<std::string> apply_config_patch(std::string_view file_text, std::string_view patch_json,
                                       const std::string& config_version);

// A set_config issued before the one applied last is stale: commands that crossed in flight never roll the
// site back. The same instant is not stale (a retry of the applied one is answered `duplicate` by its id).
bool is_stale_config(TimePoint issued_at, std::optional<TimePoint> last_applied);

// The store key under which the applied set_config's issued_at is kept (epoch milliseconds as text).
inline constexpr std::string_view kAppliedConfigIssuedAtKey = "set_config:issued_at";
std::string encode_issued_at(TimePoint t);
std::optional<TimePoint> decode_issued_at(std::string_view text);

// `file` + ".new" and + ".prev".
std::filesystem::path new_config_path(const std::filesystem::path& file);
std::filesystem::path previous_config_path(const std::filesystem::path& file);

// Replaces `file` with `text` so that a power cut at any moment leaves either the old or the new config:
// writes FILE.new and fsyncs it, keeps a synced copy of the current FILE as FILE.prev, renames FILE.new over
// FILE and fsyncs the folder. On failure FILE is unchanged.
Status install_config_file(const std::filesystem::path& file, std::string_view text);
// Writes the first config file of a gateway: FILE.new written and fsynced, renamed to FILE, the folder fsynced.
// Refused when FILE exists (install_config_file replaces a config; this one only creates).
Status install_first_config_file(const std::filesystem::path& file, std::string_view text);
// Puts FILE.prev back as FILE (atomic rename, folder fsynced): the rollback when the new config cannot start.
Status restore_previous_config_file(const std::filesystem::path& file);
}  // namespace pvfleet::agent
