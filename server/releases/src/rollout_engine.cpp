// The rollout engine, for both kinds: stages started, sites' states taken from their commands' acks, the
// automatic pause, and commands sent within the concurrency limit — update commands (software) or set_config
// with a patch (config). The kinds differ only in the command, the states its acks map to (state_from_ack)
// and the state that counts against the limit; the SQL below names the states of both, which never overlap.
#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include <algorithm>
#include <cmath>

#include "pvfleet/releases/rollouts.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "rollout_detail.hpp"

namespace pvfleet::releases {
namespace detail {
namespace {
using json = nlohmann::json;

// The order sites join percentage stages: a hash of rollout and site, so the first 10 % differ per rollout
// and a site's place never changes within one.
std::uint64_t place(std::int64_t rollout_id, const std::string& site) {
    const std::string text = std::to_string(rollout_id) + ":" + site;
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | d[i];
    return v;
}

// What the site's last status reported: `agent_version` or `config_version`.
std::string reported(storage::Db& db, const std::string& site, const char* key) {
    auto r = db.run("SELECT body FROM site_status WHERE site_id = $1", {site});
    if (!r || r->rows.empty()) return "";
    const json body = json::parse(r->rows[0].text(0), nullptr, false);
    return body.is_object() && body.contains(key) && body[key].is_string() ? body[key].get<std::string>()
                                                                           : "";
}

}  // namespace

std::string stages_to_json(const std::vector<Stage>& stages) {
    json out = json::array();
    for (const auto& s : stages) out.push_back(s.percent ? json{{"percent", *s.percent}} : json{{"sites", s.sites}});
    return out.dump();
}

std::vector<Stage> stages_from_json(const std::string& text) {
    std::vector<Stage> out;
    const json j = json::parse(text, nullptr, false);
    if (!j.is_array()) return out;
    for (const auto& s : j) {
        Stage st;
        if (s.contains("percent")) st.percent = s["percent"].get<int>();
        if (s.contains("sites")) st.sites = s["sites"].get<std::vector<std::string>>();
        out.push_back(std::move(st));
    }
    return out;
}

std::optional<RolloutState> rollout_state_from(std::string_view s) {
    for (auto v : {RolloutState::running, RolloutState::paused, RolloutState::done, RolloutState::cancelled})
        if (to_string(v) == s) return v;
    return std::nullopt;
}

Result<std::int64_t> start_stage(storage::Db& db, std::int64_t rollout_id, const RolloutSpec& spec, int stage,
                                 TimePoint now, std::mt19937_64& rng) {
    const Stage& st = spec.stages.at(static_cast<std::size_t>(stage));
    std::vector<std::string> chosen = st.sites;
    if (st.percent) {
        PVF_TRY(auto all, db.run("SELECT s.site_id FROM sites s LEFT JOIN site_update_settings u ON u.site_id = "
                                 "s.site_id WHERE COALESCE(u.channel, 'stable') = $1",
                                 {std::string(to_string(spec.channel))}));
        std::vector<std::pair<std::uint64_t, std::string>> ordered;
        for (const auto& row : all.rows) ordered.emplace_back(place(rollout_id, row.text(0)), row.text(0));
        std::sort(ordered.begin(), ordered.end());
        const auto n = static_cast<std::size_t>(std::ceil(static_cast<double>(ordered.size()) * *st.percent / 100.0));
        chosen.clear();
        for (std::size_t i = 0; i < n && i < ordered.size(); ++i) chosen.push_back(ordered[i].second);
    }
    std::uniform_int_distribution<std::int64_t> delay(0, std::int64_t{spec.start_delay_max_s} * 1000);
    std::int64_t added = 0;
    const std::int64_t at = to_epoch_ms(now);
    for (const auto& site : chosen) {
        PVF_TRY(auto in, db.run("SELECT 1 FROM rollout_sites WHERE rollout_id = $1 AND site_id = $2", {rollout_id, site}));
        if (!in.rows.empty()) continue;
        const bool software = spec.kind == RolloutKind::software;
        std::string arch;
        if (software) {
            PVF_TRY(auto settings,
                    db.run("SELECT architecture FROM site_update_settings WHERE site_id = $1", {site}));
            arch = settings.rows.empty() ? "" : settings.rows[0].text(0);
        }
        const std::string from = reported(db, site, software ? "agent_version" : "config_version");
        // A gateway reporting the version (or config version) already has nothing to do.
        const bool already = !from.empty() && from == (software ? spec.version : spec.config_version);
        const SiteState state = !already   ? SiteState::pending
                                : software ? SiteState::healthy
                                           : SiteState::applied;
        const std::string reason = !already   ? ""
                                   : software ? "already at " + from
                                              : "already runs config " + from;
        PVF_CHECK(
            db.run("INSERT INTO rollout_sites (rollout_id, site_id, stage, state, reason, not_before_ms, "
                   "architecture, from_version, updated_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                   {rollout_id, site, std::int64_t{stage}, std::string(to_string(state)), reason,
                    at + delay(rng), arch, from, at}));
        ++added;
    }
    return added;
}

}  // namespace detail

