// Per-site sequence bookkeeping (table site_seq): the contiguous prefix of seqs received, the highest seen,
// the gateway's own last seq from its status, and the gap clock with its resend attempts.
#include <algorithm>

#include "ledger_parts.hpp"
#include "pvfleet/storage/bulk.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::ingest {

using storage::Db;
using storage::Row;
using storage::Value;

namespace {

// Continues `through` over seqs stored by earlier transactions (they arrived beyond a hole, out of order).
Result<std::int64_t> continue_from_received(Db& db, const std::string& site, std::int64_t through) {
    for (;;) {
        auto next = db.run("SELECT seq FROM received WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT 1000",
                           {site, through});
        if (!next) return next.error();
        bool moved = false;
        for (const auto& r : next->rows) {
            if (r.integer(0) != through + 1) break;
            through = r.integer(0);
            moved = true;
        }
        if (!moved || next->rows.size() < 1000) return through;
    }
}

// The new state of one site_seq row (columns as selected in advance_sequences) after `seqs` were stored; an
// empty result when nothing changes.
Result<std::vector<Value>> advanced_row(Db& db, const Row& row, const std::vector<std::int64_t>& seqs,
                                        std::int64_t now_ms) {
    const std::string site = row.text(0);
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
        auto continued = continue_from_received(db, site, through);
        if (!continued) return continued.error();
        through = *continued;
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
        return std::vector<Value>{};
    return std::vector<Value>{site, max_seen, through, gap_since, resend_at, attempts};
}

// The holes after the contiguous prefix `through` up to `target` (at most 32, so many small holes left by one
// crash are asked for together rather than one per check).
Result<std::vector<std::pair<std::int64_t, std::int64_t>>> holes_after(Db& db, const std::string& site,
                                                                        std::int64_t through, std::int64_t target) {
    auto received =
        db.run("SELECT seq FROM received WHERE site_id = $1 AND seq > $2 ORDER BY seq LIMIT 20000", {site, through});
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
    return holes;
}

// A jump of the sequence is passed over at once, before anything is asked for. Only the first hole moves the
// contiguous prefix; the holes before a later jump are asked for first, and the jump is passed once it is the
// first. Leaves in `holes` those to ask for.
Status pass_jumps(Db& db, const std::string& site, std::vector<std::pair<std::int64_t, std::int64_t>>& holes,
                  const GapPolicy& policy, std::int64_t now_ms) {
    for (std::size_t i = 0; i < holes.size(); ++i) {
        const auto [from, to] = holes[i];
        if (static_cast<protocol::Seq>(to - from + 1) <= policy.max_gap) continue;
        holes.resize(i);
        if (i > 0) return {};
        PVF_LOG(warn, "ingest",
                "site " << site << ": seq jumped over " << from << ".." << to << " (" << (to - from + 1)
                        << " seqs, more than " << policy.max_gap << "): not asked for, not counted lost");
        PVF_CHECK(db.run(
            "UPDATE site_seq SET contiguous_through = $2, resend_attempts = 0, resend_at_ms = NULL, "
            "gap_since_ms = $3 WHERE site_id = $1",
            {site, to, now_ms}));
        return advance_sequences(db, {{site, {}}}, now_ms);
    }
    return {};
}

// One site whose gap is due: its resend requests appended to `out`, or its first hole counted lost.
Status check_site(Db& db, const Row& r, const GapPolicy& policy, std::int64_t now_ms, std::vector<ResendRequest>& out) {
    const std::string site = r.text(0);
    const std::int64_t through = r.integer(1);
    const std::int64_t target = std::max(r.integer(2), r.integer(3));
    const std::int64_t attempts = r.integer(6);
    auto holes = holes_after(db, site, through, target);
    if (!holes) return holes.error();
    if (holes->empty()) return {};
    PVF_CHECK(pass_jumps(db, site, *holes, policy, now_ms));
    if (holes->empty()) return {};
    if (attempts >= policy.max_attempts) {
        // The gateway no longer has the first hole (quota, or it was replaced): count it lost, move on.
        const auto [lost_from, lost_to] = holes->front();
        PVF_LOG(warn, "ingest",
                "site " << site << ": seq " << lost_from << ".." << lost_to << " lost after " << attempts
                        << " resend requests");
        PVF_CHECK(db.run(
            "UPDATE site_seq SET contiguous_through = $2, lost = lost + $3, resend_attempts = 0, "
            "resend_at_ms = NULL, gap_since_ms = $4 WHERE site_id = $1",
            {site, lost_to, lost_to - lost_from + 1, now_ms}));
        return advance_sequences(db, {{site, {}}}, now_ms);
    }
    protocol::Seq budget = policy.max_range;
    for (const auto& [from, to] : *holes) {
        if (budget == 0) break;
        ResendRequest req;
        req.site_id = site;
        req.from_seq = static_cast<protocol::Seq>(from);
        req.to_seq = std::min<protocol::Seq>(static_cast<protocol::Seq>(to), req.from_seq + budget - 1);
        budget -= req.to_seq - req.from_seq + 1;
        req.attempt = static_cast<int>(attempts + 1);
        out.push_back(std::move(req));
    }
    PVF_CHECK(db.run("UPDATE site_seq SET resend_at_ms = $2, resend_attempts = resend_attempts + 1 WHERE site_id = $1",
                     {site, now_ms}));
    return {};
}

}  // namespace

