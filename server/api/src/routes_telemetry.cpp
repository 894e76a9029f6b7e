// Telemetry (raw, 5-minute, daily), site status, and the fleet statistics of the dashboard.
#include <date/tz.h>

#include <algorithm>
#include <limits>
#include <map>
#include <tuple>

#include "common.hpp"
#include "pvfleet/solar/expected_power.hpp"
#include "pvfleet/storage/fleet_queries.hpp"
#include "pvfleet/storage/telemetry_queries.hpp"
#include "pvfleet/workorders/sla.hpp"

namespace pvfleet::api::detail {
namespace {
constexpr std::int64_t kMaxRawRows = 20'000;

// The clear-sky model of a site from its record: location and PV arrays (one inverter sized to the arrays, as
// the record has no AC rating). nullopt when the record lacks a location or arrays.
struct SiteExpectation {
    solar::ExpectedPowerModel model;
    const date::time_zone* zone;
};

std::optional<SiteExpectation> site_expectation(storage::Db& db, const std::string& site_id) {
    auto r = storage::site_model_inputs(db, site_id);
    if (!r || !*r || !(*r)->latitude || !(*r)->longitude) return std::nullopt;
    const storage::SiteModelInputs& in = **r;
    solar::SiteModel m;
    m.latitude_deg = *in.latitude;
    m.longitude_deg = *in.longitude;
    double kwp = 0;
    try {
        int i = 0;
        for (const auto& a : json::parse(in.arrays_json)) {
            solar::ArrayConfig c;
            c.id = "a" + std::to_string(i++);
            c.inverter_id = "inv";
            c.dc_kwp = a.value("kwp", 0.0);
            c.tilt_deg = a.value("tilt_deg", 0.0);
            c.azimuth_deg = a.value("azimuth_deg", 180.0);
            if (c.dc_kwp <= 0) continue;
            kwp += c.dc_kwp;
            m.arrays.push_back(c);
        }
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (m.arrays.empty()) return std::nullopt;
    m.inverters.push_back({"inv", kwp, 0.96});
    auto model = solar::ExpectedPowerModel::create(std::move(m));
    if (!model) return std::nullopt;
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(in.time_zone);
    } catch (const std::exception&) {
        zone = date::locate_zone("UTC");
    }
    return SiteExpectation{std::move(*model), zone};
}

// UTC instants of the local midnights that start `day` and the day after.
std::pair<TimePoint, TimePoint> local_day_bounds(const date::time_zone* zone, date::local_days day) {
    const auto start = zone->to_sys(day, date::choose::earliest);
    const auto end = zone->to_sys(day + date::days(1), date::choose::earliest);
    return {std::chrono::time_point_cast<Millis>(start), std::chrono::time_point_cast<Millis>(end)};
}

// A calendar day written YYYY-MM-DD, nothing before or after. (date::parse accepted trailing text, and its
// inlined stream code tripped GCC's maybe-uninitialized warning in optimised builds.)
std::optional<date::local_days> parse_day(const std::string& text) {
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return std::nullopt;
    auto number = [&](std::size_t at, std::size_t n) -> std::optional<int> {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            if (text[i] < '0' || text[i] > '9') return std::nullopt;
            v = v * 10 + (text[i] - '0');
        }
        return v;
    };
    const auto y = number(0, 4), m = number(5, 2), d = number(8, 2);
    if (!y || !m || !d) return std::nullopt;
    const date::year_month_day ymd{date::year{*y}, date::month{static_cast<unsigned>(*m)},
                                   date::day{static_cast<unsigned>(*d)}};
    if (!ymd.ok()) return std::nullopt;
    return date::local_days{ymd};
}

// A site's clear-sky expectation for one local day as cumulative energy every 10 minutes from local midnight,
// computed once per (site, record version, day) and cached: the dashboard asks for every site every 30 s, and
// the model is far too costly to run for a fleet on each request (the API runs on one thread, so no lock).
struct DayCurve {
    TimePoint start;
    std::vector<double> cumulative_kwh;  // [i] = energy from start to start + i * kStep
};
constexpr auto kStep = std::chrono::minutes(10);

const DayCurve* day_curve(storage::Db& db, const std::string& site_id, std::int64_t version,
                          date::local_days day) {
    static std::map<std::string, std::optional<DayCurve>> cache;
    const std::string key = site_id + "|" + std::to_string(version) + "|" + date::format("%F", day);
    if (auto it = cache.find(key); it != cache.end()) return it->second ? &*it->second : nullptr;
    if (cache.size() > 50'000) cache.clear();
    auto e = site_expectation(db, site_id);
    if (!e) {
        cache.emplace(key, std::nullopt);
        return nullptr;
    }
    const auto [from, to] = local_day_bounds(e->zone, day);
    DayCurve curve;
    curve.start = from;
    curve.cumulative_kwh.push_back(0.0);
    solar::ExpectedPower out;
    e->model.at(from, {}, out);
    double prev_w = out.total_ac_w;
    for (TimePoint t = from + kStep; t <= to; t += kStep) {
        e->model.at(t, {}, out);
        const double hours = std::chrono::duration<double>(kStep).count() / 3600.0;
        curve.cumulative_kwh.push_back(curve.cumulative_kwh.back() +
                                       (prev_w + out.total_ac_w) / 2.0 * hours / 1000.0);
        prev_w = out.total_ac_w;
    }
    return &*cache.emplace(key, std::move(curve)).first->second;
}

// Expected energy from the start of the curve's day up to `t` (linear between steps).
double expected_until(const DayCurve& c, TimePoint t) {
    if (t <= c.start) return 0.0;
    const double steps = std::chrono::duration<double>(t - c.start) / std::chrono::duration<double>(kStep);
    const auto i = static_cast<std::size_t>(steps);
    if (i + 1 >= c.cumulative_kwh.size()) return c.cumulative_kwh.back();
    return c.cumulative_kwh[i] +
           (steps - static_cast<double>(i)) * (c.cumulative_kwh[i + 1] - c.cumulative_kwh[i]);
}

std::int64_t site_record_version(storage::Db& db, const std::string& site_id) {
    auto r = storage::site_version(db, site_id);
    return r && *r ? **r : 0;
}

struct TelemetryQuery {
    std::string site;
    TimePoint from, to;
    std::optional<std::string> device, point;
};

// Raw readings in [from, to], at most kMaxRawRows, in time order. Rows come in start order; when the row
// limit cuts the list, only readings before the first row left out are certainly complete.
Response raw_series(storage::Db& db, const TelemetryQuery& q) {
    const std::int64_t from_ms = to_epoch_ms(q.from);
    const std::int64_t to_ms = to_epoch_ms(q.to);
    auto rows = storage::raw_telemetry(db, q.site, from_ms, to_ms, q.device, kMaxRawRows + 1);
    if (!rows) return from_error(rows.error());
    std::int64_t cut_ms = std::numeric_limits<std::int64_t>::max();
    if (rows->size() > static_cast<std::size_t>(kMaxRawRows)) {
        cut_ms = rows->back().t_first_ms;
        rows->pop_back();
    }
    struct Reading {
        std::int64_t t;
        std::string device;
        json points;
    };
    std::vector<Reading> readings;
    for (const auto& r : *rows) {
        json samples = json::parse(r.samples_json, nullptr, false);
        if (!samples.is_array()) continue;
        for (auto& s : samples) {
            if (!s.is_object() || !s.contains("t") || !s["t"].is_number_integer()) continue;
            const std::int64_t t = s["t"].get<std::int64_t>();
            if (t < from_ms || t > to_ms || t >= cut_ms) continue;
            s.erase("t");
            readings.push_back({t, r.device_id, std::move(s)});
        }
    }
    std::sort(readings.begin(), readings.end(), [](const Reading& a, const Reading& b) {
        return std::tie(a.t, a.device) < std::tie(b.t, b.device);
    });
    // A cut list says so: the client asks again from the last reading it got.
    const auto max_rows = static_cast<std::size_t>(kMaxRawRows);
    const bool truncated = cut_ms != std::numeric_limits<std::int64_t>::max() || readings.size() > max_rows;
    if (readings.size() > max_rows) readings.resize(max_rows);
    json series = json::array();
    for (auto& rd : readings) {
        json pts = std::move(rd.points);
        if (q.point) {
            json v = pts.contains("values") && pts["values"].contains(*q.point) ? pts["values"][*q.point]
                                                                                : json(nullptr);
            pts = {{"values", {{*q.point, v}}}};
        }
        series.push_back({{"device_id", rd.device},
                          {"t", format_iso8601(from_epoch_ms(rd.t))},
                          {"points", std::move(pts)}});
    }
    return json_response(
        200, {{"site_id", q.site}, {"resolution", "raw"}, {"items", series}, {"truncated", truncated}});
}

// 5-minute buckets or local days ("5min", "day"). Days are the site's local calendar days; from/to select
// them by the day's UTC date range loosely.
Response aggregate_series(storage::Db& db, const TelemetryQuery& q, const std::string& resolution) {
    const storage::AggregateFilter filter{q.device, q.point};
    auto rows =
        resolution == "5min"
            ? storage::five_minute_telemetry(db, q.site, to_epoch_ms(q.from), to_epoch_ms(q.to), filter)
            : storage::daily_telemetry(
                  db, q.site, date::format("%F", date::floor<date::days>(q.from - std::chrono::hours(14))),
                  date::format("%F", date::floor<date::days>(q.to + std::chrono::hours(14))), filter);
    if (!rows) return from_error(rows.error());
    json series = json::array();
    for (const auto& r : *rows) {
        json item = {{"device_id", r.device_id},
                     {"point", r.point},
                     {"n", r.n},
                     {"mean", r.sum / static_cast<double>(std::max<std::int64_t>(1, r.n))},
                     {"min", r.min},
                     {"max", r.max}};
        if (resolution == "5min") {
            item["t"] = format_iso8601(from_epoch_ms(r.bucket_ms));
        } else {
            item["day"] = r.day;
            item["first"] = r.first;
            item["last"] = r.last;
        }
        series.push_back(std::move(item));
    }
    return json_response(200, {{"site_id", q.site}, {"resolution", resolution}, {"items", series}});
}

// The dashboard's figures. Each comes from its own query; one that fails reads as 0 (or null), so the
// dashboard shows what it can.
json work_order_figures(storage::Db& db, TimePoint now) {
    const std::int64_t now_ms = to_epoch_ms(now);
    json out;
    json by_sev = json::object();
    for (const char* s : {"critical", "major", "minor", "info"})
        by_sev[s] = storage::count_open_work_orders_of_severity(db, s).value_or(0);
    out["open_work_orders_by_severity"] = by_sev;
    json by_age = json::object();
    by_age["under_1d"] = storage::count_open_work_orders_created(db, now_ms - 86'400'000, {}).value_or(0);
    by_age["1d_to_7d"] =
        storage::count_open_work_orders_created(db, now_ms - 7 * 86'400'000LL, now_ms - 86'400'000)
            .value_or(0);
    by_age["over_7d"] =
        storage::count_open_work_orders_created(db, {}, now_ms - 7 * 86'400'000LL).value_or(0);
    out["open_work_orders_by_age"] = by_age;
    // SLA colours of open orders, from the same rule the work-order view uses.
    json sla = {{"green", 0}, {"yellow", 0}, {"red", 0}};
    if (auto open = storage::open_work_order_dates(db))
        for (const auto& d : *open) {
            workorders::WorkOrder w;
            w.state = workorders::WorkOrderState::new_order;
            w.created_at = from_epoch_ms(d.created_at_ms);
            w.due_at = from_epoch_ms(d.due_at_ms);
            const std::string colour(workorders::to_string(workorders::sla_state(w, now)));
            sla[colour] = sla[colour].get<int>() + 1;
        }
    out["sla"] = sla;
    // Mean time to repair: created → closed, over orders closed by a technician's work in the last 30 days.
    auto mttr = storage::mean_repair_ms(db, now_ms - 30 * 86'400'000LL);
    out["mttr_hours"] = mttr && *mttr ? json(**mttr / 3.6e6) : json(nullptr);
    return out;
}

// Clear-sky expectation of today (each site's local day) for the sites with a location and arrays: the whole
// day and the part up to now, so "today so far" can be compared with "expected so far".
void add_expected_today(storage::Db& db, TimePoint now, json& out) {
    double expected_day = 0;
    double expected_so_far = 0;
    int sites_with_model = 0;
    if (auto sites = storage::sites_with_model(db))
        for (const auto& site : *sites) {
            const date::time_zone* zone = nullptr;
            try {
                zone = date::locate_zone(site.time_zone);
            } catch (const std::exception&) {
                zone = date::locate_zone("UTC");
            }
            const auto local_today = date::floor<date::days>(zone->to_local(now));
            const DayCurve* c = day_curve(db, site.site_id, site.version, local_today);
            if (c == nullptr) continue;
            ++sites_with_model;
            expected_day += c->cumulative_kwh.back();
            expected_so_far += expected_until(*c, now);
        }
    out["expected_today_kwh"] = sites_with_model > 0 ? json(expected_day) : json(nullptr);
    out["expected_so_far_kwh"] = sites_with_model > 0 ? json(expected_so_far) : json(nullptr);
    out["sites_with_expectation"] = sites_with_model;
}

json fleet_stats(ApiContext& ctx) {
    storage::Db& db = *ctx.db;
    const TimePoint now = ctx.clock->now();
    json out;
    out["sites"] = storage::count_sites(db).value_or(0);
    out["sites_unassigned"] = storage::count_unassigned_sites(db).value_or(0);
    // Online: the retained status says online and a heartbeat arrived within 15 minutes.
    out["sites_online"] = storage::count_sites_online(db, to_epoch_ms(now) - 15 * 60 * 1000).value_or(0);
    out["sites_offline"] = out["sites"].get<std::int64_t>() - out["sites_online"].get<std::int64_t>();
    out.update(work_order_figures(db, now));
    // Generation today: per device, last − first of the energy counter on the site's local day (UTC day as
    // the key for sites without readings today is fine: they contribute nothing).
    const std::string today = date::format("%F", date::floor<date::days>(now));
    const std::string yesterday = date::format("%F", date::floor<date::days>(now - std::chrono::hours(24)));
    out["generation_today_kwh"] = storage::fleet_energy_of_day_wh(db, today).value_or(0.0) / 1000.0;
    out["generation_yesterday_kwh"] = storage::fleet_energy_of_day_wh(db, yesterday).value_or(0.0) / 1000.0;
    // Expected: installed kWp × clear-sky-free rule of thumb is misleading; report the fleet's kWp so the UI
    // can show specific yield (kWh/kWp) instead.
    double kwp = 0;
    if (auto arrays = storage::site_arrays_json(db))
        for (const auto& text : *arrays) {
            try {
                for (const auto& a : json::parse(text)) kwp += a.value("kwp", 0.0);
            } catch (const std::exception&) {
            }
        }
    out["installed_kwp"] = kwp;
    add_expected_today(db, now, out);
    if (ctx.ingest_stats) out["ingest"] = ctx.ingest_stats();
    out["at"] = format_iso8601(now);
    return out;
}

// GET /api/sites/{site_id}/expected: kWh per local day, or the power curve of one day.
Response expected_generation(ApiContext& ctx, Request& req) {
    const std::string site = req.params.at("site_id");
    if (auto p = check_site_visible(ctx, req, site); !p) return p.refusal();
    auto e = site_expectation(*ctx.db, site);
    if (!e)
        return problem(404, "Not Found",
                       "site " + site + " has no location or PV arrays on record: nothing to expect");
    if (auto day_text = req.query_param("day")) {
        auto day = parse_day(*day_text);
        if (!day) return problem(400, "Bad Request", "day: expected YYYY-MM-DD", "day");
        const auto [from, to] = local_day_bounds(e->zone, *day);
        json points = json::array();
        solar::ExpectedPower out;
        for (TimePoint t = from; t <= to; t += std::chrono::minutes(5)) {
            e->model.at(t, {}, out);
            points.push_back({{"t", format_iso8601(t)}, {"kw", out.total_ac_w / 1000.0}});
        }
        return json_response(
            200, {{"site_id", site},
                  {"basis", "clear-sky"},
                  {"day", *day_text},
                  {"kwh",
                   day_curve(*ctx.db, site, site_record_version(*ctx.db, site), *day)->cumulative_kwh.back()},
                  {"points", points}});
    }
    auto from = parse_day(req.query_param("from").value_or(""));
    auto to = parse_day(req.query_param("to").value_or(""));
    if (!from) return problem(400, "Bad Request", "from: expected YYYY-MM-DD", "from");
    if (!to) return problem(400, "Bad Request", "to: expected YYYY-MM-DD", "to");
    if (*to < *from || *to - *from > date::days(400))
        return problem(400, "Bad Request", "to: must be from..from + 400 days", "to");
    json days = json::array();
    const auto version = site_record_version(*ctx.db, site);
    for (auto d = *from; d <= *to; d += date::days(1)) {
        const DayCurve* c = day_curve(*ctx.db, site, version, d);
        days.push_back({{"day", date::format("%F", d)}, {"kwh", c ? c->cumulative_kwh.back() : 0.0}});
    }
    return json_response(200, {{"site_id", site}, {"basis", "clear-sky"}, {"days", days}});
}

}  // namespace

void add_telemetry_routes(Router& router, ApiContext& ctx) {
    router.add(
        "GET", "/api/sites/{site_id}/telemetry",
        {"Telemetry of a site: resolution raw|5min|day, from/to (ISO-8601), optional device and point",
         kAllRoles, "telemetry"},
        [&ctx](Request& req) {
            const std::string site = req.params.at("site_id");
            std::optional<TimePoint> from;
            std::optional<TimePoint> to;
            if (auto p = query_time(req, "from", from); !p) return p.refusal();
            if (auto p = query_time(req, "to", to); !p) return p.refusal();
            const TimePoint now = ctx.clock->now();
            const TimePoint t_to = to.value_or(now);
            const TimePoint t_from = from.value_or(t_to - std::chrono::hours(24));
            if (t_from > t_to) return problem(400, "Bad Request", "from: after to", "from");
            const std::string resolution = req.query_param("resolution").value_or("5min");
            const auto device = req.query_param("device");
            const auto point = req.query_param("point");
            if (auto p = check_site_visible(ctx, req, site); !p) return p.refusal();
            const TelemetryQuery q{site, t_from, t_to, device, point};
            if (resolution == "raw") return raw_series(*ctx.db, q);
            if (resolution != "5min" && resolution != "day")
                return problem(400, "Bad Request",
                               "resolution: unknown '" + resolution + "' (expected raw, 5min, day)",
                               "resolution");
            return aggregate_series(*ctx.db, q, resolution);
        });

    router.add("GET", "/api/sites/{site_id}/expected",
               {"Clear-sky expected generation of a site from its location and arrays: kWh per local day "
                "(from/to as YYYY-MM-DD), or the power curve of one day (day=YYYY-MM-DD&resolution=5min)",
                kAllRoles, "telemetry"},
               [&ctx](Request& req) { return expected_generation(ctx, req); });

    router.add("GET", "/api/sites/{site_id}/status",
               {"The gateway's last status (online/offline, backlog, polls)", kAllRoles, "sites"},
               [&ctx](Request& req) {
                   if (auto p = check_site_visible(ctx, req, req.params.at("site_id")); !p) return p.refusal();
                   auto r = storage::site_status(*ctx.db, req.params.at("site_id"));
                   if (!r) return from_error(r.error());
                   if (!*r)
                       return problem(404, "Not Found",
                                      "no status from site " + req.params.at("site_id") + " yet");
                   json j = json::parse((*r)->body_json);
                   j["received_at"] = format_iso8601(from_epoch_ms((*r)->received_at_ms));
                   return json_response(200, j);
               });

    router.add("GET", "/api/stats", {"Fleet statistics for the dashboard", kReadRoles, "stats"},
               [&ctx](Request&) { return json_response(200, fleet_stats(ctx)); });
}

}  // namespace pvfleet::api::detail
