#include "pvfleet/storage/store.hpp"

#include <date/tz.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "migrations.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::storage {
namespace {

using json = nlohmann::json;
constexpr std::int64_t kFiveMinutesMs = 5 * 60 * 1000;
constexpr std::int64_t kRejectsKept = 10'000;

#define PVF_CHECK(expr)                     \
    do {                                    \
        auto pvf_r_ = (expr);               \
        if (!pvf_r_) return pvf_r_.error(); \
    } while (false)

std::int64_t i64(std::uint64_t v) {
    return static_cast<std::int64_t>(v);
}

std::string sample_json(const domain::Sample& s) {
    json j = json::object();
    if (!s.values.empty()) j["values"] = s.values;
    if (!s.arrays.empty()) {
        json a = json::object();
        for (const auto& [name, arr] : s.arrays) {
            json items = json::array();
            for (const auto& v : arr) items.push_back(v ? json(*v) : json(nullptr));
            a[name] = std::move(items);
        }
        j["arrays"] = std::move(a);
    }
    if (s.state) j["state"] = domain::to_string(*s.state);
    if (!s.events.empty()) j["events"] = s.events;
    return j.dump();
}

// Local calendar day of `t` in the site's time zone ("2026-06-21"): daily aggregates are cut at local
// midnight.
std::string local_day(TimePoint t, const date::time_zone* zone) {
    const auto local = zone->to_local(t);
    return date::format("%F", date::floor<date::days>(local));
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

Status Store::ensure_site(const std::string& site_id, TimePoint now, std::map<std::string, bool>& sites) {
    if (sites.count(site_id) != 0) return {};
    const std::int64_t ms = to_epoch_ms(now);
    PVF_CHECK(db_->run(
        "INSERT INTO sites (site_id, first_seen_ms, created_at_ms, updated_at_ms) VALUES ($1, $2, $2, $2) "
        "ON CONFLICT (site_id) DO NOTHING",
        {site_id, ms}));
    PVF_CHECK(
        db_->run("INSERT INTO site_seq (site_id) VALUES ($1) ON CONFLICT (site_id) DO NOTHING", {site_id}));
    if (db_->engine() == Engine::postgres) {
        // Serialises ingest of one site across server instances (shared subscriptions): sequence bookkeeping
        // and the one-open-work-order rule see each other's commits.
        PVF_CHECK(db_->run("SELECT site_id FROM site_seq WHERE site_id = $1 FOR UPDATE", {site_id}));
    }
    sites.emplace(site_id, false);
    return {};
}

Result<IngestOutcome> Store::ingest(const std::vector<protocol::Message>& messages) {
    const TimePoint now = clock_.now();
    // Lock sites in a stable order so two instances never deadlock on each other's batches.
    std::vector<const protocol::Message*> ordered;
    ordered.reserve(messages.size());
    for (const auto& m : messages) ordered.push_back(&m);
    std::stable_sort(ordered.begin(), ordered.end(), [](const auto* a, const auto* b) {
        return protocol::site_of(*a) < protocol::site_of(*b);
    });
    return in_transaction(*db_, [&]() -> Result<IngestOutcome> {
        IngestOutcome out;
        std::map<std::string, bool> sites;  // site -> a sequenced message was applied (seq bookkeeping due)
        for (const auto* m : ordered) PVF_CHECK(ingest_one(*m, now, out, sites));
        for (const auto& [site, touched] : sites)
            if (touched) PVF_CHECK(advance_seq(site));
        return out;
    });
}

Status Store::ingest_one(const protocol::Message& m, TimePoint now, IngestOutcome& out,
                         std::map<std::string, bool>& sites) {
    const std::string& site = protocol::site_of(m);
    PVF_CHECK(ensure_site(site, now, sites));
    const std::int64_t now_ms = to_epoch_ms(now);

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
            PVF_CHECK(
                db_->run("UPDATE site_seq SET edge_last_seq = $2 WHERE site_id = $1 AND edge_last_seq < $2",
                         {site, i64(*status->last_seq)}));
        for (const auto& d : status->devices)
            if (d.last_ok_poll)
                PVF_CHECK(db_->run(
                    "INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ($1, $2, "
                    "$3, $3) ON CONFLICT (site_id, device_id) DO NOTHING",
                    {site, d.device_id, to_epoch_ms(*d.last_ok_poll)}));
        sites[site] = true;  // a newer edge_last_seq may reveal a tail gap
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
    if (std::holds_alternative<protocol::Command>(m)) return {};  // our own downlink echoed: nothing to do

    // Sequenced: telemetry or ticket event. The (site, seq) row is the idempotency key.
    const bool is_telemetry = std::holds_alternative<protocol::TelemetryBatch>(m);
    const protocol::Seq seq = is_telemetry ? std::get<protocol::TelemetryBatch>(m).seq
                                           : std::get<protocol::TicketEventMessage>(m).seq;
    const bool historical = is_telemetry ? std::get<protocol::TelemetryBatch>(m).historical
                                         : std::get<protocol::TicketEventMessage>(m).historical;
    auto first = db_->run(
        "INSERT INTO received (site_id, seq, kind, historical, received_at_ms) VALUES ($1, $2, $3, $4, "
        "$5) ON CONFLICT (site_id, seq) DO NOTHING",
        {site, i64(seq), std::string(is_telemetry ? "telemetry" : "ticket_event"),
         std::int64_t{historical ? 1 : 0}, now_ms});
    if (!first) return first.error();
    if (first->affected == 0) {
        ++out.duplicates;
        return {};
    }
    ++out.applied;
    sites[site] = true;
    PVF_CHECK(
        db_->run("UPDATE site_seq SET max_seen = $2 WHERE site_id = $1 AND max_seen < $2", {site, i64(seq)}));

    if (is_telemetry) {
        const auto& batch = std::get<protocol::TelemetryBatch>(m);
        if (batch.samples.empty()) return {};
        auto tz = db_->run("SELECT time_zone FROM sites WHERE site_id = $1", {site});
        if (!tz) return tz.error();
        const date::time_zone* zone = zone_or_utc(tz->rows.empty() ? "UTC" : tz->rows[0].text(0));
        std::set<std::string> devices;
        for (const auto& s : batch.samples) {
            if (devices.insert(s.device_id).second)
                PVF_CHECK(db_->run(
                    "INSERT INTO devices (site_id, device_id, first_seen_ms, last_seen_ms) VALUES ($1, $2, "
                    "$3, $3) ON CONFLICT (site_id, device_id) DO UPDATE SET last_seen_ms = "
                    "excluded.last_seen_ms WHERE devices.last_seen_ms IS NULL OR devices.last_seen_ms < "
                    "excluded.last_seen_ms",
                    {site, s.device_id, to_epoch_ms(s.t)}));
            auto raw = db_->run(
                "INSERT INTO telemetry (site_id, device_id, t_ms, seq, points) VALUES ($1, $2, $3, $4, $5) "
                "ON CONFLICT (site_id, device_id, t_ms) DO NOTHING",
                {site, s.device_id, to_epoch_ms(s.t), i64(seq), sample_json(s)});
            if (!raw) return raw.error();
            if (raw->affected == 0)
                continue;  // same reading already stored: aggregates must not count it twice
            ++out.samples;
            const std::int64_t t_ms = to_epoch_ms(s.t);
            // Aggregates cover raw readings only; a quota aggregate batch (already 5-minute means) feeds them
            // as one reading per bucket, which is what it is.
            const std::int64_t bucket = t_ms - (((t_ms % kFiveMinutesMs) + kFiveMinutesMs) % kFiveMinutesMs);
            const std::string day = local_day(s.t, zone);
            for (const auto& [point, value] : s.values) {
                ++out.points;
                PVF_CHECK(db_->run(
                    "INSERT INTO telemetry_5min (site_id, device_id, bucket_ms, point, n, sum, min, max) "
                    "VALUES ($1, $2, $3, $4, 1, $5, $5, $5) ON CONFLICT (site_id, device_id, bucket_ms, "
                    "point) DO UPDATE SET n = telemetry_5min.n + 1, sum = telemetry_5min.sum + excluded.sum, "
                    "min = CASE WHEN excluded.min < telemetry_5min.min THEN excluded.min ELSE "
                    "telemetry_5min.min END, max = CASE WHEN excluded.max > telemetry_5min.max THEN "
                    "excluded.max ELSE telemetry_5min.max END",
                    {site, s.device_id, bucket, point, value}));
                PVF_CHECK(db_->run(
                    "INSERT INTO telemetry_daily (site_id, device_id, day, point, n, sum, min, max, "
                    "first_t_ms, first, "
                    "last_t_ms, last) VALUES ($1, $2, $3, $4, 1, $5, $5, $5, $6, $5, $6, $5) ON CONFLICT "
                    "(site_id, "
                    "device_id, day, point) DO UPDATE SET n = telemetry_daily.n + 1, sum = "
                    "telemetry_daily.sum + "
                    "excluded.sum, min = CASE WHEN excluded.min < telemetry_daily.min THEN excluded.min ELSE "
                    "telemetry_daily.min END, max = CASE WHEN excluded.max > telemetry_daily.max THEN "
                    "excluded.max ELSE "
                    "telemetry_daily.max END, first_t_ms = CASE WHEN excluded.first_t_ms < "
                    "telemetry_daily.first_t_ms "
                    "THEN excluded.first_t_ms ELSE telemetry_daily.first_t_ms END, first = CASE WHEN "
                    "excluded.first_t_ms "
                    "< telemetry_daily.first_t_ms THEN excluded.first ELSE telemetry_daily.first END, "
                    "last_t_ms = CASE "
                    "WHEN excluded.last_t_ms > telemetry_daily.last_t_ms THEN excluded.last_t_ms ELSE "
                    "telemetry_daily.last_t_ms END, last = CASE WHEN excluded.last_t_ms > "
                    "telemetry_daily.last_t_ms THEN "
                    "excluded.last ELSE telemetry_daily.last END",
                    {site, s.device_id, day, point, value, t_ms}));
            }
        }
        return {};
    }

    const auto& te = std::get<protocol::TicketEventMessage>(m);
    auto body = protocol::encode(te);
    if (!body) return body.error();
    const auto& t = te.event.ticket;
    PVF_CHECK(db_->run(
        "INSERT INTO ticket_events (site_id, seq, ticket_id, kind, at_ms, historical, body) VALUES ($1, $2, "
        "$3, $4, $5, $6, $7)",
        {site, i64(seq), t.id, std::string(domain::to_string(te.event.kind)), to_epoch_ms(te.event.at),
         std::int64_t{historical ? 1 : 0}, *body}));
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
         to_epoch_ms(t.opened_at), to_epoch_ms(t.updated_at), i64(seq), *body});
    if (!up) return up.error();
    ++out.ticket_events;
    if (up->affected > 0 && sink_ != nullptr)
        PVF_CHECK(sink_->on_ticket_event(*db_, site, te.event, historical, now, out));
    return {};
}

