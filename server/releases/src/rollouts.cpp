// Rollouts (software and config), their sites and the sites' update settings: checks, creation, the admin's
// actions, reads.
#include "pvfleet/releases/rollouts.hpp"

#include <nlohmann/json.hpp>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "rollout_detail.hpp"

namespace pvfleet::releases {
namespace {
using json = nlohmann::json;

constexpr const char* kRolloutColumns =
    "SELECT id, version, channel, stages, max_failure_percent, max_concurrent, start_delay_max_s, state, "
    "current_stage, pause_reason, created_at_ms, created_by, kind, patch, config_version FROM rollouts";

Rollout row_to_rollout(const storage::Row& r) {
    Rollout o;
    o.id = r.integer(0);
    o.spec.version = r.text(1);
    o.spec.channel = channel_from(r.text(2)).value_or(Channel::stable);
    o.spec.stages = detail::stages_from_json(r.text(3));
    o.spec.max_failure_percent = static_cast<int>(r.integer(4));
    o.spec.max_concurrent = static_cast<int>(r.integer(5));
    o.spec.start_delay_max_s = static_cast<int>(r.integer(6));
    o.state = detail::rollout_state_from(r.text(7)).value_or(RolloutState::paused);
    o.current_stage = static_cast<int>(r.integer(8));
    o.pause_reason = r.text(9);
    o.created_at = from_epoch_ms(r.integer(10));
    o.created_by = r.text(11);
    o.spec.kind = rollout_kind_from(r.text(12)).value_or(RolloutKind::software);
    o.spec.patch_json = r.text(13);
    o.spec.config_version = r.text(14);
    return o;
}

Status fill_counts(storage::Db& db, Rollout& o) {
    auto r = db.run("SELECT state, COUNT(*) FROM rollout_sites WHERE rollout_id = $1 GROUP BY state", {o.id});
    if (!r) return r.error();
    for (const auto& row : r->rows) {
        const auto n = row.integer(1);
        switch (site_state_from(row.text(0)).value_or(SiteState::failed)) {
            case SiteState::pending: o.counts.pending = n; break;
            case SiteState::downloading: o.counts.downloading = n; break;
            case SiteState::installing: o.counts.installing = n; break;
            case SiteState::applying:
                o.counts.applying = n;
                break;
            case SiteState::healthy: o.counts.healthy = n; break;
            case SiteState::applied:
                o.counts.applied = n;
                break;
            case SiteState::rolled_back: o.counts.rolled_back = n; break;
            case SiteState::failed: o.counts.failed = n; break;
        }
    }
    return {};
}

}  // namespace

std::string_view to_string(Channel c) {
    return c == Channel::stable ? "stable" : "candidate";
}
std::string_view to_string(RolloutKind k) {
    return k == RolloutKind::software ? "software" : "config";
}
std::string_view to_string(RolloutState s) {
    switch (s) {
        case RolloutState::running: return "running";
        case RolloutState::paused: return "paused";
        case RolloutState::done: return "done";
        case RolloutState::cancelled: return "cancelled";
    }
    return "?";
}
std::string_view to_string(SiteState s) {
    switch (s) {
        case SiteState::pending: return "pending";
        case SiteState::downloading: return "downloading";
        case SiteState::installing: return "installing";
        case SiteState::applying:
            return "applying";
        case SiteState::healthy: return "healthy";
        case SiteState::applied:
            return "applied";
        case SiteState::rolled_back: return "rolled_back";
        case SiteState::failed: return "failed";
    }
    return "?";
}
std::optional<Channel> channel_from(std::string_view s) {
    if (s == "stable") return Channel::stable;
    if (s == "candidate") return Channel::candidate;
    return std::nullopt;
}
std::optional<RolloutKind> rollout_kind_from(std::string_view s) {
    if (s == "software") return RolloutKind::software;
    if (s == "config") return RolloutKind::config;
    return std::nullopt;
}
std::optional<SiteState> site_state_from(std::string_view s) {
    for (auto v : {SiteState::pending, SiteState::downloading, SiteState::installing, SiteState::applying,
                   SiteState::healthy, SiteState::applied, SiteState::rolled_back, SiteState::failed})
        if (to_string(v) == s) return v;
    return std::nullopt;
}
bool is_final(SiteState s) {
    return s == SiteState::healthy || s == SiteState::applied || s == SiteState::rolled_back ||
           s == SiteState::failed;
}

Result<std::shared_ptr<Runtime>> load_runtime(Settings settings) {
    auto rt = std::make_shared<Runtime>();
    PVF_TRY(rt->keys, release::load_public_keys(settings.keys_dir));
    PVF_TRY(rt->link_key, load_or_make_link_key(settings.dir / "link.key"));
    rt->rng.seed(std::random_device{}());
    rt->settings = std::move(settings);
    return rt;
}

namespace {

// What a software rollout installs: a version uploaded. (The patch members stay empty.)
Status check_software(storage::Db& db, const Settings& settings, const RolloutSpec& spec) {
    if (!spec.patch_json.empty()) return Error::at("patch", "only for a config rollout");
    if (!spec.config_version.empty()) return Error::at("config_version", "only for a config rollout");
    if (!valid_version(spec.version)) return Error::at("version", "'" + spec.version + "' is not a package version");
    PVF_TRY(auto files, releases_of_version(db, settings.package, spec.version));
    if (files.empty())
        return Error::at("version", "no " + settings.package + " " + spec.version + " uploaded", ErrorKind::not_found);
    return {};
}

// What a config rollout sends: a patch every gateway can take (the gateways check the patched config).
Status check_config(const RolloutSpec& spec) {
    if (!spec.version.empty()) return Error::at("version", "only for a software rollout");
    if (auto s = protocol::check_config_patch(spec.patch_json); !s) return s.error().under("patch");
    const json patch = json::parse(spec.patch_json);
    if (patch.empty()) return Error::at("patch", "at least one key to change");
    if (spec.config_version.empty() || spec.config_version.size() > 64)
        return Error::at("config_version", "1..64 bytes");
    return {};
}

}  // namespace

Status check_spec(storage::Db& db, const Settings& settings, const RolloutSpec& spec) {
    PVF_CHECK(spec.kind == RolloutKind::software ? check_software(db, settings, spec) : check_config(spec));
    if (spec.stages.empty()) return Error::at("stages", "at least one stage");
    if (spec.stages.size() > 20) return Error::at("stages", "at most 20 stages");
    int last_percent = 0;
    for (std::size_t i = 0; i < spec.stages.size(); ++i) {
        const auto& st = spec.stages[i];
        const std::string at = "stages/" + std::to_string(i);
        if (!st.percent && st.sites.empty()) return Error::at(at + "/sites", "at least one site (or a percent instead)");
        if (st.percent && !st.sites.empty()) return Error::at(at, "either percent or sites");
        if (st.percent) {
            if (*st.percent < 1 || *st.percent > 100) return Error::at(at + "/percent", "1..100");
            if (*st.percent <= last_percent)
                return Error::at(at + "/percent", "percentages are cumulative and must rise (" +
                                                      std::to_string(last_percent) + " before)");
            last_percent = *st.percent;
        }
        if (st.sites.size() > 10000) return Error::at(at + "/sites", "at most 10000 sites");
        for (std::size_t k = 0; k < st.sites.size(); ++k) {
            PVF_TRY(auto found, db.run("SELECT 1 FROM sites WHERE site_id = $1", {st.sites[k]}));
            if (found.rows.empty())
                return Error::at(at + "/sites/" + std::to_string(k), "no site '" + st.sites[k] + "'", ErrorKind::not_found);
        }
    }
    if (spec.max_failure_percent < 0 || spec.max_failure_percent > 100)
        return Error::at("max_failure_percent", "0..100");
    if (spec.max_concurrent < 1 || spec.max_concurrent > 10000)
        return Error::at(spec.kind == RolloutKind::software ? "max_concurrent_downloads" : "max_concurrent",
                         "1..10000");
    if (spec.start_delay_max_s < 0 || spec.start_delay_max_s > 7 * 86400)
        return Error::at("start_delay_max_s", "0..604800");
    return {};
}

Result<Rollout> create_rollout(storage::Db& db, const Settings& settings, const RolloutSpec& spec,
                               const std::string& actor, TimePoint now, std::mt19937_64& rng) {
    PVF_CHECK(check_spec(db, settings, spec));
    std::int64_t id = 0;
    auto made = storage::in_transaction(db, [&]() -> Status {
        const std::string channel(to_string(spec.channel)), kind(to_string(spec.kind));
        // One at a time per channel and kind: a config patch may go out while a version does, not two
        // patches.
        PVF_TRY(auto busy,
                db.run("SELECT id FROM rollouts WHERE channel = $1 AND kind = $2 AND state IN ('running', "
                       "'paused')",
                       {channel, kind}));
        if (!busy.rows.empty())
            return Error{"rollout " + std::to_string(busy.rows[0].integer(0)) + " (" + kind +
                             ") of channel " + channel + " is still running or paused: cancel it first",
                         ErrorKind::conflict, "channel"};
        const std::int64_t at = to_epoch_ms(now);
        PVF_TRY(
            auto ins,
            db.run("INSERT INTO rollouts (kind, version, patch, config_version, channel, stages, "
                   "max_failure_percent, max_concurrent, start_delay_max_s, state, current_stage, "
                   "created_at_ms, created_by, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                   "'running', 0, $10, $11, $10) RETURNING id",
                   {kind, spec.version, spec.patch_json, spec.config_version, channel,
                    detail::stages_to_json(spec.stages), std::int64_t{spec.max_failure_percent},
                    std::int64_t{spec.max_concurrent}, std::int64_t{spec.start_delay_max_s}, at, actor}));
        id = ins.rows.at(0).integer(0);
        PVF_TRY(auto added, detail::start_stage(db, id, spec, 0, now, rng));
        json after{{"kind", kind},
                   {"channel", channel},
                   {"stages", json::parse(detail::stages_to_json(spec.stages))},
                   {"first_stage_sites", added}};
        if (spec.kind == RolloutKind::software) {
            after["version"] = spec.version;
        } else {
            after["patch"] = json::parse(spec.patch_json);
            after["config_version"] = spec.config_version;
        }
        return storage::append_audit(db, now, actor, "rollout created", "rollout", std::to_string(id), std::nullopt,
                                     after.dump());
    });
    if (!made) return made.error();
    PVF_TRY(auto o, get_rollout(db, id));
    return std::move(*o);
}

