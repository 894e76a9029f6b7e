#include "pvfleet/storage/store.hpp"

#include <date/tz.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "bulk.hpp"
#include "migrations.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::storage {
namespace {

using json = nlohmann::json;
constexpr std::int64_t kFiveMinutesMs = 5 * 60 * 1000;
constexpr std::int64_t kRejectsKept = 10'000;

std::int64_t i64(std::uint64_t v) {
    return static_cast<std::int64_t>(v);
}

void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    for (const char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    out += '"';
}

void append_json_number(std::string& out, double v) {
    if (!std::isfinite(v)) {  // JSON has no NaN or infinity
        out += "null";
        return;
    }
    char buf[32];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);  // shortest text that reads back as v
    out.append(buf, r.ptr);
}

// One reading as stored in a raw row: {"t":ms,"values":{…},"arrays":{…},"state":"…","events":[…]}, the keys in
// this order and each left out when empty. Written straight into the row's text rather than through a JSON tree
// or a string per reading: it runs for every reading ingested.
void append_sample_json(std::string& out, const domain::Sample& s) {
    out += "{\"t\":";
    out += std::to_string(to_epoch_ms(s.t));
    // ,"key":{"name":…,…} for a map by point name; `item` writes one value.
    auto members = [&](std::string_view key, const auto& by_name, auto item) {
        if (by_name.empty()) return;
        out += ',';
        append_json_string(out, key);
        out += ":{";
        bool first = true;
        for (const auto& [name, v] : by_name) {
            if (!first) out += ',';
            first = false;
            append_json_string(out, name);
            out += ':';
            item(v);
        }
        out += '}';
    };
    members("values", s.values, [&](double v) { append_json_number(out, v); });
    members("arrays", s.arrays, [&](const auto& arr) {
        out += '[';
        for (std::size_t i = 0; i < arr.size(); ++i) {
            if (i != 0) out += ',';
            if (arr[i])
                append_json_number(out, *arr[i]);
            else
                out += "null";
        }
        out += ']';
    });
    if (s.state) {
        out += ",\"state\":";
        append_json_string(out, domain::to_string(*s.state));
    }
    if (!s.events.empty()) {
        out += ",\"events\":[";
        for (std::size_t i = 0; i < s.events.size(); ++i) {
            if (i != 0) out += ',';
            append_json_string(out, s.events[i]);
        }
        out += ']';
    }
    out += '}';
}

const date::time_zone* zone_or_utc(const std::string& name) {
    try {
        return date::locate_zone(name);
    } catch (const std::exception&) {
        return date::locate_zone("UTC");
    }
}

}  // namespace

Store::Store(std::unique_ptr<Db> db, const Clock& clock) : db_(std::move(db)), clock_(clock) {}
Store::~Store() = default;

Result<int> Store::migrate() {
    return storage::migrate(*db_, clock_.now());
}

namespace {

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

}  // namespace

const date::time_zone* Store::zone(const std::string& name) {
    auto it = zones_.find(name);
    if (it != zones_.end()) return it->second;
    return zones_.emplace(name, zone_or_utc(name)).first->second;
}

// Sites not on record are created unassigned (never dropped). On PostgreSQL the batch's sites are locked in
// one sorted statement: it serialises ingest of a site across server instances (shared subscriptions), so the
// sequence bookkeeping and the one-open-work-order rule see each other's commits, and two instances never
// deadlock on each other's batches.
Status Store::prepare_sites(const std::vector<std::string>& sites, std::int64_t now_ms,
                            std::vector<std::string>& created) {
    std::vector<Value> site_rows, seq_rows;
    for (const auto& s : sites) {
        if (known_sites_.count(s) != 0) continue;
        site_rows.insert(site_rows.end(), {s, now_ms, now_ms, now_ms});
        seq_rows.emplace_back(s);
        created.push_back(s);
    }
    if (!seq_rows.empty()) {
        PVF_CHECK(run_bulk(*db_,
                           {"INSERT INTO sites (site_id, first_seen_ms, created_at_ms, updated_at_ms) VALUES ",
                            "(?, ?, ?, ?)", " ON CONFLICT (site_id) DO NOTHING", 4},
                           site_rows));
        PVF_CHECK(run_bulk(*db_, {"INSERT INTO site_seq (site_id) VALUES ", "(?)", " ON CONFLICT (site_id) DO NOTHING", 1},
                           seq_rows));
    }
    if (db_->engine() == Engine::postgres) {
        std::vector<Value> all(sites.begin(), sites.end());
        PVF_CHECK(run_bulk(*db_, {"SELECT site_id FROM site_seq WHERE site_id IN (", "?", ") ORDER BY site_id FOR UPDATE", 1},
                           all));
    }
    return {};
}

