#pragma once
// An in-memory Outbox for engine tests that need to inject storage failures. It has no quota policy
// (enforce_quota reports what it was told to); the real policy is tested on SqliteOutbox.
#include <map>

#include "pvfleet/store/outbox.hpp"

namespace pvfleet::fakes {

class FakeOutbox final : public store::Outbox {
public:
    Result<protocol::Seq> append(store::OutboxKind kind, TimePoint created_at, std::uint64_t samples, const Encoder& encode,
                                 store::AppendCursors cursors = {}) override {
        if (fail_appends) return Error{"fake outbox: disk I/O error", ErrorKind::io};
        const protocol::Seq seq = last_ + 1;
        auto payload = encode(seq);
        if (!payload) return payload.error();
        last_ = seq;
        rows[seq] = store::OutboxEntry{seq, kind, std::move(payload->payload), created_at, false, samples, payload->split_rest};
        if (cursors.ticket_event_id) ticket_ = cursors.ticket_event_id;
        if (cursors.telemetry_through) through_ = cursors.telemetry_through;
        return seq;
    }
    [[nodiscard]] Result<std::vector<store::OutboxEntry>> after(protocol::Seq after, std::size_t limit) const override {
        std::vector<store::OutboxEntry> out;
        for (auto it = rows.upper_bound(after); it != rows.end() && out.size() < limit; ++it) out.push_back(it->second);
        return out;
    }
    [[nodiscard]] Result<std::vector<store::OutboxEntry>> range(protocol::Seq from, protocol::Seq to,
                                                                std::size_t limit) const override {
        std::vector<store::OutboxEntry> out;
        for (auto it = rows.lower_bound(from); it != rows.end() && it->first <= to && out.size() < limit; ++it)
            out.push_back(it->second);
        return out;
    }
    Status remove_acked(std::span<const protocol::Seq> seqs) override {
        if (fail_removes) return Error{"fake outbox: disk I/O error", ErrorKind::io};
        for (const auto seq : seqs) rows.erase(seq);
        ++remove_calls;
        return {};
    }
    [[nodiscard]] std::uint64_t depth() const override { return rows.size(); }
    [[nodiscard]] std::uint64_t bytes() const override {
        std::uint64_t n = 0;
        for (const auto& [seq, r] : rows) n += r.payload.size() + 64;
        return n;
    }
    [[nodiscard]] protocol::Seq last_seq() const override { return last_; }
    [[nodiscard]] std::optional<long long> ticket_event_cursor() const override { return ticket_; }
    [[nodiscard]] std::optional<TimePoint> telemetry_through() const override { return through_; }
    [[nodiscard]] protocol::QuotaReport quota_report() const override { return report; }
    Result<protocol::QuotaReport> enforce_quota(std::uint64_t) override { return report; }

    bool fail_appends = false;
    bool fail_removes = false;
    std::size_t remove_calls = 0;  // remove_acked() transactions
    protocol::QuotaReport report;
    std::map<protocol::Seq, store::OutboxEntry> rows;

private:
    protocol::Seq last_ = 0;
    std::optional<long long> ticket_;
    std::optional<TimePoint> through_;
};

}  // namespace pvfleet::fakes
