// The event log on both engines (storage/events.hpp): a producer's rollback tells nobody; the dispatcher
// hands each event to every consumer once, in order, also with two dispatchers on two connections; a
// consumer's failure rolls back everything written for that event and leaves it pending for the next pass;
// bad events are refused at the field they are about.
#include "pvfleet/storage/events.hpp"

#include <doctest/doctest.h>

#include <array>
#include <thread>

#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
using storage::Event;
using storage::NewEvent;

namespace {

const TimePoint kT0 = from_epoch_ms(1'780'000'000'000);

// Writes a row per event it sees (so a rollback of the event's transaction is visible) and can be told to
// fail.
class RecordingConsumer final : public storage::EventConsumer {
public:
    explicit RecordingConsumer(std::string tag_) : tag(std::move(tag_)) {}
    std::string_view consumer_name() const override { return "recording"; }
    Status consume(storage::Db& db, const Event& event, TimePoint) override {
        if (fail_on == event.name) return Error{"refused on purpose"};
        seen.push_back(event.id);
        auto r = db.run("INSERT INTO consumed (consumer, event_id) VALUES ($1, $2)", {tag, event.id});
        if (!r) return r.error();
        return {};
    }
    std::string tag;  // the logical consumer: two dispatchers' instances of one share it
    std::string fail_on;
    std::vector<std::int64_t> seen;
};

struct Fixture {
    SimulatedTimeSystem time{kT0};
    storage::Store store;
    explicit Fixture(const test::Backend& be) : store(be.open(), time) {
        REQUIRE(store.migrate());
        REQUIRE(db().run_script(
            "CREATE TABLE consumed (consumer TEXT, event_id BIGINT, PRIMARY KEY (consumer, event_id))"));
    }
    storage::Db& db() { return store.db(); }
    long long scalar(const std::string& sql) { return db().run(sql)->rows.at(0).integer(0); }
};

NewEvent event(std::string name, int n = 0) {
    NewEvent e;
    e.name = std::move(name);
    e.occurred_at = kT0;
    e.data = {{"n", n}, {"title", "Grid application — 7 天"}};
    e.recipients = {"pm", "boss", "pm"};
    return e;
}

}  // namespace

TEST_CASE("events: appended in the producer's transaction, dispatched once to every consumer") {
    test::TempDir dir("events");
    for (const auto& be : test::fresh_backends(dir, "events")) {
        INFO("engine: " << be.name);
        Fixture f(be);
        REQUIRE(storage::append_event(f.db(), event("lead.created", 1)));
        // A producer that rolls back tells nobody.
        auto rolled = storage::in_transaction(f.db(), [&]() -> Status {
            REQUIRE(storage::append_event(f.db(), event("lead.assigned", 2)));
            return Error{"the producer's own change failed"};
        });
        CHECK_FALSE(rolled);
        REQUIRE(storage::append_event(f.db(), event("milestone.overdue", 3)));

        auto pending = storage::pending_events(f.db(), 10);
        REQUIRE(pending);
        REQUIRE(pending->size() == 2);
        CHECK((*pending)[0].name == "lead.created");
        CHECK((*pending)[0].data["title"] == "Grid application — 7 天");
        CHECK((*pending)[0].recipients ==
              std::vector<std::string>{"pm", "boss"});  // repeats dropped, order kept
        CHECK((*pending)[1].name == "milestone.overdue");

        RecordingConsumer a("a"), b("b");
        std::array<storage::EventConsumer*, 2> consumers{&a, &b};
        auto report = storage::dispatch_pending_events(f.db(), consumers, kT0);
        REQUIRE(report);
        CHECK(report->dispatched == 2);
        CHECK(a.seen == std::vector<std::int64_t>{(*pending)[0].id, (*pending)[1].id});
        CHECK(b.seen == a.seen);
        // Nothing pending any more: a second pass hands nothing over.
        report = storage::dispatch_pending_events(f.db(), consumers, kT0);
        REQUIRE(report);
        CHECK(report->dispatched == 0);
        CHECK(a.seen.size() == 2);
        // events_after still lists them (tools and tests).
        auto all = storage::events_after(f.db(), 0, 100);
        REQUIRE(all);
        CHECK(all->size() == 2);
    }
}