std::optional<SiteState> state_from_ack(std::string_view status, std::string_view detail) {
    if (status == "accepted") {
        if (detail.rfind("installing", 0) == 0) return SiteState::installing;
        if (detail.rfind("downloading", 0) == 0) return SiteState::downloading;
        return std::nullopt;
    }
    if (status == "done") return SiteState::healthy;
    if (status == "failed" && detail.rfind("rolled_back", 0) == 0) return SiteState::rolled_back;
    if (status == "failed" || status == "rejected" || status == "stale") return SiteState::failed;
    return std::nullopt;
}

std::optional<SiteState> state_from_ack(RolloutKind kind, std::string_view status, std::string_view detail) {
    if (kind == RolloutKind::software) return state_from_ack(status, detail);
    // set_config answers once, with its final ack (docs/protocol.md, "set_config").
    if (status == "done") return SiteState::applied;
    // "config V2 did not start (reason); config V1 restored": the gateway runs its previous config again.
    if (status == "failed" && detail.rfind("config ", 0) == 0 &&
        detail.find(" did not start (") != std::string_view::npos)
        return SiteState::rolled_back;
    if (status == "failed" || status == "rejected" || status == "stale") return SiteState::failed;
    // A redelivery answered after the first ack: ingest keeps the latest ack, which then says how it ended.
    if (status == "duplicate" && detail == "already done") return SiteState::applied;
    if (status == "duplicate" && detail == "already failed") return SiteState::failed;
    return std::nullopt;
}

