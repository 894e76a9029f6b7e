#include <doctest/doctest.h>

#include "support/sync_samples.hpp"
#include "pvfleet/fakes/fake_outbox.hpp"
#include "pvfleet/fakes/fake_publisher.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/sync/engine.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using sync::test::sample;
using sync::test::t0;

namespace {

struct Rig {
    explicit Rig(sync::SyncConfig cfg = {}) {
        auto o = store::SqliteOutbox::open((dir / "edge.db").string());
        REQUIRE(o.ok());
        outbox = std::move(*o);
        if (cfg.site_id.empty()) cfg.site_id = "site-a";
        cfg.devices = {"inv1", "inv2"};
        cfg.config_version = "cfg-1";
        config = cfg;
        make_engine();
    }
    void make_engine() {
        engine.reset();
        auto e = sync::SyncEngine::create(config, *outbox, pub, clock);
        REQUIRE(e.ok());
        engine = std::move(*e);
    }
    void connect() {
        pub.is_connected = true;
        engine->on_connected();
    }
    void disconnect() {
        pub.drop();
        engine->on_disconnected();
    }
    // Seqs and historical flags of what went out on the sequenced topics, in publish order.
    [[nodiscard]] std::vector<std::pair<protocol::Seq, bool>> sent() const {
        std::vector<std::pair<protocol::Seq, bool>> out;
        for (const auto& r : pub.all) {
            if (r.topic.ends_with("/status")) continue;
            auto m = protocol::decode_for_topic(r.topic, r.payload);
            REQUIRE(m.ok());
            if (auto* t = std::get_if<protocol::TelemetryBatch>(&*m)) out.emplace_back(t->seq, t->historical);
            if (auto* e = std::get_if<protocol::TicketEventMessage>(&*m)) out.emplace_back(e->seq, e->historical);
        }
        return out;
    }

    test::TempDir dir;
    ManualClock clock{t0()};
    fakes::FakePublisher pub;
    std::unique_ptr<store::SqliteOutbox> outbox;
    sync::SyncConfig config;
    std::unique_ptr<sync::SyncEngine> engine;
};

sync::SyncConfig small_batches() {
    sync::SyncConfig c;
    c.batch_interval = 60s;
    c.batch_max_samples = 12;
    c.backlog_per_second = 2;
    c.backlog_burst = 2;
    c.max_inflight = 4;
    return c;
}

}  // namespace

TEST_CASE("engine: samples are batched by count and by time, written before publishing, removed on PUBACK") {
    Rig rig(small_batches());
    rig.pub.is_connected = false;
    for (int i = 0; i < 12; ++i) REQUIRE(rig.engine->add_sample(sample(i % 2 ? "inv2" : "inv1", t0() + (i / 2) * 10s, 100)).ok());
    CHECK(rig.outbox->depth() == 1);  // full batch flushed at 12 samples, nothing published yet
    CHECK(rig.pub.all.empty());
    REQUIRE(rig.engine->add_sample(sample("inv1", t0() + 60s, 100)).ok());
    rig.engine->tick();
    CHECK(rig.outbox->depth() == 1);
    rig.clock.advance(60s);
    rig.engine->tick();
    CHECK(rig.outbox->depth() == 2);  // the partial batch after batch_interval
    CHECK(rig.engine->buffered_samples() == 0);

    rig.connect();
    rig.clock.advance(1s);
    rig.engine->tick();
    auto sent = rig.sent();
    REQUIRE(sent.size() == 2);
    CHECK(sent[0] == std::pair<protocol::Seq, bool>{1, true});
    CHECK(sent[1] == std::pair<protocol::Seq, bool>{2, true});
    auto first = protocol::decode_telemetry(rig.pub.on("/telemetry")[0].payload);
    REQUIRE(first.ok());
    CHECK(first->samples.size() == 12);
    CHECK(protocol::is_compressed(rig.pub.on("/telemetry")[0].payload));
    // The outbox keeps telemetry head-split, so re-flagging it historical only rewrote the stored head.
    auto stored = rig.outbox->after(0, 1);
    REQUIRE(stored.ok());
    REQUIRE(stored->size() == 1);
    CHECK(protocol::split_payload_head((*stored)[0].payload).has_value());
    // Its rest's checksum came with the encoding (the same an inflate finds), so no inflate was needed.
    REQUIRE((*stored)[0].split_rest.has_value());
    CHECK(*(*stored)[0].split_rest == protocol::split_payload_rest((*stored)[0].payload).value());
    CHECK(protocol::split_payload_head(rig.pub.on("/telemetry")[0].payload).has_value());
    CHECK(rig.outbox->depth() == 2);  // not acknowledged yet
    CHECK(rig.engine->backlog_depth() == 2);
    rig.pub.ack();
    CHECK(rig.engine->backlog_depth() == 1);  // seq 1 acknowledged: no longer backlog...
    CHECK(rig.outbox->depth() == 2);          // ...but removed with the next batch (seq 2 is in flight)
    rig.pub.ack();
    CHECK(rig.outbox->depth() == 0);  // nothing in flight any more: the batch is removed at once
    CHECK(rig.engine->stats().acked == 2);
}

