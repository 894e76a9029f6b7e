// The group commit and gap check timers of ingest on simulated time: nothing sleeps, the test advances the
// clock to just before and at each deadline.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "pvfleet/fakes/failing_db.hpp"
#include "pvfleet/ingest/group_committer.hpp"
#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

TimePoint t0() {
    return from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z
}

ingest::Received telemetry(const std::string& site, protocol::Seq seq) {
    protocol::TelemetryBatch b;
    b.site_id = site;
    b.seq = seq;
    b.sent_at = t0();
    domain::Sample s;
    s.device_id = "inv1";
    s.t = t0() + std::chrono::seconds(seq);
    s.values["ac_power_w"] = 100;
    b.samples.push_back(s);
    return ingest::Received{"pvfleet/v1/sites/" + site + "/telemetry", 100, protocol::Message{b}};
}

struct Rig {
    test::TempDir dir;
    SimulatedTimeSystem time{t0()};
    std::unique_ptr<storage::Store> store;
    std::unique_ptr<ingest::Ledger> ledger;
    ingest::IngestOptions options;
    bool connected = true;
    std::vector<protocol::Command> sent;
    std::unique_ptr<ingest::GroupCommitter> committer;
    fakes::FailingDb* db = nullptr;  // owned by store; fails nothing until told to

    Rig() {
        storage::DbOptions o;
        o.sqlite_path = (dir / "ingest.db").string();
        auto opened = storage::open_db(o);
        REQUIRE(opened.ok());
        auto failing = std::make_unique<fakes::FailingDb>(std::move(*opened));
        db = failing.get();
        store = std::make_unique<storage::Store>(std::move(failing), time);
        REQUIRE(store->migrate().ok());
        ledger = std::make_unique<ingest::Ledger>(store->db(), time);
        options.max_batch = 3;
        options.max_delay = 25ms;
        options.gap_check_interval = 5s;
        options.gaps.grace = 30s;
        options.gaps.retry = 60s;
        options.mqtt.client_id = "server-1";
        committer = std::make_unique<ingest::GroupCommitter>(
            options, *store, *ledger, time,
            ingest::Downlink{[this] { return connected; },
                             [this](const protocol::Command& c) {
                                 sent.push_back(c);
                                 return Status{};
                             }});
    }
};

}  // namespace

TEST_CASE("ingest group commit: a message waits max_delay, a full batch commits at once, a reject is recorded") {
    Rig rig;
    rig.committer->add(telemetry("s", 1));
    CHECK(rig.committer->stats().received == 1);
    rig.time.advance(24ms);
    CHECK(rig.committer->stats().commits == 0);
    CHECK(*rig.store->count("received") == 0);
    rig.time.advance(1ms);
    CHECK(rig.committer->stats().commits == 1);
    CHECK(rig.committer->stats().applied == 1);
    CHECK(*rig.store->count("received") == 1);

    // max_batch messages: committed when the last arrives, without waiting.
    rig.committer->add(telemetry("s", 2));
    rig.committer->add(telemetry("s", 3));
    rig.committer->add(telemetry("s", 4));
    CHECK(rig.committer->stats().commits == 2);
    CHECK(rig.committer->stats().applied == 4);

    // A payload that did not decode is recorded as a reject at the next commit, before the batch after it.
    rig.committer->add(ingest::Received{"pvfleet/v1/sites/s/telemetry", 7, Error{"bad payload"}});
    rig.committer->add(telemetry("s", 5));
    CHECK(rig.committer->stats().rejected == 0);
    rig.time.advance(25ms);
    CHECK(rig.committer->stats().rejected == 1);
    CHECK(*rig.store->reject_count() == 1);
    CHECK(rig.committer->stats().applied == 5);
}

TEST_CASE("ingest gap check: a hole becomes a resend command after the grace period, only while connected") {
    Rig rig;
    rig.committer->start();
    rig.committer->add(telemetry("g", 1));
    rig.committer->add(telemetry("g", 4));  // 2..3 missing
    rig.time.advance(25ms);                 // committed: the gap clock starts now
    const TimePoint gap_since = rig.time.now();
    CHECK(rig.committer->stats().applied == 2);
    // Checks run every 5 s from the start; the hole is due at the first check 30 s after it appeared.
    rig.time.advance_to(gap_since + 29s);
    CHECK(rig.sent.empty());
    rig.time.advance_to(t0() + 35s);
    REQUIRE(rig.sent.size() == 1);
    const auto& cmd = rig.sent[0];
    CHECK(cmd.site_id == "g");
    CHECK(cmd.command_id.rfind("resend-", 0) == 0);
    CHECK(cmd.command_id.find("-server-1") != std::string::npos);
    CHECK(cmd.issued_at == t0() + 35s);
    const auto* resend = std::get_if<protocol::ResendCommand>(&cmd.body);
    REQUIRE(resend != nullptr);
    CHECK(resend->from_seq == 2);
    CHECK(resend->to_seq == 3);
    CHECK(rig.committer->stats().resend_requests == 1);

    // Disconnected: nothing is asked for (it would only queue up); once back, the retry goes out.
    rig.connected = false;
    rig.time.advance(120s);
    CHECK(rig.sent.size() == 1);
    rig.connected = true;
    rig.time.advance(5s);
    CHECK(rig.sent.size() == 2);

    // Stopped: no timer is left armed, and what is held is committed by the last flush.
    rig.committer->add(telemetry("g", 2));
    rig.committer->stop_timers();
    CHECK(rig.time.armed_timers() == 0);
    rig.time.advance(1h);
    CHECK(rig.committer->stats().applied == 2);
    rig.committer->flush();
    CHECK(rig.committer->stats().applied == 3);
}

TEST_CASE("ingest group commit: a busy database is retried; a failing batch is stored one by one") {
    Rig rig;
    // The first statement of the commit finds the database locked: the same batch again, committed once.
    rig.db->fail_with(ErrorKind::busy);
    rig.db->fail_at(1);
    rig.committer->add(telemetry("s", 1));
    rig.time.advance(25ms);
    CHECK(rig.db->failed());
    CHECK(rig.committer->stats().commits == 1);
    CHECK(rig.committer->stats().store_errors == 0);
    CHECK(rig.committer->stats().applied == 1);

    // Another error: the batch of two fails once, then each message is committed on its own.
    rig.db->fail_with(ErrorKind::io);
    rig.db->fail_at(1);
    rig.committer->add(telemetry("s", 2));
    rig.committer->add(telemetry("t", 1));
    rig.time.advance(25ms);
    CHECK(rig.db->failed());
    CHECK(rig.committer->stats().store_errors == 1);
    CHECK(rig.committer->stats().commits == 3);
    CHECK(rig.committer->stats().applied == 3);
    CHECK(*rig.store->count("received") == 3);
}