Result<IngestOutcome> Store::ingest(const std::vector<protocol::Message>& messages) {
    const TimePoint now = clock_.now();
    const std::int64_t now_ms = to_epoch_ms(now);
    // Site order (then seq) for a stable lock order and deterministic processing.
    std::vector<const protocol::Message*> ordered;
    ordered.reserve(messages.size());
    for (const auto& m : messages) ordered.push_back(&m);
    auto seq_of = [](const protocol::Message& m) -> protocol::Seq {
        if (const auto* b = std::get_if<protocol::TelemetryBatch>(&m)) return b->seq;
        if (const auto* t = std::get_if<protocol::TicketEventMessage>(&m)) return t->seq;
        return 0;
    };
    std::stable_sort(ordered.begin(), ordered.end(), [&](const auto* a, const auto* b) {
        const auto& sa = protocol::site_of(*a);
        const auto& sb = protocol::site_of(*b);
        if (sa != sb) return sa < sb;
        return seq_of(*a) < seq_of(*b);
    });
    std::vector<std::string> sites;
    for (const auto* m : ordered)
        if (sites.empty() || sites.back() != protocol::site_of(*m)) sites.push_back(protocol::site_of(*m));

    std::vector<std::string> created;
    auto result = in_transaction(*db_, [&]() -> Result<IngestOutcome> {
        created.clear();
        IngestOutcome out;
        PVF_CHECK(prepare_sites(sites, now_ms, created));
        std::map<std::string, std::vector<std::int64_t>> touched;  // site -> seqs applied now (seq bookkeeping due)

        // Status, acks, echoed commands: few, one by one.
        std::vector<const protocol::Message*> sequenced;
        for (const auto* m : ordered) {
            if (std::holds_alternative<protocol::TelemetryBatch>(*m) ||
                std::holds_alternative<protocol::TicketEventMessage>(*m)) {
                sequenced.push_back(m);
                continue;
            }
            PVF_CHECK(ingest_unsequenced(*m, now_ms, out, touched));
        }
        if (!sequenced.empty()) {
            // (site, seq) is the idempotency key: the rows RETURNING gives back are the messages stored now.
            std::vector<Value> rows;
            rows.reserve(sequenced.size() * 5);
            const protocol::Message* prev = nullptr;
            std::vector<const protocol::Message*> unique;
            for (const auto* m : sequenced) {
                if (prev != nullptr && protocol::site_of(*prev) == protocol::site_of(*m) && seq_of(*prev) == seq_of(*m)) {
                    ++out.duplicates;  // delivered twice within one batch
                    continue;
                }
                prev = m;
                unique.push_back(m);
                const bool tel = std::holds_alternative<protocol::TelemetryBatch>(*m);
                const bool hist = tel ? std::get<protocol::TelemetryBatch>(*m).historical
                                      : std::get<protocol::TicketEventMessage>(*m).historical;
                rows.insert(rows.end(), {protocol::site_of(*m), i64(seq_of(*m)),
                                         std::string(tel ? "telemetry" : "ticket_event"),
                                         std::int64_t{hist ? 1 : 0}, now_ms});
            }
            auto inserted = run_bulk(*db_,
                                     {"INSERT INTO received (site_id, seq, kind, historical, received_at_ms) VALUES ",
                                      "(?, ?, ?, ?, ?)", " ON CONFLICT (site_id, seq) DO NOTHING RETURNING site_id, seq",
                                      5},
                                     rows);
            if (!inserted) return inserted.error();
            std::set<std::pair<std::string, std::int64_t>> fresh;
            for (const auto& r : inserted->rows) fresh.emplace(r.text(0), r.integer(1));
            std::vector<const protocol::TelemetryBatch*> batches;
            for (const auto* m : unique) {
                const auto& site = protocol::site_of(*m);
                const std::int64_t seq = i64(seq_of(*m));
                if (fresh.count({site, seq}) == 0) {
                    ++out.duplicates;
                    continue;
                }
                ++out.applied;
                touched[site].push_back(seq);
                if (const auto* b = std::get_if<protocol::TelemetryBatch>(m))
                    batches.push_back(b);
                else
                    PVF_CHECK(apply_ticket_event(std::get<protocol::TicketEventMessage>(*m), now, out));
            }
            PVF_CHECK(store_telemetry(batches, out));
        }
        PVF_CHECK(update_seq_state(touched));
        return out;
    });
    if (result) known_sites_.insert(created.begin(), created.end());
    return result;
}