TEST_CASE("engine: live messages go out in seq order, unflagged, limited by max_inflight") {
    Rig rig(small_batches());
    rig.connect();
    for (int i = 0; i < 6; ++i) {
        if (i == 3) REQUIRE(rig.engine->add_ticket_event(sync::test::ticket_event("T-1", t0())).ok());
        REQUIRE(rig.engine->add_sample(sample("inv1", t0() + i * 10s, 1)).ok());
        REQUIRE(rig.engine->flush().ok());
    }
    auto sent = rig.sent();
    REQUIRE(sent.size() == 4);  // max_inflight
    for (std::size_t i = 0; i < sent.size(); ++i) CHECK(sent[i] == std::pair<protocol::Seq, bool>{i + 1, false});
    CHECK(rig.pub.on("/tickets").size() == 1);
    rig.pub.ack_all();
    rig.pub.ack_all();
    sent = rig.sent();
    REQUIRE(sent.size() == 7);
    for (std::size_t i = 0; i < sent.size(); ++i) CHECK(sent[i].first == i + 1);
    CHECK(rig.outbox->depth() == 0);
}

TEST_CASE("engine: after a lost connection every unacknowledged message is sent again, in order, same seq") {
    Rig rig(small_batches());
    rig.connect();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(rig.engine->add_sample(sample("inv1", t0() + i * 10s, 1)).ok());
        REQUIRE(rig.engine->flush().ok());
    }
    rig.pub.ack();  // seq 1 acknowledged; 2 and 3 in flight
    rig.disconnect();
    CHECK(rig.outbox->depth() == 2);
    REQUIRE(rig.engine->add_sample(sample("inv1", t0() + 30s, 1)).ok());
    REQUIRE(rig.engine->flush().ok());  // seq 4 while down
    rig.pub.all.clear();
    rig.connect();
    auto sent = rig.sent();
    REQUIRE(sent.size() == 2);  // burst 2
    CHECK(sent[0] == std::pair<protocol::Seq, bool>{2, true});
    CHECK(sent[1] == std::pair<protocol::Seq, bool>{3, true});
    rig.pub.ack_all();
    rig.engine->tick();
    CHECK(rig.sent().size() == 2);  // rate limit: no token yet
    rig.clock.advance(500ms);
    rig.engine->tick();
    sent = rig.sent();
    REQUIRE(sent.size() == 3);
    CHECK(sent[2] == std::pair<protocol::Seq, bool>{4, true});
    rig.pub.ack_all();
    CHECK(rig.outbox->depth() == 0);
}

TEST_CASE("engine: a restart resends what the outbox holds and continues the sequence") {
    Rig rig(small_batches());
    rig.connect();
    REQUIRE(rig.engine->add_ticket_event(sync::test::ticket_event("T-1", t0()), 41).ok());
    REQUIRE(rig.engine->add_sample(sample("inv1", t0(), 1)).ok());
    REQUIRE(rig.engine->add_sample(sample("inv2", t0(), 1)).ok());  // buffered only: lost with the process
    rig.pub.ack();                                                   // seq 1 done
    REQUIRE(rig.engine->flush().ok());                              // seq 2 in flight, never acknowledged
    // "kill -9": the engine and the publisher vanish without any completion.
    rig.pub.pending.clear();
    rig.make_engine();
    CHECK(rig.outbox->ticket_event_cursor() == 41);
    CHECK(rig.outbox->telemetry_through() == t0());  // the agent re-feeds the store's samples after this
    rig.pub.all.clear();
    rig.connect();
    auto sent = rig.sent();
    REQUIRE(sent.size() == 1);
    CHECK(sent[0] == std::pair<protocol::Seq, bool>{2, true});
    REQUIRE(rig.engine->add_ticket_event(sync::test::ticket_event("T-2", t0())).ok());
    CHECK(rig.sent().back().first == 3);
}

