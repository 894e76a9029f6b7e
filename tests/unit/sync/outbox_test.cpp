#include <doctest/doctest.h>

#include "support/sync_samples.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/store/outbox.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using store::OutboxKind;

namespace {

Result<std::string> telemetry_wire_payload(protocol::Seq seq, const std::vector<domain::Sample>& samples) {
    protocol::TelemetryBatch b;
    b.site_id = "site-a";
    b.seq = seq;
    b.sent_at = sync::test::t0();
    b.resolution_s = 10;
    b.samples = samples;
    return protocol::encode(b, {.compress = true});
}

// As an Outbox::Encoder returns it.
Result<store::EncodedPayload> telemetry_payload(protocol::Seq seq, const std::vector<domain::Sample>& samples) {
    auto p = telemetry_wire_payload(seq, samples);
    if (!p) return p.error();
    return store::EncodedPayload{std::move(*p)};
}

protocol::Seq append_minute(store::Outbox& o, int minute) {
    std::vector<domain::Sample> s;
    for (int i = 0; i < 6; ++i) s.push_back(sync::test::sample("inv1", sync::test::t0() + minute * 60s + i * 10s, 1000 + minute));
    auto seq = o.append(OutboxKind::telemetry, sync::test::t0(), s.size(), [&](protocol::Seq q) { return telemetry_payload(q, s); },
                        store::AppendCursors{std::nullopt, s.back().t, s.front().t});
    REQUIRE(seq.ok());
    return *seq;
}

protocol::Seq append_ticket(store::Outbox& o, const std::string& id, std::optional<long long> event_id = {}) {
    auto seq = o.append(OutboxKind::ticket_event, sync::test::t0(), 0, [&](protocol::Seq q) -> Result<store::EncodedPayload> {
        auto p = protocol::encode(protocol::TicketEventMessage{"site-a", q, false, sync::test::t0(), sync::test::ticket_event(id, sync::test::t0())});
        if (!p) return p.error();
        return store::EncodedPayload{std::move(*p)};
    }, store::AppendCursors{event_id, std::nullopt, std::nullopt});
    REQUIRE(seq.ok());
    return *seq;
}

}  // namespace

// Acknowledged rows deleted at once (no retention for resends), as the quota policy leaves them.
store::OutboxOptions no_retention() {
    store::OutboxOptions o;
    o.acked_retention = std::chrono::hours(0);
    return o;
}

TEST_CASE("outbox: seq is monotonic, persisted, and never reused after the rows are removed") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    {
        auto o = store::SqliteOutbox::open(path, no_retention());
        REQUIRE(o.ok());
        CHECK((*o)->last_seq() == 0);
        CHECK(append_minute(**o, 0) == 1);
        CHECK(append_ticket(**o, "T-1", 7) == 2);
        CHECK(append_minute(**o, 1) == 3);
        CHECK((*o)->depth() == 3);
        REQUIRE((*o)->remove(1).ok());
        REQUIRE((*o)->remove(1).ok());  // already gone: fine
        CHECK((*o)->depth() == 2);
        auto rows = (*o)->after(0, 10);
        REQUIRE(rows.ok());
        REQUIRE(rows->size() == 2);
        CHECK((*rows)[0].seq == 2);
        CHECK((*rows)[0].kind == OutboxKind::ticket_event);
        CHECK((*rows)[1].seq == 3);
        auto decoded = protocol::decode_telemetry((*rows)[1].payload);
        REQUIRE(decoded.ok());
        CHECK(decoded->seq == 3);
        REQUIRE((*o)->remove(2).ok());
        REQUIRE((*o)->remove(3).ok());
        CHECK((*o)->depth() == 0);
        CHECK((*o)->bytes() == 0);
    }
    auto o = store::SqliteOutbox::open(path);
    REQUIRE(o.ok());
    CHECK((*o)->last_seq() == 3);
    CHECK((*o)->ticket_event_cursor() == 7);
    CHECK((*o)->telemetry_through() == sync::test::t0() + 60s + 50s);  // newest sample of minute 1
    CHECK(append_minute(**o, 2) == 4);
}

TEST_CASE("outbox: a failed encoder rolls back and does not use up a seq") {
    test::TempDir dir;
    auto o = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(o.ok());
    auto r = (*o)->append(OutboxKind::telemetry, sync::test::t0(), 1, [](protocol::Seq) -> Result<store::EncodedPayload> { return Error{"boom"}; });
    CHECK_FALSE(r.ok());
    CHECK((*o)->last_seq() == 0);
    CHECK(append_minute(**o, 0) == 1);
}