Status Store::ingest_unsequenced(const protocol::Message& m, std::int64_t now_ms, IngestOutcome& out,
                                 std::map<std::string, std::vector<std::int64_t>>& touched) {
    const std::string& site = protocol::site_of(m);
    if (const auto* status = std::get_if<protocol::StatusMessage>(&m)) {
        auto body = protocol::encode(*status);
        if (!body) return body.error();
        // Retained status: the newest sent_at wins, whatever order deliveries come in.
        PVF_CHECK(db_->run(
            "INSERT INTO site_status (site_id, state, sent_at_ms, received_at_ms, body) VALUES ($1, $2, $3, "
            "$4, $5) ON CONFLICT (site_id) DO UPDATE SET state = excluded.state, sent_at_ms = "
            "excluded.sent_at_ms, received_at_ms = excluded.received_at_ms, body = excluded.body WHERE "
            "excluded.sent_at_ms >= site_status.sent_at_ms",
            {site, std::string(protocol::to_string(status->state)), to_epoch_ms(status->sent_at), now_ms,
             *body}));
        if (status->last_seq)
            PVF_CHECK(db_->run("UPDATE site_seq SET edge_last_seq = $2 WHERE site_id = $1 AND edge_last_seq < $2 "
                               "AND $2 <= max_seen + $3",
                               {site, i64(*status->last_seq), i64(kMaxTailAhead)}));
        for (const auto& d : status->devices)
            if (d.last_ok_poll)
                PVF_CHECK(db_->run(
                    "INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ($1, $2, "
                    "$3, $3) ON CONFLICT (site_id, device_id) DO NOTHING",
                    {site, d.device_id, to_epoch_ms(*d.last_ok_poll)}));
        touched[site];  // a newer edge_last_seq may reveal a tail gap
        ++out.statuses;
        return {};
    }
    if (const auto* ack = std::get_if<protocol::CommandAck>(&m)) {
        // An ack never downgrades a final status to "accepted".
        PVF_CHECK(db_->run(
            "UPDATE commands SET status = $3, detail = $4, acked_at_ms = $5 WHERE command_id = $1 AND "
            "site_id = $2 AND NOT (status IN ('done','failed','rejected','stale','duplicate') AND $3 = "
            "'accepted')",
            {ack->command_id, site, std::string(protocol::to_string(ack->status)), ack->detail,
             to_epoch_ms(ack->at)}));
        ++out.acks;
        return {};
    }
    return {};  // our own downlink echoed: nothing to do
}

