#pragma once
// Staged rollouts (docs/updates.md, "Rollouts" and "Fleet config") of two kinds: `software`, a gateway
// version (uploaded for each architecture it goes to), and `config`, a JSON merge patch of the site config
// with the config_version the patched configs get (a set_config command with a patch; each gateway merges it
// into its own config, checks, installs and rolls back a config that does not start). Both name a channel
// (the sites whose gateways follow `stable` or `candidate`) and stages: a cumulative percentage of the
// channel's sites (sites ordered by a hash of the rollout and the site, so each rollout picks another first
// 10 %) or a list of sites. Sites of a stage start after a random delay (0..start_delay_max_s), at most
// max_concurrent of them are in flight at once (downloading, or applying a config), and when more than
// max_failure_percent of a stage's sites failed or rolled back the rollout pauses itself. Each site's state,
// by kind:
//   software: pending → downloading → installing → healthy | rolled_back | failed
//   config:   pending → applying → applied | rolled_back | failed
// with the gateway's reason. Tables: rollouts, rollout_sites, site_update_settings (channel, architecture).
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/releases/releases.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::releases {

enum class Channel { stable, candidate };
enum class RolloutKind { software, config };
enum class RolloutState { running, paused, done, cancelled };
// A site's state in a rollout. pending, rolled_back and failed are both kinds'; downloading, installing and
// healthy are software's; applying (the set_config sent) and applied (acked done) are config's.
enum class SiteState { pending, downloading, installing, applying, healthy, applied, rolled_back, failed };
std::string_view to_string(Channel c);
std::string_view to_string(RolloutKind k);
std::string_view to_string(RolloutState s);
std::string_view to_string(SiteState s);
std::optional<Channel> channel_from(std::string_view s);
std::optional<RolloutKind> rollout_kind_from(std::string_view s);
std::optional<SiteState> site_state_from(std::string_view s);
// A site in this state is finished (it counts towards its stage's end): healthy, applied, rolled_back,
// failed.
bool is_final(SiteState s);

struct Stage {
    std::optional<int> percent;      // cumulative share of the channel's sites, 1-100
    std::vector<std::string> sites;  // or these sites (they need not follow the channel)
};

struct RolloutSpec {
    RolloutKind kind = RolloutKind::software;
    std::string version;         // software: the package version
    std::string patch_json;      // config: the merge patch, a JSON object (protocol::check_config_patch)
    std::string config_version;  // config: the patched configs' config_version
    Channel channel = Channel::stable;
    std::vector<Stage> stages;
    int max_failure_percent = 20;
    int max_concurrent = 20;  // sites downloading (software) or applying (config) at once
    int start_delay_max_s = 600;
};

struct StateCounts {
    std::int64_t pending = 0, downloading = 0, installing = 0, applying = 0, healthy = 0, applied = 0,
                 rolled_back = 0, failed = 0;
};

struct Rollout {
    std::int64_t id = 0;
    RolloutSpec spec;
    RolloutState state = RolloutState::running;
    int current_stage = 0;  // 0-based
    std::string pause_reason;
    TimePoint created_at{};
    std::string created_by;
    StateCounts counts;  // over all stages started so far
};

struct SiteUpdate {
    std::string site_id;
    int stage = 0;
    SiteState state = SiteState::pending;
    std::string reason;
    std::string command_id;
    TimePoint not_before{};
    std::string architecture;
    // What the site reported when its stage started: its agent version (software) or config_version (config).
    std::string from_version;
    TimePoint updated_at{};
};

// Checks the spec (errors name the member: version, patch/site_id, stages/1/percent …): software's version
// uploaded; config's patch an object with at least one key that protocol::check_config_patch takes and its
// config_version 1..64 bytes; stages non-empty with percentages rising, listed sites known, bounds on the
// numbers.
Status check_spec(storage::Db& db, const Settings& settings, const RolloutSpec& spec);
// Creates the rollout (audited) and starts its first stage. A running or paused rollout of the same channel
// and kind is a conflict.
Result<Rollout> create_rollout(storage::Db& db, const Settings& settings, const RolloutSpec& spec,
                               const std::string& actor, TimePoint now, std::mt19937_64& rng);
Result<std::vector<Rollout>> list_rollouts(storage::Db& db);
Result<std::optional<Rollout>> get_rollout(storage::Db& db, std::int64_t id);
Result<std::vector<SiteUpdate>> rollout_sites(storage::Db& db, std::int64_t id);

enum class Action { pause, resume, cancel };
// pause: running → paused; resume: paused → running (the failure count of the stage starts again from the
// sites still to finish); cancel: running/paused → cancelled (pending sites are not sent). Audited. Anything
// else is a conflict naming the current state.
Result<Rollout> act_on_rollout(storage::Db& db, std::int64_t id, Action action, const std::string& actor,
                               TimePoint now);

struct SiteUpdateSettings {
    std::string site_id;
    Channel channel = Channel::stable;
    std::string architecture;  // empty: not known (the rollout uses the version's only architecture)
};
Result<SiteUpdateSettings> get_site_update_settings(storage::Db& db, const std::string& site_id);
Status put_site_update_settings(storage::Db& db, const SiteUpdateSettings& s, const std::string& actor,
                                TimePoint now);

// What the API's routes and the server's rollout timer share (both on the HTTP thread).
struct Runtime {
    Settings settings;
    std::vector<release::PublicKey> keys;  // trusted for uploads
    LinkKey link_key;                      // signs download links
    std::mt19937_64 rng;
};
// Loads the keys (an error names keys_dir) and the link key (<dir>/link.key, made when absent).
Result<std::shared_ptr<Runtime>> load_runtime(Settings settings);

// ---- the engine ----
struct EngineParts {
    storage::Db& db;
    const Settings& settings;
    const LinkKey& link_key;
    // Sends an update or set_config command (records it in `commands`, publishes it); may be empty (nothing
    // is sent).
    std::function<Status(const protocol::Command&, const std::string& issued_by)> send_command;
    std::mt19937_64& rng;
    // A site sent its command that gives no final answer within this time is failed ("no answer"); a config
    // rollout's set_config expires then too, so a gateway given up on never applies it later.
    std::chrono::seconds site_deadline{std::chrono::hours(6)};
};
struct TickReport {
    int sent = 0, finished = 0, paused = 0, stages_started = 0, done = 0;
};
// One pass over the running rollouts of both kinds: sites' states from their commands' acks, the stage's
// failure share (pause), the next stage when one is finished, then commands (update or set_config) for due
// sites within the concurrency limit. Safe to call any time (the server calls it every few seconds and after
// each change).
Result<TickReport> tick(EngineParts& parts, TimePoint now);

// The state an update command's ack puts a site in (docs/protocol.md, "update"): accepted + "downloading…" /
// "installing…", done → healthy, failed with "rolled_back: …" → rolled_back, other failures → failed; nullopt
// leaves it as it is (sent, duplicate).
std::optional<SiteState> state_from_ack(std::string_view status, std::string_view detail);
// The state a command's ack puts a site in, by the rollout's kind. config (docs/protocol.md, "set_config"):
// done → applied, failed "config V2 did not start (…); config V1 restored" → rolled_back, other failures,
// rejected and stale → failed, duplicate "already done" / "already failed" (a redelivery answered after the
// first ack) → applied / failed; nullopt leaves it as it is.
std::optional<SiteState> state_from_ack(RolloutKind kind, std::string_view status, std::string_view detail);

}  // namespace pvfleet::releases
