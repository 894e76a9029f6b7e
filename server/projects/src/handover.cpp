// The handover to O&M: the site's first production found in its telemetry, the commissioning milestone done
// from it, and what a milestone's done day decides about the site (grid acceptance, commissioning, warranty).
#include "pvfleet/projects/handover.hpp"

#include <date/tz.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "pvfleet/records/sites.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/storage/telemetry_raw.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"
#include "rows.hpp"

namespace pvfleet::projects {
namespace {

constexpr std::int64_t kBucketMs = 5 * 60 * 1000;
constexpr int kCandidatesPerPage = 200;

const date::time_zone* zone_or_utc(const std::string& name) {
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return date::locate_zone("UTC");
    }
}

// The instant a local calendar day (YYYY-MM-DD) begins in `zone`.
std::optional<std::int64_t> local_day_start_ms(const std::string& day, const date::time_zone* zone) {
    const auto utc = day_start(day);  // the same calendar day at 00:00 UTC
    if (!utc) return std::nullopt;
    const date::local_days local{date::floor<date::days>(utc->time_since_epoch())};
    return to_epoch_ms(TimePoint{zone->to_sys(local, date::choose::earliest).time_since_epoch()});
}

std::string add_years(const std::string& day, int years) {
    const auto start = day_start(day);
    if (!start) return day;
    std::chrono::year_month_day ymd{std::chrono::floor<std::chrono::days>(*start)};
    ymd += std::chrono::years{years};
    if (!ymd.ok())
        ymd = std::chrono::year_month_day_last{ymd.year(), std::chrono::month_day_last{ymd.month()}};
    return date_of(TimePoint{std::chrono::sys_days{ymd}});
}

// The earliest sample of the device's raw rows in [from, to) with ac_power_w ≥ min_power_w.
Result<std::optional<FirstProduction>> first_raw_sample(storage::Db& db, const std::string& site_id,
                                                        const std::string& device_id, std::int64_t from,
                                                        std::int64_t to, double min_power_w) {
    auto r = db.run(
        "SELECT samples FROM telemetry_raw WHERE site_id = $1 AND device_id = $2 AND t_first_ms > $3 AND "
        "t_first_ms < $4 AND t_last_ms >= $5 ORDER BY t_first_ms",
        {site_id, device_id, from - storage::kRawRowSpanMs, to, from});
    if (!r) return r.error();
    std::optional<FirstProduction> best;
    for (const auto& row : r->rows) {
        const auto samples = nlohmann::json::parse(row.text(0), nullptr, false);
        if (!samples.is_array()) continue;
        for (const auto& s : samples) {
            if (!s.is_object() || !s.contains("t") || !s["t"].is_number_integer() || !s.contains("values"))
                continue;
            const std::int64_t t = s["t"].get<std::int64_t>();
            const auto& values = s["values"];
            if (t < from || t >= to || !values.is_object() || !values.contains("ac_power_w") ||
                !values["ac_power_w"].is_number())
                continue;
            const double p = values["ac_power_w"].get<double>();
            if (p < min_power_w || (best && to_epoch_ms(best->at) <= t)) continue;
            FirstProduction f{from_epoch_ms(t), device_id, p, std::nullopt};
            if (values.contains("energy_total_wh") && values["energy_total_wh"].is_number())
                f.energy_total_wh = values["energy_total_wh"].get<double>();
            best = f;
        }
    }
    return best;
}

// The device's first production at or after `since`: its first local day whose maximum reaches the threshold,
// that day's first such 5-minute bucket, that bucket's first such reading. A day or bucket whose production
// lay before `since` only (the day the project began) moves the search on: at most a few steps.
Result<std::optional<FirstProduction>> device_first_production(storage::Db& db, const std::string& site_id,
                                                               const std::string& device_id,
                                                               const date::time_zone* zone,
                                                               std::int64_t since, double min_power_w) {
    std::string day = local_date(from_epoch_ms(since), zone->name());
    for (int step = 0; step < 4; ++step) {
        auto d = db.run(
            "SELECT day FROM telemetry_daily WHERE site_id = $1 AND device_id = $2 AND day >= $3 AND point = "
            "'ac_power_w' AND max >= $4 ORDER BY day LIMIT 1",
            {site_id, device_id, day, min_power_w});
        if (!d) return d.error();
        if (d->rows.empty()) return std::optional<FirstProduction>{};
        day = d->rows[0].text(0);
        const auto start = local_day_start_ms(day, zone);
        const auto end = local_day_start_ms(add_days(day, 1), zone);
        if (!start || !end) return std::optional<FirstProduction>{};
        std::int64_t from = std::max(*start, since - since % kBucketMs);
        for (int bucket_step = 0; bucket_step < 4; ++bucket_step) {
            auto b = db.run(
                "SELECT bucket_ms FROM telemetry_5min WHERE site_id = $1 AND device_id = $2 AND bucket_ms >= "
                "$3 AND "
                "bucket_ms < $4 AND point = 'ac_power_w' AND max >= $5 ORDER BY bucket_ms LIMIT 1",
                {site_id, device_id, from, *end, min_power_w});
            if (!b) return b.error();
            if (b->rows.empty()) break;
            const std::int64_t bucket = b->rows[0].integer(0);
            const std::int64_t lo = std::max(bucket, since);
            auto raw = first_raw_sample(db, site_id, device_id, lo, bucket + kBucketMs, min_power_w);
            if (!raw) return raw.error();
            if (*raw) return raw;
            // No raw reading behind the aggregate: removed by retention (the bucket's start stands for it),
            // or the bucket's production lay before `since` (the next bucket is looked at).
            auto any = db.run(
                "SELECT COUNT(*) FROM telemetry_raw WHERE site_id = $1 AND device_id = $2 AND t_first_ms > "
                "$3 AND "
                "t_first_ms < $4 AND t_last_ms >= $5",
                {site_id, device_id, bucket - storage::kRawRowSpanMs, bucket + kBucketMs, bucket});
            if (!any) return any.error();
            if (any->rows[0].integer(0) == 0 && bucket >= since)
                return std::optional<FirstProduction>{
                    FirstProduction{from_epoch_ms(bucket), device_id, min_power_w, {}}};
            from = bucket + kBucketMs;
        }
        day = add_days(day, 1);
    }
    return std::optional<FirstProduction>{};
}

struct Candidate {
    std::int64_t project_id = 0;
    std::string site_id, time_zone;
    TimePoint created_at;
};

// Hands one project over; false when there was nothing to do (done meanwhile, by hand or another pass).
Result<bool> hand_over(storage::Db& db, const ProjectSettings& settings, const Candidate& c,
                       const FirstProduction& first, TimePoint now) {
    auto done = storage::in_transaction(db, [&]() -> Result<bool> {
        auto project = get_project(db, c.project_id);
        if (!project) return project.error();
        if (!*project || (*project)->status != ProjectStatus::active || (*project)->site_id != c.site_id)
            return false;
        auto all = list_milestones(db, c.project_id);
        if (!all) return all.error();
        const auto it = std::find_if(all->begin(), all->end(), [&](const Milestone& m) {
            return m.key == settings.handover.commissioning_milestone;
        });
        if (it == all->end() || it->done_on) return false;  // a milestone done by hand is left as it is
        Milestone after = *it;
        after.done_on = local_date(first.at, c.time_zone);
        auto saved = detail::save_milestone(db, settings, **project, *all, *it, after, kHandoverActor, now);
        if (!saved) return saved.error();
        storage::NewEvent e;
        e.name = "site.first_production";
        e.occurred_at = first.at;
        e.data = {{"site_id", c.site_id},
                  {"project_id", c.project_id},
                  {"project_name", saved->project.name},
                  {"milestone_id", after.id},
                  {"first_production_at", format_iso8601(first.at)},
                  {"device_id", first.device_id},
                  {"power_w", first.power_w},
                  {"energy_total_wh",
                   first.energy_total_wh ? nlohmann::json(*first.energy_total_wh) : nlohmann::json()},
                  {"commissioned_on", *after.done_on},
                  {"stage", saved->project.stage}};
        if (saved->project.manager) e.recipients.push_back(*saved->project.manager);
        auto event_id = storage::append_event(db, e);
        if (!event_id) return event_id.error();
        auto h = db.run(
            "INSERT INTO project_handovers (project_id, site_id, milestone_id, first_production_ms, "
            "device_id, "
            "power_w, energy_total_wh, commissioned_on, event_id, created_at_ms) VALUES ($1, $2, $3, $4, $5, "
            "$6, $7, "
            "$8, $9, $10)",
            {c.project_id, c.site_id, after.id, std::int64_t{to_epoch_ms(first.at)}, first.device_id,
             first.power_w,
             first.energy_total_wh ? storage::Value{*first.energy_total_wh} : storage::Value{nullptr},
             *after.done_on, *event_id, std::int64_t{to_epoch_ms(now)}});
        if (!h) return h.error();
        return true;
    });
    // Another server's pass (or a person) got there first: its change stands, this one rolled back.
    if (!done && done.error().kind == ErrorKind::conflict) return false;
    return done;
}

}  // namespace