namespace {

// One device's readings from one batch, in time order, at most kRawRowSpanMs from first to last: one row of
// telemetry_raw.
struct RawChunk {
    const protocol::TelemetryBatch* batch = nullptr;
    std::string_view device;
    std::vector<const domain::Sample*> samples;
    std::int64_t first = 0, last = 0;
};

// Splits each batch into chunks: per device, time-sorted, a time repeated within the batch kept once.
std::vector<RawChunk> chunk_batches(const std::vector<const protocol::TelemetryBatch*>& batches) {
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
                if (open == chunks.size() || t - chunks[open].first >= kRawRowSpanMs) {
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


}  // namespace

// Raw readings and their aggregates for the batches stored now, a few statements for the whole group commit:
// one raw row per device and batch, and the 5-minute and local-day aggregates summed in memory first, so each
// (device, bucket, point) is one upsert however many samples feed it.
Status Store::store_telemetry(const std::vector<const protocol::TelemetryBatch*>& batches, IngestOutcome& out) {
    if (batches.empty()) return {};
    std::vector<Value> site_list;
    for (const auto* b : batches)
        if (site_list.empty() || std::get<std::string>(site_list.back()) != b->site_id) site_list.emplace_back(b->site_id);
    auto tz = run_bulk(*db_, {"SELECT site_id, time_zone FROM sites WHERE site_id IN (", "?", ")", 1}, site_list);
    if (!tz) return tz.error();
    std::map<std::string, const date::time_zone*, std::less<>> zones;
    for (const auto& r : tz->rows) zones.emplace(r.text(0), zone(r.text(1)));

    // Devices seen (first and newest sample).
    struct Seen {
        std::int64_t first, last;
    };
    using DeviceKey = std::pair<std::string_view, std::string_view>;
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
    PVF_CHECK(run_bulk(*db_,
                       {"INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ", "(?, ?, ?, ?)",
                        " ON CONFLICT (site_id, device_id) DO UPDATE SET last_seen_ms = excluded.last_seen_ms WHERE "
                        "devices.last_seen_ms IS NULL OR devices.last_seen_ms < excluded.last_seen_ms",
                        4},
                       device_rows));

    // A reading already stored (same device and time, under another seq) is not stored or counted again. The
    // rows that could hold one are those whose span overlaps a chunk's; normally there are none.
    std::vector<RawChunk> chunks = chunk_batches(batches);
    std::vector<Value> probe;
    probe.reserve(chunks.size() * 4);
    for (const auto& c : chunks)
        probe.insert(probe.end(), {c.batch->site_id, std::string(c.device), c.first, c.last});
    // One primary-key range lookup per chunk. PostgreSQL gets LATERAL with OFFSET 0 (which keeps the subquery from
    // being merged into a plain join) to keep it so: with the table's statistics behind its growth (a young
    // database) its planner chose a hash join over a full scan, 55 ms per commit at 100 000 rows and growing.
    // SQLite has no LATERAL and always loops over v with the index.
    const std::string overlaps = "r.site_id = v.s AND r.device_id = v.d AND r.t_first_ms > v.a - " +
                                 std::to_string(kRawRowSpanMs) + " AND r.t_first_ms <= v.b AND r.t_last_ms >= v.a";
    const std::string probe_tail =
        db_->engine() == Engine::postgres
            ? ") SELECT x.site_id, x.device_id, x.samples FROM v CROSS JOIN LATERAL (SELECT r.site_id, r.device_id, "
              "r.samples FROM telemetry_raw r WHERE " + overlaps + " OFFSET 0) x"
            : ") SELECT r.site_id, r.device_id, r.samples FROM v JOIN telemetry_raw r ON " + overlaps;
    auto overlapping = run_bulk(*db_,
                                {"WITH v(s, d, a, b) AS (VALUES ",
                                 "(CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT))",
                                 probe_tail, 4},
                                probe);
    if (!overlapping) return overlapping.error();
    std::map<std::pair<std::string, std::string>, std::set<std::int64_t>> taken;  // rare: only readings seen again
    for (const auto& r : overlapping->rows) {
        auto& times = taken[{r.text(0), r.text(1)}];
        const auto stored = nlohmann::json::parse(r.text(2), nullptr, false);
        if (!stored.is_array()) continue;
        for (const auto& s : stored)
            if (s.is_object() && s.contains("t") && s["t"].is_number_integer()) times.insert(s["t"].get<std::int64_t>());
    }
    // Chunks of one commit may overlap each other too (a reading sent again in a batch of the same commit).
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
    PVF_CHECK(run_bulk(*db_,
                       {"INSERT INTO telemetry_raw (site_id, device_id, t_first_ms, seq, t_last_ms, n, samples) VALUES ",
                        "(?, ?, ?, ?, ?, ?, ?)", " ON CONFLICT (site_id, device_id, t_first_ms, seq) DO NOTHING", 7},
                       raw));

    std::map<BucketKey, Stats> five;
    std::map<DayKey, Stats> daily;
    for (const RawChunk* c : kept) {
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
    std::vector<Value> rows;
    rows.reserve(five.size() * 8);
    for (const auto& [k, st] : five)
        rows.insert(rows.end(), {std::string(k.site), std::string(k.device), k.bucket_ms, std::string(k.point), st.n,
                                 st.sum, st.min, st.max});
    PVF_CHECK(run_bulk(
        *db_,
        {"INSERT INTO telemetry_5min (site_id, device_id, bucket_ms, point, n, sum, min, max) VALUES ",
         "(?, ?, ?, ?, ?, ?, ?, ?)",
         " ON CONFLICT (site_id, device_id, bucket_ms, point) DO UPDATE SET n = telemetry_5min.n + excluded.n, sum = "
         "telemetry_5min.sum + excluded.sum, min = CASE WHEN excluded.min < telemetry_5min.min THEN excluded.min ELSE "
         "telemetry_5min.min END, max = CASE WHEN excluded.max > telemetry_5min.max THEN excluded.max ELSE "
         "telemetry_5min.max END",
         8},
        rows));
    rows.clear();
    rows.reserve(daily.size() * 12);
    for (const auto& [k, st] : daily)
        rows.insert(rows.end(), {std::string(k.site), std::string(k.device), format_day(k.day), std::string(k.point),
                                 st.n, st.sum, st.min, st.max, st.first_t, st.first, st.last_t, st.last});
    PVF_CHECK(run_bulk(
        *db_,
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

Status Store::apply_ticket_event(const protocol::TicketEventMessage& te, TimePoint now, IngestOutcome& out) {
    const std::string& site = te.site_id;
    auto body = protocol::encode(te);
    if (!body) return body.error();
    const auto& t = te.event.ticket;
    PVF_CHECK(db_->run(
        "INSERT INTO ticket_events (site_id, seq, ticket_id, kind, at_ms, historical, body) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7)",
        {site, i64(te.seq), t.id, std::string(domain::to_string(te.event.kind)), to_epoch_ms(te.event.at),
         std::int64_t{te.historical ? 1 : 0}, *body}));
    // The ticket row holds the newest snapshot by seq: an older event arriving late changes nothing.
    auto up = db_->run(
        "INSERT INTO tickets (site_id, ticket_id, device_id, kind, severity, state, summary, opened_at_ms, "
        "updated_at_ms, "
        "last_seq, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (site_id, "
        "ticket_id) DO "
        "UPDATE SET device_id = excluded.device_id, kind = excluded.kind, severity = excluded.severity, "
        "state = "
        "excluded.state, summary = excluded.summary, updated_at_ms = excluded.updated_at_ms, last_seq = "
        "excluded.last_seq, body = excluded.body WHERE tickets.last_seq < excluded.last_seq",
        {site, t.id, t.device_id, std::string(domain::to_string(t.kind)),
         std::string(domain::to_string(t.severity)), std::string(domain::to_string(t.state)), t.summary,
         to_epoch_ms(t.opened_at), to_epoch_ms(t.updated_at), i64(te.seq), *body});
    if (!up) return up.error();
    ++out.ticket_events;
    if (up->affected > 0 && sink_ != nullptr)
        PVF_CHECK(sink_->on_ticket_event(*db_, site, te.event, te.historical, now, out));
    return {};
}

// Moves contiguous_through over every seq that has arrived; a hole stops it and starts the grace clock. The
// seqs stored in this transaction are known, so the database is asked for more only when seqs beyond a hole
// arrived earlier (out of order). All touched sites are read in one statement and written in one.
Status Store::update_seq_state(const std::map<std::string, std::vector<std::int64_t>>& touched) {
    if (touched.empty()) return {};
    std::vector<Value> keys;
    for (const auto& [site, seqs] : touched) keys.emplace_back(site);
    auto st = run_bulk(*db_,
                       {"SELECT site_id, contiguous_through, max_seen, edge_last_seq, gap_since_ms, resend_at_ms, "
                        "resend_attempts FROM site_seq WHERE site_id IN (",
                        "?", ")", 1},
                       keys);
    if (!st) return st.error();
    const std::int64_t now_ms = to_epoch_ms(clock_.now());
    std::vector<Value> updates;
    for (const auto& row : st->rows) {
        const std::string site = row.text(0);
        const auto& seqs = touched.at(site);
        const std::int64_t through0 = row.integer(1);
        const std::int64_t max_seen0 = row.integer(2);
        std::int64_t max_seen = max_seen0;
        for (auto s : seqs) max_seen = std::max(max_seen, s);
        const std::int64_t target = std::max(max_seen, row.integer(3));
        std::int64_t through = through0;
        for (auto s : seqs) {  // sorted
            if (s <= through) continue;
            if (s != through + 1) break;
            through = s;
        }
        if (through < target && through < max_seen0) {
            // Seqs beyond a hole were stored before: continue over them from the database.
            for (;;) {
                auto next = db_->run(
                    "SELECT seq FROM received WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000", {site, through});
                if (!next) return next.error();
                bool moved = false;
                for (const auto& r : next->rows) {
                    if (r.integer(0) != through + 1) break;
                    through = r.integer(0);
                    moved = true;
                }
                if (!moved || next->rows.size() < 1000) break;
            }
        }
        const bool gap = through < target;
        const bool had_gap = !row.is_null(4);
        Value gap_since = row.cols[4];
        Value resend_at = row.cols[5];
        std::int64_t attempts = row.integer(6);
        if (!gap) {
            gap_since = nullptr;
            resend_at = nullptr;
            attempts = 0;
        } else if (!had_gap) {
            gap_since = now_ms;
        } else if (through > through0) {
            attempts = 0;  // the gateway is answering: the attempts count again from here
        }
        if (through == through0 && max_seen == max_seen0 && gap_since == row.cols[4] && resend_at == row.cols[5] &&
            attempts == row.integer(6))
            continue;
        updates.insert(updates.end(), {site, max_seen, through, gap_since, resend_at, attempts});
    }
    PVF_CHECK(run_bulk(*db_,
                       {"WITH v(sid, ms, th, gs, ra, att) AS (VALUES ",
                        "(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS "
                        "BIGINT), CAST(? AS BIGINT))",
                        ") UPDATE site_seq SET max_seen = v.ms, contiguous_through = v.th, gap_since_ms = v.gs, "
                        "resend_at_ms = v.ra, resend_attempts = v.att FROM v WHERE site_seq.site_id = v.sid",
                        6},
                       updates));
    return {};
}

Status Store::advance_seq(const std::string& site_id) {
    return update_seq_state({{site_id, {}}});
}


Result<std::vector<ResendRequest>> Store::due_resends(const GapPolicy& policy) {
    const std::int64_t now_ms = to_epoch_ms(clock_.now());
    return in_transaction(*db_, [&]() -> Result<std::vector<ResendRequest>> {
        std::vector<ResendRequest> out;
        auto rows = db_->run(
            "SELECT site_id, contiguous_through, max_seen, edge_last_seq, gap_since_ms, resend_at_ms, "
            "resend_attempts "
            "FROM site_seq WHERE gap_since_ms IS NOT NULL AND gap_since_ms <= $1 AND (resend_at_ms IS NULL "
            "OR "
            "resend_at_ms <= $2)" +
                std::string(db_->engine() == Engine::postgres ? " FOR UPDATE SKIP LOCKED" : ""),
            {now_ms - policy.grace.count(), now_ms - policy.retry.count()});
        if (!rows) return rows.error();
        for (const auto& r : rows->rows) {
            const std::string site = r.text(0);
            const std::int64_t through = r.integer(1);
            const std::int64_t target = std::max(r.integer(2), r.integer(3));
            const std::int64_t attempts = r.integer(6);
            // Every hole after the contiguous prefix (up to 32 per check), so many small holes left by one
            // crash are asked for together rather than one per check.
            auto received =
                db_->run("SELECT seq FROM received WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT 20000",
                         {site, through});
            if (!received) return received.error();
            constexpr std::size_t kMaxHoles = 32;
            std::vector<std::pair<std::int64_t, std::int64_t>> holes;
            std::int64_t prev = through;
            for (const auto& row : received->rows) {
                const std::int64_t seq = row.integer(0);
                if (seq > prev + 1) holes.emplace_back(prev + 1, seq - 1);
                prev = seq;
                if (holes.size() >= kMaxHoles) break;
            }
            if (holes.size() < kMaxHoles && prev < target && received->rows.size() < 20000)
                holes.emplace_back(prev + 1, target);
            if (holes.empty()) continue;
            // A jump: pass over it now, before anything is asked for. Only the first hole moves the contiguous
            // prefix; the holes before a later jump are asked for first, and the jump is passed once it is the
            // first.
            for (std::size_t i = 0; i < holes.size(); ++i) {
                const auto [from, to] = holes[i];
                if (static_cast<protocol::Seq>(to - from + 1) <= policy.max_gap) continue;
                holes.resize(i);
                if (i > 0) break;
                PVF_LOG(warn, "ingest",
                        "site " << site << ": seq jumped over " << from << ".." << to << " ("
                                << (to - from + 1) << " seqs, more than " << policy.max_gap
                                << "): not asked for, not counted lost");
                PVF_CHECK(db_->run(
                    "UPDATE site_seq SET contiguous_through = $2, resend_attempts = 0, resend_at_ms = NULL, "
                    "gap_since_ms = $3 WHERE site_id = $1",
                    {site, to, now_ms}));
                PVF_CHECK(advance_seq(site));
                break;
            }
            if (holes.empty()) continue;
            if (attempts >= policy.max_attempts) {
                // The gateway no longer has the first hole (quota, or it was replaced): count it lost, move
                // on.
                const auto [lost_from, lost_to] = holes.front();
                PVF_LOG(warn, "ingest",
                        "site " << site << ": seq " << lost_from << ".." << lost_to << " lost after "
                                << attempts << " resend requests");
                PVF_CHECK(db_->run(
                    "UPDATE site_seq SET contiguous_through = $2, lost = lost + $3, resend_attempts = 0, "
                    "resend_at_ms = NULL, gap_since_ms = $4 WHERE site_id = $1",
                    {site, lost_to, lost_to - lost_from + 1, now_ms}));
                PVF_CHECK(advance_seq(site));
                continue;
            }
            protocol::Seq budget = policy.max_range;
            for (const auto& [from, to] : holes) {
                if (budget == 0) break;
                ResendRequest req;
                req.site_id = site;
                req.from_seq = static_cast<protocol::Seq>(from);
                req.to_seq =
                    std::min<protocol::Seq>(static_cast<protocol::Seq>(to), req.from_seq + budget - 1);
                budget -= req.to_seq - req.from_seq + 1;
                req.attempt = static_cast<int>(attempts + 1);
                out.push_back(std::move(req));
            }
            PVF_CHECK(
                db_->run("UPDATE site_seq SET resend_at_ms = $2, resend_attempts = resend_attempts + 1 WHERE "
                         "site_id = $1",
                         {site, now_ms}));
        }
        return out;
    });
}

Result<std::optional<SiteSeqState>> Store::site_seq(const std::string& site_id) {
    auto r =
        db_->run("SELECT contiguous_through, max_seen, edge_last_seq, lost FROM site_seq WHERE site_id = $1",
                 {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<SiteSeqState>{};
    const auto& row = r->rows[0];
    return std::optional<SiteSeqState>{SiteSeqState{
        site_id, static_cast<protocol::Seq>(row.integer(0)), static_cast<protocol::Seq>(row.integer(1)),
        static_cast<protocol::Seq>(row.integer(2)), static_cast<std::uint64_t>(row.integer(3))}};
}

Status Store::record_reject(const std::string& topic, std::size_t bytes, const std::string& reason) {
    const std::int64_t now_ms = to_epoch_ms(clock_.now());
    return in_transaction(*db_, [&]() -> Status {
        PVF_CHECK(db_->run(
            "INSERT INTO ingest_rejects (at_ms, topic, bytes, reason) VALUES ($1, $2, $3, $4)",
            {now_ms, topic.substr(0, 512), static_cast<std::int64_t>(bytes), reason.substr(0, 2000)}));
        PVF_CHECK(db_->run("DELETE FROM ingest_rejects WHERE id <= (SELECT MAX(id) FROM ingest_rejects) - $1",
                           {kRejectsKept}));
        return {};
    });
}

Result<std::uint64_t> Store::reject_count() {
    auto r = db_->run("SELECT COALESCE(MAX(id), 0) FROM ingest_rejects");
    if (!r) return r.error();
    return static_cast<std::uint64_t>(r->rows[0].integer(0));
}

Status Store::record_command(const protocol::Command& command, const std::string& issued_by,
                             const std::string& body) {
    auto r = db_->run(
        "INSERT INTO commands (command_id, site_id, command, issued_at_ms, issued_by, body) VALUES ($1, $2, "
        "$3, $4, $5, $6) ON CONFLICT (command_id) DO NOTHING",
        {command.command_id, command.site_id, std::string(protocol::to_string(command.type())),
         to_epoch_ms(command.issued_at), issued_by, body});
    if (!r) return r.error();
    return {};
}

Result<std::uint64_t> Store::count(const std::string& table, const std::string& site_id) {
    static const std::set<std::string> kTables{
        "telemetry", "tickets", "ticket_events", "received",       "work_orders",
        "sites",     "devices", "commands",      "telemetry_5min", "telemetry_daily"};
    if (kTables.count(table) == 0) return Error::at("table", "unknown '" + table + "'");
    // "telemetry" counts raw readings (stored several to a row).
    const std::string what = table == "telemetry" ? "CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM telemetry_raw" : "COUNT(*) FROM " + table;
    auto r = site_id.empty() ? db_->run("SELECT " + what) : db_->run("SELECT " + what + " WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    return static_cast<std::uint64_t>(r->rows[0].integer(0));
}

}  // namespace pvfleet::storage
