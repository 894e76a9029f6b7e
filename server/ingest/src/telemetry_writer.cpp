// Raw readings and their aggregates for the batches of one group commit, a few statements for the whole commit:
// one raw row per device and batch (table telemetry_raw, no row spanning storage::kRawRowSpanMs), a reading
// already stored under another seq dropped, and the 5-minute and local-day aggregates summed in memory first, so
// each (device, bucket, point) is one upsert however many samples feed it.
#include <date/tz.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "ledger_parts.hpp"
#include "pvfleet/storage/bulk.hpp"
#include "pvfleet/storage/telemetry_raw.hpp"

namespace pvfleet::ingest {

using storage::Db;
using storage::run_bulk;
using storage::Value;

namespace {

constexpr std::int64_t kFiveMinutesMs = 5 * 60 * 1000;
using Batches = std::vector<const protocol::TelemetryBatch*>;
using DeviceKey = std::pair<std::string_view, std::string_view>;  // site, device

// One device's readings from one batch, in time order, at most kRawRowSpanMs from first to last: one row of
// telemetry_raw.
struct RawChunk {
    const protocol::TelemetryBatch* batch = nullptr;
    std::string_view device;
    std::vector<const domain::Sample*> samples;
    std::int64_t first = 0, last = 0;
};

// Keys of the in-memory aggregation of one group commit. Views point into the messages being ingested.
struct BucketKey {
    std::string_view site, device, point;
    std::int64_t bucket_ms;
    auto operator<=>(const BucketKey&) const = default;
};
struct DayKey {
    std::string_view site, device, point;
    std::int64_t day;  // local days since 1970-01-01
    auto operator<=>(const DayKey&) const = default;
};
struct Stats {
    std::int64_t n = 0;
    double sum = 0, min = 0, max = 0;
    std::int64_t first_t = 0, last_t = 0;
    double first = 0, last = 0;
    void add(double v, std::int64_t t) {
        if (n == 0 || v < min) min = v;
        if (n == 0 || v > max) max = v;
        if (n == 0 || t < first_t) first_t = t, first = v;
        if (n == 0 || t > last_t) last_t = t, last = v;
        ++n;
        sum += v;
    }
};

std::string format_day(std::int64_t day) {
    const date::year_month_day ymd{date::sys_days{date::days{day}}};
    char buf[16];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    return buf;
}

const date::time_zone* zone_or_utc(const std::string& name) {
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return date::locate_zone("UTC");
    }
}

// Splits each batch into chunks: per device, time-sorted, a time repeated within the batch kept once.
std::vector<RawChunk> chunk_batches(const Batches& batches) {
    std::vector<RawChunk> chunks;
    std::vector<std::pair<std::string_view, std::vector<const domain::Sample*>>> by_device;
    for (const auto* b : batches) {
        by_device.clear();
        for (const auto& s : b->samples) {
            auto it = std::find_if(by_device.begin(), by_device.end(), [&](const auto& d) { return d.first == s.device_id; });
            if (it == by_device.end()) it = by_device.insert(by_device.end(), {s.device_id, {}});
            it->second.push_back(&s);
        }
        for (auto& [device, samples] : by_device) {
            std::stable_sort(samples.begin(), samples.end(), [](const auto* x, const auto* y) { return x->t < y->t; });
            std::size_t open = chunks.size();  // none yet
            for (const auto* s : samples) {
                const std::int64_t t = to_epoch_ms(s->t);
                if (open < chunks.size() && t == chunks[open].last) continue;
                if (open == chunks.size() || t - chunks[open].first >= storage::kRawRowSpanMs) {
                    open = chunks.size();
                    chunks.push_back(RawChunk{b, device, {}, t, t});
                }
                chunks[open].samples.push_back(s);
                chunks[open].last = t;
            }
        }
    }
    return chunks;
}

// Devices seen: first and newest sample of each.
Status upsert_devices(Db& db, const Batches& batches) {
    struct Seen {
        std::int64_t first, last;
    };
    std::map<DeviceKey, Seen> devices;
    for (const auto* b : batches)
        for (const auto& s : b->samples) {
            const std::int64_t t = to_epoch_ms(s.t);
            auto [it, added] = devices.try_emplace({b->site_id, s.device_id}, Seen{t, t});
            if (!added) {
                it->second.first = std::min(it->second.first, t);
                it->second.last = std::max(it->second.last, t);
            }
        }
    std::vector<Value> device_rows;
    for (const auto& [key, seen] : devices)
        device_rows.insert(device_rows.end(), {std::string(key.first), std::string(key.second), seen.first, seen.last});
    PVF_CHECK(run_bulk(db,
                       {"INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ", "(?, ?, ?, ?)",
                        " ON CONFLICT (site_id, device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms WHERE "
                        "devices.last_seen_ms IS NULL OR devices.last_seen_ms < excluded.last_seen_ms",
                        4},
                       device_rows));
    return {};
}

using Taken = std::map<std::pair<std::string, std::string>, std::set<std::int64_t>>;  // (site, device) -> times

// The times of readings already stored that the chunks could repeat: those of the rows whose span overlaps a
// chunk's (normally none). One primary-key range lookup per chunk. PostgreSQL gets LATERAL with OFFSET 0 (which
// keeps the subquery from being merged into a plain join) to keep it so: with the table's statistics behind its
// growth (a young database) its planner chose a hash join over a full scan, 55 ms per commit at 100 000 rows and
// growing. SQLite has no LATERAL and always loops over v with the index.
Result<Taken> stored_times(Db& db, const std::vector<RawChunk>& chunks) {
    std::vector<Value> probe;
    probe.reserve(chunks.size() * 4);
    for (const auto& c : chunks) probe.insert(probe.end(), {c.batch->site_id, std::string(c.device), c.first, c.last});
    const std::string overlaps = "r.site_id = v.s AND r.device_id = v.d AND r.t_first_ms > v.a - " +
                                 std::to_string(storage::kRawRowSpanMs) +
                                 " AND r.t_first_ms <= v.b AND r.t_last_ms >= v.a";
    const std::string probe_tail =
        db.engine() == storage::Engine::postgres
            ? ") SELECT x.site_id, x.device_id, x.samples FROM v CROSS JOIN LATERAL (SELECT r.site_id, r.device_id, "
              "r.samples FROM telemetry_raw r WHERE " + overlaps + " OFFSET 0) x"
            : ") SELECT r.site_id, r.device_id, r.samples FROM v JOIN telemetry_raw r ON " + overlaps;
    auto overlapping = run_bulk(db,
                                {"WITH v(s, d, a, b) AS (VALUES ",
                                 "(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))", probe_tail,
                                 4},
                                probe);
    if (!overlapping) return overlapping.error();
    Taken taken;  // rare: only readings seen again
    for (const auto& r : overlapping->rows) {
        auto& times = taken[{r.text(0), r.text(1)}];
        const auto stored = nlohmann::json::parse(r.text(2), nullptr, false);
        if (!stored.is_array()) continue;
        for (const auto& s : stored)
            if (s.is_object() && s.contains("t") && s["t"].is_number_integer()) times.insert(s["t"].get<std::int64_t>());
    }
    return taken;
}

// Writes the raw rows of the chunks, less the readings stored before (`taken`) or by an earlier chunk of this
// commit (a reading sent again in a batch of the same commit); returns the chunks kept, as trimmed.
Result<std::vector<const RawChunk*>> write_raw(Db& db, std::vector<RawChunk>& chunks, const Taken& taken) {
    std::map<DeviceKey, std::vector<const RawChunk*>> kept_by_device;
    std::vector<Value> raw;
    raw.reserve(chunks.size() * 7);
    std::vector<const RawChunk*> kept;
    std::string text;
    for (auto& c : chunks) {
        auto& earlier = kept_by_device[{c.batch->site_id, c.device}];
        const auto t_it = taken.find({c.batch->site_id, std::string(c.device)});
        const bool overlaps_commit = std::any_of(earlier.begin(), earlier.end(), [&](const RawChunk* e) {
            return e->first <= c.last && e->last >= c.first;
        });
        if (t_it != taken.end() || overlaps_commit) {
            std::set<std::int64_t> seen = t_it != taken.end() ? t_it->second : std::set<std::int64_t>{};
            for (const RawChunk* e : earlier)
                for (const auto* s : e->samples) seen.insert(to_epoch_ms(s->t));
            std::erase_if(c.samples, [&](const domain::Sample* s) { return seen.count(to_epoch_ms(s->t)) != 0; });
            if (c.samples.empty()) continue;
            c.first = to_epoch_ms(c.samples.front()->t);
            c.last = to_epoch_ms(c.samples.back()->t);
        }
        text.clear();
        text += '[';
        for (std::size_t i = 0; i < c.samples.size(); ++i) {
            if (i != 0) text += ',';
            append_sample_json(text, *c.samples[i]);
        }
        text += ']';
        raw.insert(raw.end(), {c.batch->site_id, std::string(c.device), c.first, i64(c.batch->seq), c.last,
                               static_cast<std::int64_t>(c.samples.size()), text});
        earlier.push_back(&c);
        kept.push_back(&c);
    }
    PVF_CHECK(run_bulk(db,
                       {"INSERT INTO telemetry_raw (site_id, device_id, t_first_ms, seq, t_last_ms, n, samples) VALUES ",
                        "(?, ?, ?, ?, ?, ?, ?)", " ON CONFLICT (site_id, device_id, t_first_ms, seq) DO NOTHING", 7},
                       raw));
    return kept;
}

Status upsert_five_minutes(Db& db, const std::map<BucketKey, Stats>& five) {
    std::vector<Value> rows;
    rows.reserve(five.size() * 8);
    for (const auto& [k, st] : five)
        rows.insert(rows.end(), {std::string(k.site), std::string(k.device), k.bucket_ms, std::string(k.point), st.n,
                                 st.sum, st.min, st.max});
    PVF_CHECK(run_bulk(
        db,
        {"INSERT INTO telemetry_5min (site_id, device_id, bucket_ms, point, n, sum, min, max) VALUES ",
         "(?, ?, ?, ?, ?, ?, ?, ?)",
         " ON CONFLICT (site_id, device_id, bucket_ms, point) DO UPDATE SET n = telemetry_5min.n + excluded.n, sum = "
         "telemetry_5min.sum + excluded.sum, min = CASE WHEN excluded.min < telemetry_5min.min THEN excluded.min ELSE "
         "telemetry_5min.min END, max = CASE WHEN excluded.max > telemetry_5min.max THEN excluded.max ELSE "
         "telemetry_5min.max END",
         8},
        rows));
    return {};
}

Status upsert_days(Db& db, const std::map<DayKey, Stats>& daily) {
    std::vector<Value> rows;
    rows.reserve(daily.size() * 12);
    for (const auto& [k, st] : daily)
        rows.insert(rows.end(), {std::string(k.site), std::string(k.device), format_day(k.day), std::string(k.point),
                                 st.n, st.sum, st.min, st.max, st.first_t, st.first, st.last_t, st.last});
    PVF_CHECK(run_bulk(
        db,
        {"INSERT INTO telemetry_daily (site_id, device_id, day, point, n, sum, min, max, first_t_ms, first, "
         "last_t_ms, last) VALUES ",
         "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
         " ON CONFLICT (site_id, device_id, day, point) DO UPDATE SET n = telemetry_daily.n + excluded.n, sum = "
         "telemetry_daily.sum + excluded.sum, min = CASE WHEN excluded.min < telemetry_daily.min THEN excluded.min "
         "ELSE telemetry_daily.min END, max = CASE WHEN excluded.max > telemetry_daily.max THEN excluded.max ELSE "
         "telemetry_daily.max END, first_t_ms = CASE WHEN excluded.first_t_ms < telemetry_daily.first_t_ms THEN "
         "excluded.first_t_ms ELSE telemetry_daily.first_t_ms END, first = CASE WHEN excluded.first_t_ms < "
         "telemetry_daily.first_t_ms THEN excluded.first ELSE telemetry_daily.first END, last_t_ms = CASE WHEN "
         "excluded.last_t_ms > telemetry_daily.last_t_ms THEN excluded.last_t_ms ELSE telemetry_daily.last_t_ms "
         "END, last = CASE WHEN excluded.last_t_ms > telemetry_daily.last_t_ms THEN excluded.last ELSE "
         "telemetry_daily.last END",
         12},
        rows));
    return {};
}

}  // namespace