TEST_CASE("engine: live data keeps priority over the backlog") {
    Rig rig(small_batches());
    rig.pub.is_connected = false;
    for (int i = 0; i < 10; ++i) {  // ten minutes of outage
        REQUIRE(rig.engine->add_sample(sample("inv1", t0() + i * 60s, 1)).ok());
        REQUIRE(rig.engine->flush().ok());
    }
    rig.connect();
    CHECK(rig.sent().size() == 2);  // backlog burst
    rig.pub.ack_all();
    // New live data arrives while the backlog is being paced: it goes out at once, ahead of seq 3..10.
    REQUIRE(rig.engine->add_ticket_event(sync::test::ticket_event("T-1", t0())).ok());
    REQUIRE(rig.engine->add_sample(sample("inv1", t0() + 600s, 1)).ok());
    REQUIRE(rig.engine->flush().ok());
    auto sent = rig.sent();
    REQUIRE(sent.size() == 4);
    CHECK(sent[2] == std::pair<protocol::Seq, bool>{11, false});
    CHECK(sent[3] == std::pair<protocol::Seq, bool>{12, false});
    rig.pub.ack_all();
    for (int i = 0; i < 10; ++i) {
        rig.clock.advance(500ms);
        rig.engine->tick();
        rig.pub.ack_all();
    }
    sent = rig.sent();
    REQUIRE(sent.size() == 12);
    for (std::size_t i = 4; i < 12; ++i) CHECK(sent[i] == std::pair<protocol::Seq, bool>{i - 1, true});
    CHECK(rig.outbox->depth() == 0);
}

TEST_CASE("engine: over quota, the backlog is downsampled, the status says so, ticket events all arrive") {
    auto cfg = small_batches();
    cfg.quota_bytes = 6000;
    Rig rig(cfg);
    rig.pub.is_connected = false;
    for (int m = 0; m < 60; ++m) {
        if (m % 20 == 0) REQUIRE(rig.engine->add_ticket_event(sync::test::ticket_event("T-" + std::to_string(m), t0())).ok());
        for (int i = 0; i < 6; ++i) REQUIRE(rig.engine->add_sample(sample("inv1", t0() + m * 60s + i * 10s, 1000 + m)).ok());
        REQUIRE(rig.engine->flush().ok());
        rig.clock.advance(60s);
    }
    CHECK(rig.outbox->bytes() <= cfg.quota_bytes);
    const auto q = rig.outbox->quota_report();
    CHECK(q.downsampled_samples > 0);
    const auto last = rig.outbox->last_seq();
    CHECK(last == 63);
    rig.connect();
    auto status = protocol::decode_status(rig.pub.on("/status").back().payload);
    REQUIRE(status.ok());
    REQUIRE(status->quota.has_value());
    CHECK(status->quota->downsampled_samples == q.downsampled_samples);
    CHECK(status->backlog_depth == 63u);
    CHECK(status->last_seq == 63u);
    for (int i = 0; i < 200 && rig.outbox->depth() > 0; ++i) {
        rig.clock.advance(1s);
        rig.engine->tick();
        rig.pub.ack_all();
    }
    CHECK(rig.outbox->depth() == 0);
    std::set<protocol::Seq> seqs;
    std::size_t tickets = 0, aggregates = 0, empty = 0;
    for (const auto& r : rig.pub.all) {
        auto m = protocol::decode_for_topic(r.topic, r.payload);
        REQUIRE(m.ok());
        if (auto* t = std::get_if<protocol::TelemetryBatch>(&*m)) {
            seqs.insert(t->seq);
            if (t->aggregate) ++aggregates;
            if (t->samples.empty()) ++empty;
        } else if (auto* e = std::get_if<protocol::TicketEventMessage>(&*m)) {
            seqs.insert(e->seq);
            ++tickets;
        }
    }
    CHECK(seqs.size() == 63);  // every seq closed, none repeated
    CHECK(tickets == 3);
    CHECK(aggregates > 0);
    CHECK(empty > 0);
}

TEST_CASE("engine: status on connect and every heartbeat; the offline will") {
    auto cfg = small_batches();
    cfg.heartbeat_interval = 300s;
    cfg.agent_version = "1.2.3";
    Rig rig(cfg);
    rig.engine->note_poll_ok("inv1", t0() - 5s);
    rig.clock.advance(42s);
    rig.connect();
    auto st = rig.pub.on("/status");
    REQUIRE(st.size() == 1);
    CHECK(st[0].retained);
    auto s = protocol::decode_status(st[0].payload);
    REQUIRE(s.ok());
    CHECK(s->state == protocol::SiteState::online);
    CHECK(s->agent_version == "1.2.3");
    CHECK(s->uptime_s == 42u);
    CHECK(s->backlog_depth == 0u);
    CHECK(s->config_version == "cfg-1");
    REQUIRE(s->devices.size() == 2);
    CHECK(s->devices[0].last_ok_poll == t0() - 5s);
    CHECK_FALSE(s->devices[1].last_ok_poll.has_value());
    rig.clock.advance(299s);
    rig.engine->tick();
    CHECK(rig.pub.on("/status").size() == 1);
    rig.clock.advance(1s);
    rig.engine->tick();
    CHECK(rig.pub.on("/status").size() == 2);

    auto will = protocol::encode(rig.engine->status(protocol::SiteState::offline));
    REQUIRE(will.ok());
    auto w = protocol::decode_status(*will);
    REQUIRE(w.ok());
    CHECK(w->state == protocol::SiteState::offline);
}

