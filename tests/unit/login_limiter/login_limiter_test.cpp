// Failed-login limits in memory, driven by a manual clock: a window per key, limits per account across
// addresses and per address across accounts, and a table that never holds more than its maximum of entries.
#include "pvfleet/api/login_limiter.hpp"

#include <doctest/doctest.h>

using namespace pvfleet;
using namespace pvfleet::api;
using namespace std::chrono_literals;

namespace {
TimePoint t0() {
    return from_epoch_ms(1782864000000);
}
}  // namespace

TEST_CASE("failure table: allowed failures, then a wait until the window ends") {
    FailureTable table(100, 3, 300s);
    ManualClock clock(t0());
    for (int i = 0; i < 3; ++i) {
        CHECK_FALSE(table.blocked("alice", clock.now()));
        table.add_failure("alice", clock.now());
        clock.advance(10s);
    }
    // Window began at t0; 30 s have passed.
    REQUIRE(table.blocked("alice", clock.now()));
    CHECK(*table.blocked("alice", clock.now()) == 270s);
    CHECK_FALSE(table.blocked("bob", clock.now()));
    clock.advance(269s);
    CHECK(*table.blocked("alice", clock.now()) == 1s);
    clock.advance(1s);
    CHECK_FALSE(table.blocked("alice", clock.now()));
    // A new failure after the window starts a new one.
    table.add_failure("alice", clock.now());
    CHECK_FALSE(table.blocked("alice", clock.now()));
}

TEST_CASE("failure table: never more than its maximum of entries; expired ones go first") {
    FailureTable table(50, 3, 300s);
    ManualClock clock(t0());
    for (int i = 0; i < 10'000; ++i) {
        table.add_failure(std::string(128, 'a') + std::to_string(i), clock.now());
        CHECK(table.size() <= 50);
    }
    CHECK(table.size() == 50);
    for (int i = 0; i < 3; ++i) table.add_failure("recent", clock.now());
    CHECK(table.blocked("recent", clock.now()));
    clock.advance(301s);
    table.add_failure("later", clock.now());
    CHECK(table.size() == 1);  // every other entry's window had ended
}

TEST_CASE("failure table: a failure counted ahead can be taken back; clear forgets the key") {
    FailureTable table(10, 2, 60s);
    const TimePoint now = t0();
    table.add_failure("k", now);
    table.add_failure("k", now);
    CHECK(table.blocked("k", now));
    table.remove_failure("k");
    CHECK_FALSE(table.blocked("k", now));
    CHECK(table.size() == 1);
    table.remove_failure("k");
    CHECK(table.size() == 0);
    table.add_failure("k", now);
    table.clear("k");
    CHECK(table.size() == 0);
}

TEST_CASE("login limiter: per account across addresses") {
    LoginLimiter limiter({.per_account = 3, .per_address = 100, .window = 300s, .max_entries = 100});
    const TimePoint now = t0();
    CHECK_FALSE(limiter.begin("192.0.2.1", "alice", now));
    CHECK_FALSE(limiter.begin("192.0.2.2", "alice", now));
    CHECK_FALSE(limiter.begin("192.0.2.3", "alice", now));
    const auto wait = limiter.begin("192.0.2.4", "alice", now);
    REQUIRE(wait);
    CHECK(*wait == 300s);
    CHECK_FALSE(limiter.begin("192.0.2.4", "bob", now));  // another account from that address may try
}

TEST_CASE("login limiter: per address across accounts, IPv6 by its /64") {
    LoginLimiter limiter({.per_account = 100, .per_address = 3, .window = 300s, .max_entries = 100});
    const TimePoint now = t0();
    for (const char* name : {"a1", "a2", "a3"}) CHECK_FALSE(limiter.begin("2001:db8:1:2::10", name, now));
    CHECK(limiter.begin("2001:db8:1:2:ffff::99", "a4", now));   // same /64
    CHECK_FALSE(limiter.begin("2001:db8:1:3::10", "a4", now));  // another /64
    CHECK(address_key("2001:db8:1:2::10") == "2001:db8:1:2::/64");
    CHECK(address_key("::ffff:192.0.2.7") == "192.0.2.7");
    CHECK(address_key("192.0.2.7") == "192.0.2.7");
}

TEST_CASE("login limiter: success forgets the account and takes the address's attempt back") {
    LoginLimiter limiter({.per_account = 2, .per_address = 2, .window = 300s, .max_entries = 100});
    const TimePoint now = t0();
    CHECK_FALSE(limiter.begin("192.0.2.1", "alice", now));  // a failure
    CHECK_FALSE(limiter.begin("192.0.2.1", "alice", now));  // counted ahead, then right
    limiter.succeeded("192.0.2.1", "alice");
    CHECK_FALSE(limiter.begin("192.0.2.1", "alice", now));  // the address has one failure left
    limiter.not_attempted("192.0.2.1", "alice");            // refused before the check: not a failure
    CHECK_FALSE(limiter.begin("192.0.2.1", "alice", now));
    CHECK(limiter.begin("192.0.2.1", "alice", now));  // now two failures from the address
}

TEST_CASE("login limiter: bounded whatever names and addresses arrive") {
    LoginLimiter limiter({.per_account = 5, .per_address = 5, .window = 300s, .max_entries = 64});
    const TimePoint now = t0();
    for (int i = 0; i < 5'000; ++i)
        (void)limiter.begin("198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                            std::string(128, 'x') + std::to_string(i), now);
    CHECK(limiter.entries() <= 2 * 64);
}