const date::time_zone* TelemetryWriter::zone(const std::string& name) {
    auto it = zones_.find(name);
    if (it != zones_.end()) return it->second;
    return zones_.emplace(name, zone_or_utc(name)).first->second;
}

Status TelemetryWriter::write(Db& db, const Batches& batches, IngestOutcome& out) {
    if (batches.empty()) return {};
    std::vector<Value> site_list;
    for (const auto* b : batches)
        if (site_list.empty() || std::get<std::string>(site_list.back()) != b->site_id) site_list.emplace_back(b->site_id);
    auto tz = run_bulk(db, {"SELECT site_id, time_zone FROM sites WHERE site_id IN (", "?", ")", 1}, site_list);
    if (!tz) return tz.error();
    std::map<std::string, const date::time_zone*, std::less<>> zones;
    for (const auto& r : tz->rows) zones.emplace(r.text(0), zone(r.text(1)));
    PVF_CHECK(upsert_devices(db, batches));

    std::vector<RawChunk> chunks = chunk_batches(batches);
    auto taken = stored_times(db, chunks);
    if (!taken) return taken.error();
    auto kept = write_raw(db, chunks, *taken);
    if (!kept) return kept.error();

    std::map<BucketKey, Stats> five;
    std::map<DayKey, Stats> daily;
    for (const RawChunk* c : *kept) {
        const auto* b = c->batch;
        auto z = zones.find(b->site_id);
        const date::time_zone* site_zone = z != zones.end() ? z->second : zone("UTC");
        // Local day boundaries of the last sample, reused while samples stay within that day.
        std::int64_t day_from = 1, day_to = 0, day = 0;
        for (const domain::Sample* sp : c->samples) {
            const domain::Sample& s = *sp;
            const std::int64_t t = to_epoch_ms(s.t);
            ++out.samples;
            if (t < day_from || t >= day_to) {
                const auto local_day = date::floor<date::days>(site_zone->to_local(s.t));
                day = local_day.time_since_epoch().count();
                day_from = to_epoch_ms(site_zone->to_sys(date::local_seconds{local_day}, date::choose::earliest));
                day_to = to_epoch_ms(
                    site_zone->to_sys(date::local_seconds{local_day + date::days{1}}, date::choose::earliest));
            }
            // Aggregates cover raw readings only; a quota aggregate batch (already 5-minute means) feeds them as
            // one reading per bucket, which is what it is.
            const std::int64_t bucket = t - (((t % kFiveMinutesMs) + kFiveMinutesMs) % kFiveMinutesMs);
            for (const auto& [point, value] : s.values) {
                ++out.points;
                five[BucketKey{b->site_id, s.device_id, point, bucket}].add(value, t);
                daily[DayKey{b->site_id, s.device_id, point, day}].add(value, t);
            }
        }
    }
    PVF_CHECK(upsert_five_minutes(db, five));
    return upsert_days(db, daily);
}

}  // namespace pvfleet::ingest
