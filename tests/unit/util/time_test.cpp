#include <doctest/doctest.h>

#include "pvfleet/util/time.hpp"

using namespace pvfleet;

TEST_CASE("ISO-8601 round trip in UTC") {
    auto t = parse_iso8601("2016-07-01T06:15:00.250Z");
    REQUIRE(t.ok());
    CHECK(format_iso8601(*t) == "2016-07-01T06:15:00.250Z");
}

TEST_CASE("offsets are applied; local times without an offset are refused") {
    auto denver = parse_iso8601("2016-07-01 00:15:00-07:00");
    REQUIRE(denver.ok());
    CHECK(format_iso8601(*denver) == "2016-07-01T07:15:00.000Z");
    CHECK(format_iso8601(*parse_iso8601("2016-07-01T09:15+0200")) == "2016-07-01T07:15:00.000Z");
    auto naive = parse_iso8601("2016-07-01 00:15:00");
    REQUIRE_FALSE(naive.ok());
    CHECK(naive.error().message == "timestamp '2016-07-01 00:15:00': missing UTC offset (Z or +HH:MM)");
    CHECK_FALSE(parse_iso8601("2016-02-30T00:00Z").ok());
    CHECK_FALSE(parse_iso8601("garbage").ok());
}