namespace {
using json = nlohmann::json;

// Sites sent their command: their state from the command's ack, or failed after the deadline.
Status follow_acks(EngineParts& p, const Rollout& o, TimePoint now, TickReport& report) {
    const std::int64_t id = o.id;
    PVF_TRY(auto r,
            p.db.run("SELECT rs.site_id, rs.state, c.status, c.detail, rs.sent_at_ms FROM rollout_sites rs "
                     "LEFT JOIN commands c ON c.command_id = rs.command_id WHERE rs.rollout_id = $1 AND "
                     "rs.state IN ('downloading', 'installing', 'applying')",
                     {id}));
    const std::int64_t at = to_epoch_ms(now);
    for (const auto& row : r.rows) {
        const std::string site = row.text(0), state = row.text(1), detail = row.text(3);
        auto next = row.is_null(2) ? std::nullopt : state_from_ack(o.spec.kind, row.text(2), detail);
        std::string reason = detail.substr(0, 2000);
        if (!next || to_string(*next) == state) {
            if (at - row.integer(4) <= std::chrono::duration_cast<Millis>(p.site_deadline).count()) continue;
            next = SiteState::failed;
            reason = "no final answer from the gateway within " + std::to_string(p.site_deadline.count() / 3600) +
                     " h (last: " + (detail.empty() ? row.text(2) : detail.substr(0, 500)) + ")";
        }
        PVF_CHECK(p.db.run("UPDATE rollout_sites SET state = $3, reason = $4, updated_at_ms = $5 WHERE rollout_id = $1 "
                           "AND site_id = $2",
                           {id, site, std::string(to_string(*next)), reason, at}));
        if (is_final(*next)) ++report.finished;
    }
    return {};
}

// The stage's failure share (pause), or the next stage / done once every site of it finished. Returns whether
// the rollout still runs.
Result<bool> judge_stage(EngineParts& p, Rollout& o, std::int64_t accepted_failures, TimePoint now,
                         TickReport& report) {
    PVF_TRY(
        auto r,
        p.db.run("SELECT COUNT(*), SUM(CASE WHEN state IN ('failed', 'rolled_back') THEN 1 ELSE 0 END), "
                 "SUM(CASE WHEN state IN ('healthy', 'applied', 'failed', 'rolled_back') THEN 1 ELSE 0 END) "
                 "FROM "
                 "rollout_sites WHERE rollout_id = $1 AND stage = $2",
                 {o.id, std::int64_t{o.current_stage}}));
    const std::int64_t total = r.rows[0].integer(0), failed = r.rows[0].integer(1), finished = r.rows[0].integer(2);
    const std::int64_t at = to_epoch_ms(now);
    const std::int64_t counted = failed - accepted_failures;
    if (total > 0 && counted > 0 && counted * 100 > std::int64_t{o.spec.max_failure_percent} * total) {
        const std::string reason = "stage " + std::to_string(o.current_stage + 1) + ": " + std::to_string(failed) +
                                   " of " + std::to_string(total) + " sites failed or rolled back (more than " +
                                   std::to_string(o.spec.max_failure_percent) + " %)";
        PVF_CHECK(p.db.run("UPDATE rollouts SET state = 'paused', pause_reason = $2, updated_at_ms = $3 WHERE id = $1",
                           {o.id, reason, at}));
        PVF_CHECK(storage::append_audit(p.db, now, "rollout", "rollout paused", "rollout", std::to_string(o.id),
                                        std::nullopt, json{{"reason", reason}}.dump()));
        ++report.paused;
        return false;
    }
    if (finished < total) return true;
    for (;;) {
        if (o.current_stage + 1 >= static_cast<int>(o.spec.stages.size())) {
            PVF_CHECK(p.db.run("UPDATE rollouts SET state = 'done', updated_at_ms = $2 WHERE id = $1", {o.id, at}));
            ++report.done;
            return false;
        }
        ++o.current_stage;
        PVF_CHECK(p.db.run("UPDATE rollouts SET current_stage = $2, accepted_failures = 0, updated_at_ms = $3 WHERE id = $1",
                           {o.id, std::int64_t{o.current_stage}, at}));
        PVF_TRY(auto added, detail::start_stage(p.db, o.id, o.spec, o.current_stage, now, p.rng));
        ++report.stages_started;
        PVF_TRY(auto left,
                p.db.run("SELECT COUNT(*) FROM rollout_sites WHERE rollout_id = $1 AND stage = $2 AND state "
                         "NOT IN ('healthy', 'applied', 'failed', 'rolled_back')",
                         {o.id, std::int64_t{o.current_stage}}));
        if (added > 0 && left.rows[0].integer(0) > 0) return true;
    }
}

std::string new_command_id(RolloutKind kind, std::int64_t rollout, const std::string& site,
                           std::mt19937_64& rng) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string tail;
    for (int i = 0; i < 8; ++i) tail += kHex[rng() & 15];
    std::string id = std::string(kind == RolloutKind::software ? "update-" : "config-") +
                     std::to_string(rollout) + "-" + tail + "-" + site;
    return id.substr(0, 64);
}

// A due site's command: an update with a download link for its architecture, or the rollout's patch as a
// set_config. nullopt with `why` set: the site cannot be sent anything (it fails with that reason).
std::optional<protocol::Command> command_for(EngineParts& p, const Rollout& o, const std::string& site,
                                             const std::string& arch, const std::vector<Release>& files,
                                             TimePoint now, std::string& why) {
    protocol::Command cmd;
    cmd.site_id = site;
    cmd.issued_at = now;
    if (o.spec.kind == RolloutKind::config) {
        // Expires with the deadline: a gateway the rollout gave up on never applies the patch later.
        cmd.expires_at = now + std::chrono::duration_cast<Millis>(p.site_deadline);
        cmd.body = protocol::SetConfigCommand{"", o.spec.patch_json, o.spec.config_version};
    } else {
        const Release* chosen = nullptr;
        for (const auto& f : files)
            if (f.architecture == arch || (arch.empty() && files.size() == 1)) chosen = &f;
        if (chosen == nullptr) {
            why = arch.empty()
                      ? "the gateway's architecture is not known (set it in the site's update settings)"
                      : "no " + o.spec.version + " for " + arch + " uploaded";
            return std::nullopt;
        }
        cmd.expires_at = now + std::chrono::duration_cast<Millis>(p.settings.link_lifetime);
        cmd.body = protocol::UpdateCommand{
            o.spec.version, download_url(p.settings, p.link_key, *chosen, site, now), chosen->sha256,
            static_cast<std::uint64_t>(chosen->size), chosen->signature};
    }
    cmd.command_id = new_command_id(o.spec.kind, o.id, site, p.rng);
    return cmd;
}

