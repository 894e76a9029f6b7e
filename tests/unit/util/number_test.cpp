#include <doctest/doctest.h>

#include <cstdint>

#include "pvfleet/util/number.hpp"

using pvfleet::parse_leading_number;
using pvfleet::parse_number;

TEST_CASE("parse_number: the whole text or nothing, without exceptions") {
    CHECK(parse_number<int>("42") == 42);
    CHECK(parse_number<int>("-7") == -7);
    CHECK_FALSE(parse_number<int>("12x"));
    CHECK_FALSE(parse_number<int>(""));
    CHECK_FALSE(parse_number<int>(" 1"));
    CHECK_FALSE(parse_number<int>("99999999999"));  // out of range
    CHECK(parse_number<std::uint64_t>("ff", 16) == 255);
    CHECK_FALSE(parse_number<std::uint64_t>("-1"));
    CHECK(parse_number<double>("1.5e3") == 1500.0);
    CHECK_FALSE(parse_number<double>("1.5s"));
}

TEST_CASE("parse_leading_number: the number the text starts with") {
    CHECK(parse_leading_number<long long>("12abc") == 12);
    CHECK(parse_leading_number<double>("1.2.3") == 1.2);
    CHECK_FALSE(parse_leading_number<int>("abc"));
    CHECK_FALSE(parse_leading_number<int>(""));
}