TEST_CASE("outbox: over quota, raw telemetry becomes 5-minute aggregates oldest first; ticket events stay") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto opened = store::SqliteOutbox::open(path, {.merge_rows = 30});
    REQUIRE(opened.ok());
    auto& o = **opened;
    append_ticket(o, "T-1");
    for (int m = 0; m < 120; ++m) append_minute(o, m);  // seq 2..121: two hours of 60-s batches
    append_ticket(o, "T-2");                            // seq 122
    const auto full = o.bytes();
    auto report = o.enforce_quota(full / 2);
    REQUIRE(report.ok());
    CHECK(o.bytes() <= full / 2);
    CHECK(report->dropped_samples == 0);
    CHECK(report->downsampled_samples > 0);
    CHECK(report->downsampled_samples % 180 == 0);  // whole merge steps of 30 batches x 6 samples
    REQUIRE(report->downsampled_before.has_value());
    CHECK(o.depth() == 122);  // rows (seqs) are kept, emptied or merged, never removed
    CHECK(o.last_seq() == 122);

    auto rows = o.after(0, 1000);
    REQUIRE(rows.ok());
    CHECK((*rows)[0].kind == OutboxKind::ticket_event);
    CHECK_FALSE((*rows)[0].payload.empty());
    CHECK((*rows)[121].kind == OutboxKind::ticket_event);
    // The first merged row carries the aggregates of the first 30 minutes (6 windows); the next 29 are empty.
    CHECK((*rows)[1].aggregate);
    auto agg = protocol::decode_telemetry((*rows)[1].payload);
    REQUIRE(agg.ok());
    CHECK(agg->aggregate);
    CHECK(agg->resolution_s == 300u);
    CHECK(agg->seq == 2);
    CHECK(agg->samples.size() == 6);
    CHECK(agg->samples[0].t == sync::test::t0());
    CHECK(agg->samples[1].t == sync::test::t0() + 300s);
    for (int i = 2; i <= 30; ++i) CHECK((*rows)[static_cast<std::size_t>(i)].payload.empty());
    // The newest raw batches are untouched.
    CHECK_FALSE((*rows)[120].aggregate);

    // The report survives a restart.
    opened->reset();
    auto again = store::SqliteOutbox::open(path);
    REQUIRE(again.ok());
    CHECK((*again)->quota_report() == *report);
    CHECK((*again)->bytes() <= full / 2);
}

TEST_CASE("outbox: when only aggregates are left the oldest are dropped, ticket events never") {
    test::TempDir dir;
    auto opened = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(opened.ok());
    auto& o = **opened;
    for (int m = 0; m < 20; ++m) append_minute(o, m);
    for (int i = 0; i < 5; ++i) append_ticket(o, "T-" + std::to_string(i));
    auto report = o.enforce_quota(1);  // impossible: everything that may go goes
    REQUIRE(report.ok());
    CHECK(report->downsampled_samples == 120);
    CHECK(report->dropped_samples == 4);  // the aggregates of 20 minutes (4 windows)
    auto rows = o.after(0, 100);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 25);
    for (std::size_t i = 0; i < 20; ++i) CHECK((*rows)[i].payload.empty());
    for (std::size_t i = 20; i < 25; ++i) CHECK(protocol::decode_ticket_event((*rows)[i].payload).ok());
}

TEST_CASE("outbox: acknowledged rows are removed in one call, the rest stays, also after reopening") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    std::uint64_t bytes_of_4_and_5 = 0;
    {
        auto o = store::SqliteOutbox::open(path, no_retention());
        REQUIRE(o.ok());
        for (int m = 0; m < 5; ++m) append_minute(**o, m);
        auto rows = (*o)->after(3, 10);
        REQUIRE(rows.ok());
        for (const auto& r : *rows)
            bytes_of_4_and_5 += r.payload.size() + store::SqliteOutbox::kRowOverheadBytes;
        const std::vector<protocol::Seq> acked{1, 3, 2, 9};  // any order; 9 never existed
        REQUIRE((*o)->remove_acked(acked).ok());
        CHECK((*o)->depth() == 2);
        CHECK((*o)->bytes() == bytes_of_4_and_5);
        REQUIRE((*o)->remove_acked({}).ok());
        CHECK(append_minute(**o, 5) == 6);  // appends work after a removal (and commit with FULL again)
    }
    auto o = store::SqliteOutbox::open(path);
    REQUIRE(o.ok());
    CHECK((*o)->depth() == 3);
    auto rows = (*o)->after(0, 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 3);
    CHECK((*rows)[0].seq == 4);
    CHECK((*rows)[1].seq == 5);
    CHECK((*rows)[2].seq == 6);
}