// Moves contiguous_through over every seq that has arrived since; a hole stops it and starts the grace clock.
Status Store::advance_seq(const std::string& site_id) {
    auto st = db_->run(
        "SELECT contiguous_through, max_seen, edge_last_seq, gap_since_ms FROM site_seq WHERE site_id = $1",
        {site_id});
    if (!st) return st.error();
    if (st->rows.empty()) return {};
    std::int64_t through = st->rows[0].integer(0);
    const std::int64_t target = std::max(st->rows[0].integer(1), st->rows[0].integer(2));
    const bool had_gap = !st->rows[0].is_null(3);
    for (;;) {
        auto next =
            db_->run("SELECT seq FROM received WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000",
                     {site_id, through});
        if (!next) return next.error();
        bool moved = false;
        for (const auto& r : next->rows) {
            if (r.integer(0) != through + 1) break;
            through = r.integer(0);
            moved = true;
        }
        if (!moved || next->rows.size() < 1000) break;
    }
    const bool gap = through < target;
    const bool advanced = through > st->rows[0].integer(0);
    const std::int64_t now_ms = to_epoch_ms(clock_.now());
    if (gap && had_gap && advanced)  // the gateway is answering: the attempts count again from here
        PVF_CHECK(db_->run("UPDATE site_seq SET resend_attempts = 0 WHERE site_id = $1", {site_id}));
    if (gap && !had_gap)
        return db_->run("UPDATE site_seq SET contiguous_through = $2, gap_since_ms = $3 WHERE site_id = $1",
                        {site_id, through, now_ms})
                   ? Status{}
                   : Status{Error{"site_seq update failed", ErrorKind::io}};
    PVF_CHECK(db_->run(
        gap ? "UPDATE site_seq SET contiguous_through = $2 WHERE site_id = $1"
            : "UPDATE site_seq SET contiguous_through = $2, gap_since_ms = NULL, resend_at_ms = NULL, "
              "resend_attempts = 0 WHERE site_id = $1",
        {site_id, through}));
    return {};
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
    auto r = site_id.empty() ? db_->run("SELECT COUNT(*) FROM " + table)
                             : db_->run("SELECT COUNT(*) FROM " + table + " WHERE site_id = $1", {site_id});
    if (!r) return r.error();
    return static_cast<std::uint64_t>(r->rows[0].integer(0));
}

}  // namespace pvfleet::storage