TEST_CASE("engine: config errors name the field") {
    fakes::FakePublisher pub;
    ManualClock clock;
    test::TempDir dir;
    auto o = store::SqliteOutbox::open((dir / "edge.db").string());
    REQUIRE(o.ok());
    sync::SyncConfig c;
    c.site_id = "Bad/Site";
    auto e = sync::SyncEngine::create(c, **o, pub, clock);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().message == "site_id: 'Bad/Site' is not a valid site id");
    c.site_id = "ok";
    c.config_version = "1";
    c.max_inflight = 0;
    e = sync::SyncEngine::create(c, **o, pub, clock);
    REQUIRE_FALSE(e.ok());
    CHECK(e.error().message.starts_with("max_inflight:"));
}

TEST_CASE("engine: when the outbox refuses a write the samples stay buffered and go with the next flush") {
    fakes::FakeOutbox outbox;
    fakes::FakePublisher pub;
    ManualClock clock{t0()};
    sync::SyncConfig c = small_batches();
    c.site_id = "site-a";
    c.config_version = "1";
    auto e = sync::SyncEngine::create(c, outbox, pub, clock);
    REQUIRE(e.ok());
    auto& engine = **e;
    engine.on_connected();
    REQUIRE(engine.add_sample(sample("inv1", t0(), 1)).ok());
    outbox.fail_appends = true;
    auto s = engine.flush();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().kind == ErrorKind::io);
    CHECK(engine.buffered_samples() == 1);
    CHECK(outbox.last_seq() == 0);
    auto t = engine.add_ticket_event(sync::test::ticket_event("T-1", t0()));
    CHECK_FALSE(t.ok());
    outbox.fail_appends = false;
    REQUIRE(engine.add_sample(sample("inv1", t0() + 10s, 2)).ok());
    REQUIRE(engine.flush().ok());
    REQUIRE(pub.on("/telemetry").size() == 1);
    auto b = protocol::decode_telemetry(pub.on("/telemetry")[0].payload);
    REQUIRE(b.ok());
    CHECK(b->seq == 1);
    CHECK(b->samples.size() == 2);
    pub.ack_all();
    CHECK(outbox.depth() == 0);
}

TEST_CASE("engine: resend sends what the outbox still holds of the range again, acknowledged rows too, as backlog") {
    Rig rig(small_batches());
    rig.pub.is_connected = false;
    for (int i = 0; i < 5; ++i) {
        REQUIRE(rig.engine->add_sample(sample("inv1", t0() + i * 10s, 1)).ok());
        REQUIRE(rig.engine->flush().ok());
    }
    rig.connect();  // burst: 1 and 2 go out
    rig.pub.ack_all();
    auto n = rig.engine->resend(1, 4);
    REQUIRE(n.ok());
    CHECK(*n == 4);  // 1 and 2 are acknowledged by the broker but kept (the server may not have them)
    auto bad = rig.engine->resend(5, 2);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "to_seq: 2 is below from_seq 5");
    for (int i = 0; i < 10 && rig.outbox->depth() > 0; ++i) {
        rig.clock.advance(1s);
        rig.engine->tick();
        rig.pub.ack_all();
    }
    CHECK(rig.outbox->depth() == 0);
    // 1 and 2 from the first burst, then the resend of 1..4 ahead of the backlog, then 5: all historical.
    auto sent = rig.sent();
    const std::vector<protocol::Seq> expected{1, 2, 1, 2, 3, 4, 5};
    REQUIRE(sent.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(sent[i] == std::pair<protocol::Seq, bool>{expected[i], true});
    n = rig.engine->resend(1, 10);
    REQUIRE(n.ok());
    CHECK(*n == 5);  // within the retention, everything can be sent again
}