TEST_CASE("outbox: acknowledged rows leave the backlog but stay for a resend until the retention passes") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto o = store::SqliteOutbox::open(path);  // default retention: 48 h
    REQUIRE(o.ok());
    for (int m = 0; m < 4; ++m) append_minute(**o, m);
    const auto bytes_before = (*o)->bytes();
    const std::vector<protocol::Seq> acked{1, 2};
    REQUIRE((*o)->remove_acked(acked).ok());
    CHECK((*o)->depth() == 2);
    CHECK((*o)->bytes() == bytes_before);  // still on disk
    auto backlog = (*o)->after(0, 10);
    REQUIRE(backlog.ok());
    REQUIRE(backlog->size() == 2);
    CHECK((*backlog)[0].seq == 3);
    auto kept = (*o)->range(1, 3, 10);
    REQUIRE(kept.ok());
    REQUIRE(kept->size() == 3);
    CHECK((*kept)[0].seq == 1);
    CHECK(protocol::decode_telemetry((*kept)[0].payload).ok());
    // A second acknowledgement of the same row changes nothing; the state survives reopening.
    REQUIRE((*o)->remove_acked(acked).ok());
    CHECK((*o)->depth() == 2);
    o = store::SqliteOutbox::open(path);
    REQUIRE(o.ok());
    CHECK((*o)->depth() == 2);
    CHECK((*o)->range(1, 4, 10)->size() == 4);
    // Over quota, acknowledged rows are the first to go (before any unsent telemetry is downsampled).
    REQUIRE((*o)->enforce_quota(bytes_before - 1).ok());
    CHECK((*o)->range(1, 2, 10)->empty());
    CHECK((*o)->after(0, 10)->size() == 2);
    CHECK((*o)->quota_report().downsampled_samples == 0);
}

TEST_CASE("outbox: a head-split row keeps its rest's length and checksum, which replace its head without inflating") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    auto opened = store::SqliteOutbox::open(path, {.merge_rows = 2});
    REQUIRE(opened.ok());
    auto& o = **opened;
    std::vector<domain::Sample> s;
    for (int i = 0; i < 6; ++i) s.push_back(sync::test::sample("inv1", sync::test::t0() + i * 10s, 1000));
    std::string head;
    auto seq = o.append(OutboxKind::telemetry, sync::test::t0(), s.size(), [&](protocol::Seq q) -> Result<store::EncodedPayload> {
        auto text = protocol::unframe(telemetry_wire_payload(q, s).value()).value();
        const auto at = text.find("\"sent_at\":");
        REQUIRE(at != std::string::npos);
        const auto end = text.find_first_not_of("0123456789", at + 10);
        head = text.substr(0, end);
        return store::EncodedPayload{protocol::deflate_payload_split(text, end)};
    });
    REQUIRE(seq.ok());
    append_minute(o, 1);  // an ordinary zlib stream: nothing to keep
    append_ticket(o, "T-1");

    auto rows = o.after(0, 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 3);
    const auto& split = (*rows)[0];
    REQUIRE(split.split_rest.has_value());
    CHECK(*split.split_rest == protocol::split_payload_rest(split.payload).value());
    CHECK_FALSE((*rows)[1].split_rest.has_value());
    CHECK_FALSE((*rows)[2].split_rest.has_value());
    const std::string new_head = head.substr(0, head.rfind(':') + 1) + "1500000000123";
    auto fast = protocol::replace_payload_head(split.payload, new_head, *split.split_rest);
    REQUIRE(fast.has_value());
    auto text = protocol::unframe(*fast);  // inflated in full, checksum included
    REQUIRE(text.ok());
    CHECK(text->substr(0, new_head.size()) == new_head);
    CHECK(protocol::decode_telemetry(*fast).ok());
    CHECK(o.range(1, 1, 1)->at(0).split_rest == split.split_rest);  // acknowledged or not, it comes along

    // A row the quota policy rewrites (aggregates, emptied) no longer has one.
    REQUIRE(o.enforce_quota(1).ok());
    auto rewritten = o.after(0, 10);
    REQUIRE(rewritten.ok());
    for (const auto& r : *rewritten) CHECK_FALSE(r.split_rest.has_value());
}

TEST_CASE("outbox: acknowledgements in any order, with gaps and repeats, each count once") {
    test::TempDir dir;
    auto o = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(o.ok());
    for (int m = 0; m < 8; ++m) append_minute(**o, m);  // seq 1..8
    const std::vector<protocol::Seq> acked{7, 3, 2, 3, 4, 42};
    REQUIRE((*o)->remove_acked(acked).ok());
    CHECK((*o)->depth() == 4);
    auto backlog = (*o)->after(0, 10);
    REQUIRE(backlog.ok());
    std::vector<protocol::Seq> left;
    for (const auto& r : *backlog) left.push_back(r.seq);
    CHECK(left == std::vector<protocol::Seq>{1, 5, 6, 8});
    const std::vector<protocol::Seq> more{1, 2, 5, 6};  // 2 again: no change for it
    REQUIRE((*o)->remove_acked(more).ok());
    CHECK((*o)->depth() == 1);
    CHECK((*o)->range(1, 8, 10)->size() == 8);  // all kept for resends
}