Result<std::vector<Rollout>> list_rollouts(storage::Db& db) {
    PVF_TRY(auto r, db.run(std::string(kRolloutColumns) + " ORDER BY id DESC LIMIT 200"));
    std::vector<Rollout> out;
    for (const auto& row : r.rows) {
        out.push_back(row_to_rollout(row));
        PVF_CHECK(fill_counts(db, out.back()));
    }
    return out;
}

Result<std::optional<Rollout>> get_rollout(storage::Db& db, std::int64_t id) {
    PVF_TRY(auto r, db.run(std::string(kRolloutColumns) + " WHERE id = $1", {id}));
    if (r.rows.empty()) return std::optional<Rollout>();
    Rollout o = row_to_rollout(r.rows[0]);
    PVF_CHECK(fill_counts(db, o));
    return std::optional<Rollout>(std::move(o));
}

Result<std::vector<SiteUpdate>> rollout_sites(storage::Db& db, std::int64_t id) {
    PVF_TRY(auto r, db.run("SELECT site_id, stage, state, reason, command_id, not_before_ms, architecture, "
                           "from_version, updated_at_ms FROM rollout_sites WHERE rollout_id = $1 ORDER BY stage, site_id",
                           {id}));
    std::vector<SiteUpdate> out;
    for (const auto& row : r.rows) {
        SiteUpdate s;
        s.site_id = row.text(0);
        s.stage = static_cast<int>(row.integer(1));
        s.state = site_state_from(row.text(2)).value_or(SiteState::failed);
        s.reason = row.text(3);
        s.command_id = row.text(4);
        s.not_before = from_epoch_ms(row.integer(5));
        s.architecture = row.text(6);
        s.from_version = row.text(7);
        s.updated_at = from_epoch_ms(row.integer(8));
        out.push_back(std::move(s));
    }
    return out;
}