TEST_CASE("events: a consumer's failure rolls its event back whole and leaves it pending") {
    test::TempDir dir("events");
    for (const auto& be : test::fresh_backends(dir, "eventsfail")) {
        INFO("engine: " << be.name);
        Fixture f(be);
        REQUIRE(storage::append_event(f.db(), event("lead.created", 1)));
        REQUIRE(storage::append_event(f.db(), event("payment.overdue", 2)));
        REQUIRE(storage::append_event(f.db(), event("site.offline", 3)));
        RecordingConsumer first("first"), second("second");
        second.fail_on = "payment.overdue";
        std::array<storage::EventConsumer*, 2> consumers{&first, &second};
        auto report = storage::dispatch_pending_events(f.db(), consumers, kT0);
        REQUIRE(report);
        CHECK(report->dispatched == 2);
        CHECK(report->failed == 1);
        // The first consumer's row for the failed event was rolled back with it.
        CHECK(f.scalar("SELECT COUNT(*) FROM consumed") == 4);
        CHECK(first.seen.size() == 3);  // it saw all three; its row of the failed one is gone
        auto pending = storage::pending_events(f.db(), 10);
        REQUIRE(pending);
        REQUIRE(pending->size() == 1);
        CHECK(pending->front().name == "payment.overdue");
        // Fixed, the next pass delivers it (and only it).
        second.fail_on.clear();
        std::array<storage::EventConsumer*, 1> only_second{&second};
        report = storage::dispatch_pending_events(f.db(), only_second, kT0);
        REQUIRE(report);
        CHECK(report->dispatched == 1);
        CHECK(second.seen.back() == pending->front().id);
        CHECK(f.scalar("SELECT COUNT(*) FROM events WHERE dispatched_at_ms IS NULL") == 0);
    }
}

TEST_CASE("events: two dispatchers on two connections hand each event over once") {
    test::TempDir dir("events");
    for (const auto& be : test::fresh_backends(dir, "eventsrace")) {
        INFO("engine: " << be.name);
        Fixture f(be);
        constexpr int kEvents = 60;
        for (int i = 0; i < kEvents; ++i)
            REQUIRE(storage::append_event(f.db(), event("work_order.created", i)));
        auto second_db = be.open();
        RecordingConsumer one("inbox"), two("inbox");
        std::array<storage::EventConsumer*, 1> c1{&one}, c2{&two};
        std::thread other([&] {
            for (int pass = 0; pass < 20; ++pass)
                (void)storage::dispatch_pending_events(*second_db, c2, kT0, 7);
        });
        for (int pass = 0; pass < 20; ++pass) (void)storage::dispatch_pending_events(f.db(), c1, kT0, 7);
        other.join();
        // Each event consumed exactly once between them (the consumed table's primary key would refuse a
        // second).
        CHECK(one.seen.size() + two.seen.size() == kEvents);
        CHECK(f.scalar("SELECT COUNT(*) FROM consumed") == kEvents);
        CHECK(f.scalar("SELECT COUNT(*) FROM events WHERE dispatched_at_ms IS NULL") == 0);
    }
}

TEST_CASE("events: bad events are refused at the field they are about") {
    test::TempDir dir("events");
    auto be = test::fresh_backends(dir, "eventsbad").front();
    Fixture f(be);
    auto e = event("Lead Created");
    auto r = storage::append_event(f.db(), e);
    REQUIRE_FALSE(r);
    CHECK(r.error().path == "name");
    e = event("lead.created");
    e.data = nlohmann::json::array();
    r = storage::append_event(f.db(), e);
    REQUIRE_FALSE(r);
    CHECK(r.error().path == "data");
    e = event("lead.created");
    e.data = {{"notes", std::string(70 * 1024, 'x')}};
    r = storage::append_event(f.db(), e);
    REQUIRE_FALSE(r);
    CHECK(r.error().path == "data");
    e = event("lead.created");
    e.recipients.assign(1001, "someone");
    for (int i = 0; i < 1001; ++i) e.recipients[i] += std::to_string(i);
    r = storage::append_event(f.db(), e);
    REQUIRE_FALSE(r);
    CHECK(r.error().path == "recipients");
    CHECK(f.scalar("SELECT COUNT(*) FROM events") == 0);
}

TEST_CASE("events: a large back office never makes a producer's change fail") {
    test::TempDir dir("events");
    for (const auto& be : test::fresh_backends(dir, "eventsoffice")) {
        INFO("engine: " << be.name);
        Fixture f(be);
        // 70 active back-office users and a disabled one: all the active ones are a role's audience.
        for (int i = 0; i < 71; ++i)
            REQUIRE(f.db().run(
                "INSERT INTO users (name, role, password_hash, disabled, created_at_ms) VALUES ($1, "
                "'back_office', 'x', $2, 0)",
                {"office" + std::to_string(100 + i), std::int64_t{i == 70 ? 1 : 0}}));
        auto office = storage::active_users_with_role(f.db(), "back_office");
        REQUIRE(office);
        CHECK(office->size() == 70);
        // A work order's assignee plus the whole back office, as storage's work-order producer names them.
        NewEvent e = event("work_order.created");
        e.recipients = {"tech"};
        e.recipients.insert(e.recipients.end(), office->begin(), office->end());
        auto appended = storage::append_event(f.db(), e);
        REQUIRE_MESSAGE(appended, (appended ? "" : appended.error().message));
        auto pending = storage::pending_events(f.db(), 10);
        REQUIRE(pending);
        REQUIRE(pending->size() == 1);
        CHECK(pending->front().recipients.size() == 71);
    }
}