std::string local_date(TimePoint t, const std::string& time_zone) {
    const auto local = zone_or_utc(time_zone)->to_local(std::chrono::floor<std::chrono::milliseconds>(t));
    return date_of(TimePoint{date::floor<date::days>(local).time_since_epoch()});
}

Result<std::optional<FirstProduction>> first_production(storage::Db& db, const std::string& site_id,
                                                        const std::string& time_zone, TimePoint since,
                                                        double min_power_w) {
    auto devices = db.run("SELECT device_id FROM devices WHERE site_id = $1 ORDER BY device_id", {site_id});
    if (!devices) return devices.error();
    const date::time_zone* zone = zone_or_utc(time_zone);
    std::optional<FirstProduction> best;
    for (const auto& row : devices->rows) {
        auto f = device_first_production(db, site_id, row.text(0), zone, to_epoch_ms(since), min_power_w);
        if (!f) return f.error();
        if (*f && (!best || (*f)->at < best->at)) best = *f;
    }
    return best;
}

Result<std::optional<Handover>> handover_of_project(storage::Db& db, std::int64_t project_id) {
    auto r = db.run(
        "SELECT project_id, milestone_id, event_id, site_id, first_production_ms, device_id, power_w, "
        "energy_total_wh, "
        "commissioned_on, created_at_ms FROM project_handovers WHERE project_id = $1",
        {project_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Handover>{};
    const auto& row = r->rows[0];
    Handover h;
    h.project_id = row.integer(0);
    h.milestone_id = row.integer(1);
    h.event_id = row.integer(2);
    h.site_id = row.text(3);
    h.first = FirstProduction{from_epoch_ms(row.integer(4)), row.text(5), row.real(6), std::nullopt};
    if (!row.is_null(7)) h.first.energy_total_wh = row.real(7);
    h.commissioned_on = row.text(8);
    h.created_at = from_epoch_ms(row.integer(9));
    return std::optional<Handover>{h};
}

Result<HandoverReport> run_handover_pass(storage::Db& db, const ProjectSettings& settings, TimePoint now) {
    HandoverReport report;
    std::int64_t after_id = 0;
    for (;;) {
        auto page = db.run(
            "SELECT p.id, p.site_id, s.time_zone, p.created_at_ms FROM projects p JOIN project_milestones m "
            "ON "
            "m.project_id = p.id JOIN sites s ON s.site_id = p.site_id WHERE p.status = 'active' AND m.mkey "
            "= $1 AND "
            "m.done_on IS NULL AND p.id > $2 ORDER BY p.id LIMIT $3",
            {settings.handover.commissioning_milestone, after_id, std::int64_t{kCandidatesPerPage}});
        if (!page) return page.error();
        for (const auto& row : page->rows) {
            const Candidate c{row.integer(0), row.text(1), row.text(2), from_epoch_ms(row.integer(3))};
            after_id = c.project_id;
            ++report.checked;
            // Production counts from the moment the project exists: a site that produced for another project
            // before (a repowering) is not this one's commissioning.
            auto first =
                first_production(db, c.site_id, c.time_zone, c.created_at, settings.handover.min_power_w);
            if (!first) return first.error();
            if (!*first) continue;
            auto done = hand_over(db, settings, c, **first, now);
            if (!done) {
                PVF_LOG(warn, "server",
                        "handover of project " << c.project_id << ": " << done.error().message);
                continue;
            }
            if (*done) {
                ++report.handed_over;
                PVF_LOG(info, "server",
                        "handover: project " << c.project_id << " commissioned by site " << c.site_id
                                             << "'s first production at " << format_iso8601((*first)->at));
            }
        }
        if (static_cast<int>(page->rows.size()) < kCandidatesPerPage) break;
    }
    return report;
}

namespace detail {

Status milestone_done_effects(storage::Db& db, const ProjectSettings& settings, const Project& p,
                              const std::optional<std::string>& before_done_on, const Milestone& m,
                              const std::string& actor, TimePoint now) {
    const auto& h = settings.handover;
    if (!p.site_id || (m.key != h.grid_acceptance_milestone && m.key != h.commissioning_milestone)) return {};
    auto site = records::get_site(db, *p.site_id);
    if (!site) return site.error();
    if (!*site) return {};
    records::SiteMilestoneDates change;
    // A day the milestone had set follows it (set, corrected, cleared); one set by hand otherwise is replaced
    // only by a new day, never cleared.
    auto follow = [&](const std::optional<std::string>& current, const std::optional<std::string>& was_set,
                      const std::optional<std::string>& wanted) -> std::optional<std::optional<std::string>> {
        if (wanted)
            return wanted == current ? std::nullopt : std::optional<std::optional<std::string>>{wanted};
        if (current && current == was_set) return std::optional<std::optional<std::string>>{std::in_place, std::nullopt};
        return std::nullopt;
    };
    if (m.key == h.grid_acceptance_milestone)
        change.grid_connected_on = follow((*site)->grid_connected_on, before_done_on, m.done_on);
    if (m.key == h.commissioning_milestone) {
        change.commissioned_on = follow((*site)->commissioned_on, before_done_on, m.done_on);
        if (h.warranty_years > 0) {
            // The warranty counts from commissioning: set when the site has none, moved with a corrected day.
            const std::optional<std::string> derived =
                before_done_on ? std::optional<std::string>(add_years(*before_done_on, h.warranty_years))
                               : std::nullopt;
            const std::optional<std::string> wanted =
                m.done_on ? std::optional<std::string>(add_years(*m.done_on, h.warranty_years))
                          : std::nullopt;
            if (!(*site)->warranty_end || (*site)->warranty_end == derived)
                change.warranty_end = follow((*site)->warranty_end, derived, wanted);
        }
    }
    if (!change.grid_connected_on && !change.commissioned_on && !change.warranty_end) return {};
    auto saved = records::set_site_milestone_dates_in_transaction(db, *p.site_id, change, actor, now);
    if (!saved) return saved.error();
    return {};
}

}  // namespace detail
}  // namespace pvfleet::projects