// Pending sites whose delay passed, while fewer than the limit are in flight: downloading (software;
// installing no longer loads the server) or applying (config).
Status send_due(EngineParts& p, const Rollout& o, TimePoint now, TickReport& report) {
    const bool software = o.spec.kind == RolloutKind::software;
    const std::string in_flight(to_string(software ? SiteState::downloading : SiteState::applying));
    PVF_TRY(auto busy, p.db.run("SELECT COUNT(*) FROM rollout_sites WHERE rollout_id = $1 AND state = $2",
                                {o.id, in_flight}));
    const std::int64_t room = o.spec.max_concurrent - busy.rows[0].integer(0);
    if (room <= 0) return {};
    const std::int64_t at = to_epoch_ms(now);
    PVF_TRY(auto due, p.db.run("SELECT site_id, architecture FROM rollout_sites WHERE rollout_id = $1 AND stage = $2 "
                               "AND state = 'pending' AND not_before_ms <= $3 ORDER BY not_before_ms, site_id LIMIT $4",
                               {o.id, std::int64_t{o.current_stage}, at, room}));
    std::vector<Release> files;
    if (software) {
        PVF_TRY(files, releases_of_version(p.db, p.settings.package, o.spec.version));
    }
    for (const auto& row : due.rows) {
        const std::string site = row.text(0), arch = row.text(1);
        std::string why;
        auto cmd = command_for(p, o, site, arch, files, now, why);
        if (!cmd) {
            PVF_CHECK(
                p.db.run("UPDATE rollout_sites SET state = 'failed', reason = $3, updated_at_ms = $4 WHERE "
                         "rollout_id = $1 AND site_id = $2",
                         {o.id, site, why, at}));
            ++report.finished;
            continue;
        }
        if (!p.send_command) return {};
        // Marked first (committed: ingest records the command on its own connection, which must not wait for
        // ours), so a crash right after sending leaves the site followed — by its ack or the deadline.
        PVF_CHECK(p.db.run(
            "UPDATE rollout_sites SET state = $3, reason = $4, command_id = $5, sent_at_ms = $6, "
            "updated_at_ms = $6 WHERE rollout_id = $1 AND site_id = $2",
            {o.id, site, in_flight, std::string(software ? "update command sent" : "set_config sent"),
             cmd->command_id, at}));
        if (auto s = p.send_command(*cmd, "rollout:" + std::to_string(o.id)); !s) {
            PVF_CHECK(p.db.run("UPDATE rollout_sites SET state = 'pending', command_id = NULL, sent_at_ms = NULL, "
                               "reason = $3, updated_at_ms = $4 WHERE rollout_id = $1 AND site_id = $2",
                               {o.id, site, "not sent yet: " + s.error().message, at}));
            return {};  // the broker or ingest is down: the next tick tries again
        }
        ++report.sent;
    }
    return {};
}

}  // namespace

Result<TickReport> tick(EngineParts& p, TimePoint now) {
    TickReport report;
    PVF_TRY(auto running, p.db.run("SELECT id, accepted_failures FROM rollouts WHERE state = 'running' ORDER BY id"));
    for (const auto& row : running.rows) {
        const std::int64_t id = row.integer(0);
        std::optional<Rollout> sendable;
        auto step = storage::in_transaction(p.db, [&]() -> Status {
            PVF_TRY(auto o, get_rollout(p.db, id));
            if (!o || o->state != RolloutState::running) return {};
            PVF_CHECK(follow_acks(p, *o, now, report));
            PVF_TRY(const bool runs, judge_stage(p, *o, row.integer(1), now, report));
            if (runs) sendable = std::move(*o);
            return {};
        });
        if (!step) return step.error();
        // Outside the transaction: sending waits for ingest, whose connection writes `commands`.
        if (sendable) PVF_CHECK(send_due(p, *sendable, now, report));
    }
    return report;
}

}  // namespace pvfleet::releases