TEST_CASE(
    "engine: acknowledged rows are removed in batches, never before their PUBACK, and never left behind") {
    auto cfg = small_batches();
    cfg.ack_batch = 3;
    cfg.max_inflight = 8;
    cfg.backlog_per_second = 1000;
    cfg.backlog_burst = 1000;
    Rig rig(cfg);
    rig.pub.is_connected = false;
    for (int i = 0; i < 8; ++i) {
        REQUIRE(rig.engine->add_sample(sample("inv1", t0() + i * 10s, 1)).ok());
        REQUIRE(rig.engine->flush().ok());
    }
    rig.connect();
    REQUIRE(rig.sent().size() == 8);
    auto held = [&] {
        std::set<protocol::Seq> seqs;
        auto rows = rig.outbox->after(0, 100);
        REQUIRE(rows.ok());
        for (const auto& r : *rows) seqs.insert(r.seq);
        return seqs;
    };
    for (protocol::Seq acked = 1; acked <= 7; ++acked) {
        rig.pub.ack();
        const auto rows = held();
        for (protocol::Seq q = acked + 1; q <= 8; ++q) CHECK(rows.count(q) == 1);  // not acknowledged: kept
        CHECK(rows.size() == 8 - (acked / 3) * 3);                                 // removed three at a time
        CHECK(rig.engine->backlog_depth() == 8 - acked);
        CHECK(rig.engine->acked_pending() == acked % 3);
    }
    auto st = rig.engine->status(protocol::SiteState::online);
    CHECK(st.backlog_depth == 1u);  // seq 7 is acknowledged, only 8 is backlog
    rig.clock.advance(999ms);
    rig.engine->tick();  // seq 7 has not waited ack_flush_interval yet
    CHECK(held().count(7) == 1);
    rig.clock.advance(1ms);
    rig.engine->tick();  // now it has: the tick removes it
    CHECK(held() == std::set<protocol::Seq>{8});
    rig.pub.ack();  // the last one: nothing in flight any more, removed at once
    CHECK(held().empty());
    CHECK(rig.sent().size() == 8);  // nothing went twice
}

TEST_CASE(
    "engine: acknowledged rows waiting for removal are not sent again, and the destructor removes them") {
    auto cfg = small_batches();
    cfg.ack_batch = 100;
    Rig rig(cfg);
    rig.connect();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(rig.engine->add_sample(sample("inv1", t0() + i * 10s, 1)).ok());
        REQUIRE(rig.engine->flush().ok());
    }
    rig.pub.ack(2);  // 1 and 2 acknowledged, 3 in flight: 1 and 2 wait in the outbox
    CHECK(rig.outbox->depth() == 3);
    rig.clock.advance(10s);  // tokens for the backlog scan, which must skip them
    REQUIRE(rig.engine->add_ticket_event(sync::test::ticket_event("T-1", t0())).ok());
    auto sent = rig.sent();
    REQUIRE(sent.size() == 4);
    for (std::size_t i = 0; i < sent.size(); ++i)
        CHECK(sent[i] == std::pair<protocol::Seq, bool>{i + 1, false});
    rig.engine.reset();               // e.g. the agent stops
    CHECK(rig.outbox->depth() == 2);  // 3 and 4 were never acknowledged
    auto rows = rig.outbox->after(0, 10);
    REQUIRE(rows.ok());
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0].seq == 3);
}

TEST_CASE("engine: a failed removal keeps the acknowledged rows queued, unsent, until it succeeds") {
    fakes::FakeOutbox outbox;
    fakes::FakePublisher pub;
    ManualClock clock{t0()};
    sync::SyncConfig c = small_batches();
    c.site_id = "site-a";
    c.config_version = "1";
    auto e = sync::SyncEngine::create(c, outbox, pub, clock);
    REQUIRE(e.ok());
    auto& engine = **e;
    engine.on_connected();
    for (int i = 0; i < 3; ++i) {
        REQUIRE(engine.add_sample(sample("inv1", t0() + i * 10s, 1)).ok());
        REQUIRE(engine.flush().ok());
    }
    outbox.fail_removes = true;
    pub.ack_all();
    CHECK(outbox.depth() == 3);
    CHECK(engine.acked_pending() == 3);
    CHECK(engine.backlog_depth() == 0);
    // A reconnect re-sends the backlog; acknowledged rows are not part of it even though still stored.
    pub.drop();
    engine.on_disconnected();
    pub.all.clear();
    pub.is_connected = true;
    engine.on_connected();
    CHECK(pub.on("/telemetry").empty());
    outbox.fail_removes = false;
    clock.advance(c.ack_flush_interval);
    engine.tick();
    CHECK(outbox.depth() == 0);
    CHECK(engine.acked_pending() == 0);
}