Result<Rollout> act_on_rollout(storage::Db& db, std::int64_t id, Action action, const std::string& actor,
                               TimePoint now) {
    auto done = storage::in_transaction(db, [&]() -> Status {
        PVF_TRY(auto r, db.run("SELECT state, current_stage FROM rollouts WHERE id = $1", {id}));
        if (r.rows.empty()) return Error{"no rollout " + std::to_string(id), ErrorKind::not_found};
        const std::string state = r.rows[0].text(0);
        const char* name = action == Action::pause ? "pause" : action == Action::resume ? "resume" : "cancel";
        const bool allowed = (action == Action::pause && state == "running") ||
                             (action == Action::resume && state == "paused") ||
                             (action == Action::cancel && (state == "running" || state == "paused"));
        if (!allowed)
            return Error{"rollout " + std::to_string(id) + " is " + state + ": cannot " + name, ErrorKind::conflict};
        const std::int64_t at = to_epoch_ms(now);
        if (action == Action::pause) {
            PVF_CHECK(db.run("UPDATE rollouts SET state = 'paused', pause_reason = $2, updated_at_ms = $3 WHERE id = $1",
                             {id, "paused by " + actor, at}));
        } else if (action == Action::resume) {
            // The failures seen so far are accepted: only new ones count towards the next automatic pause.
            PVF_TRY(auto failed, db.run("SELECT COUNT(*) FROM rollout_sites WHERE rollout_id = $1 AND stage = $2 AND "
                                        "state IN ('failed', 'rolled_back')",
                                        {id, r.rows[0].integer(1)}));
            PVF_CHECK(db.run("UPDATE rollouts SET state = 'running', pause_reason = '', accepted_failures = $2, "
                             "updated_at_ms = $3 WHERE id = $1",
                             {id, failed.rows[0].integer(0), at}));
        } else {
            PVF_CHECK(db.run("UPDATE rollouts SET state = 'cancelled', updated_at_ms = $2 WHERE id = $1", {id, at}));
        }
        return storage::append_audit(db, now, actor, std::string("rollout ") + name, "rollout", std::to_string(id),
                                     json{{"state", state}}.dump(), std::nullopt);
    });
    if (!done) return done.error();
    PVF_TRY(auto o, get_rollout(db, id));
    return std::move(*o);
}