// Moves contiguous_through over every seq that has arrived; a hole stops it and starts the grace clock. The
// seqs stored in this transaction are known, so the database is asked for more only when seqs beyond a hole
// arrived earlier (out of order). All touched sites are read in one statement and written in one.
Status advance_sequences(Db& db, const std::map<std::string, std::vector<std::int64_t>>& touched, std::int64_t now_ms) {
    if (touched.empty()) return {};
    std::vector<Value> keys;
    for (const auto& [site, seqs] : touched) keys.emplace_back(site);
    auto st = storage::run_bulk(db,
                                {"SELECT site_id, contiguous_through, max_seen, edge_last_seq, gap_since_ms, "
                                 "resend_at_ms, resend_attempts FROM site_seq WHERE site_id IN (",
                                 "?", ")", 1},
                                keys);
    if (!st) return st.error();
    std::vector<Value> updates;
    for (const auto& row : st->rows) {
        auto changed = advanced_row(db, row, touched.at(row.text(0)), now_ms);
        if (!changed) return changed.error();
        updates.insert(updates.end(), changed->begin(), changed->end());
    }
    PVF_CHECK(storage::run_bulk(db,
                                {"WITH v(sid, ms, th, gs, ra, att) AS (VALUES ",
                                 "(CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS "
                                 "BIGINT), CAST(? AS BIGINT))",
                                 ") UPDATE site_seq SET max_seen = v.ms, contiguous_through = v.th, gap_since_ms = "
                                 "v.gs, resend_at_ms = v.ra, resend_attempts = v.att FROM v WHERE site_seq.site_id = "
                                 "v.sid",
                                 6},
                                updates));
    return {};
}

Result<std::vector<ResendRequest>> due_resends(Db& db, const GapPolicy& policy, std::int64_t now_ms) {
    return storage::in_transaction(db, [&]() -> Result<std::vector<ResendRequest>> {
        std::vector<ResendRequest> out;
        auto rows = db.run(
            "SELECT site_id, contiguous_through, max_seen, edge_last_seq, gap_since_ms, resend_at_ms, "
            "resend_attempts "
            "FROM site_seq WHERE gap_since_ms IS NOT NULL AND gap_since_ms <= $1 AND (resend_at_ms IS NULL "
            "OR "
            "resend_at_ms <= $2)" +
                std::string(db.engine() == storage::Engine::postgres ? " FOR UPDATE SKIP LOCKED" : ""),
            {now_ms - policy.grace.count(), now_ms - policy.retry.count()});
        if (!rows) return rows.error();
        for (const auto& r : rows->rows) PVF_CHECK(check_site(db, r, policy, now_ms, out));
        return out;
    });
}

Result<std::optional<SiteSeqState>> read_site_seq(Db& db, const std::string& site_id) {
    auto r = db.run("SELECT contiguous_through, max_seen, edge_last_seq, lost FROM site_seq WHERE site_id = $1",
                    {site_id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<SiteSeqState>{};
    const auto& row = r->rows[0];
    return std::optional<SiteSeqState>{SiteSeqState{
        site_id, static_cast<protocol::Seq>(row.integer(0)), static_cast<protocol::Seq>(row.integer(1)),
        static_cast<protocol::Seq>(row.integer(2)), static_cast<std::uint64_t>(row.integer(3))}};
}

}  // namespace pvfleet::ingest
