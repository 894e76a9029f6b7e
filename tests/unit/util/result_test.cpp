#include <doctest/doctest.h>

#include "pvfleet/util/result.hpp"

using pvfleet::Error;
using pvfleet::Result;

namespace {
Result<int> parse_digit(char c) {
    if (c < '0' || c > '9') return Error::at("digit", std::string("'") + c + "' is not a digit");
    return c - '0';
}
}  // namespace

TEST_CASE("Result carries a value or an error naming where it failed") {
    auto good = parse_digit('7');
    REQUIRE(good.ok());
    CHECK(*good == 7);
    auto bad = parse_digit('x');
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "digit: 'x' is not a digit");
    CHECK(bad.value_or(-1) == -1);
}

TEST_CASE("Error::under builds key paths from the inside out") {
    const Error e = Error::at("type", "unknown 'u33' (expected u16, s16, u32, ...)");
    CHECK(e.under("registers/12").under("devices/3").message ==
          "devices/3/registers/12/type: unknown 'u33' (expected u16, s16, u32, ...)");
    CHECK(Error{"file is empty"}.under("devices/3").message == "devices/3: file is empty");
}