Result<SiteUpdateSettings> get_site_update_settings(storage::Db& db, const std::string& site_id) {
    PVF_TRY(auto site, db.run("SELECT 1 FROM sites WHERE site_id = $1", {site_id}));
    if (site.rows.empty()) return Error{"no site '" + site_id + "'", ErrorKind::not_found};
    PVF_TRY(auto r, db.run("SELECT channel, architecture FROM site_update_settings WHERE site_id = $1", {site_id}));
    SiteUpdateSettings s{site_id, Channel::stable, ""};
    if (!r.rows.empty()) {
        s.channel = channel_from(r.rows[0].text(0)).value_or(Channel::stable);
        s.architecture = r.rows[0].text(1);
    }
    return s;
}

Status put_site_update_settings(storage::Db& db, const SiteUpdateSettings& s, const std::string& actor,
                                TimePoint now) {
    if (!s.architecture.empty() && !valid_architecture(s.architecture))
        return Error::at("architecture", "'" + s.architecture + "' is not a Debian architecture name");
    return storage::in_transaction(db, [&]() -> Status {
        PVF_TRY(auto before, get_site_update_settings(db, s.site_id));
        PVF_CHECK(db.run("INSERT INTO site_update_settings (site_id, channel, architecture) VALUES ($1, $2, $3) "
                         "ON CONFLICT (site_id) DO UPDATE SET channel = excluded.channel, architecture = excluded.architecture",
                         {s.site_id, std::string(to_string(s.channel)), s.architecture}));
        return storage::append_audit(
            db, now, actor, "update settings", "site", s.site_id,
            json{{"channel", to_string(before.channel)}, {"architecture", before.architecture}}.dump(),
            json{{"channel", to_string(s.channel)}, {"architecture", s.architecture}}.dump());
    });
}

}  // namespace pvfleet::releases
