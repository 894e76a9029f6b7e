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

TEST_CASE("the key path is a field of the error, not parsed back from its text") {
    const Error e = Error::at("type", "unknown 'u33'").under("registers/12");
    CHECK(e.path == "registers/12/type");
    CHECK(Error{"file is empty"}.path.empty());
    CHECK(Error{"file is empty"}.under("devices/3").path == "devices/3");
    // A message that merely looks like "key: detail" carries no path unless it was made at one.
    const Error text{"ticket: bad json"};
    CHECK(text.path.empty());
    CHECK(text.under("stored").message == "stored: ticket: bad json");
}

namespace {
pvfleet::Status check_even(int v) {
    if (v % 2 != 0) return Error::at("n", std::to_string(v) + " is odd");
    return {};
}
Result<int> half_of_digit(char c) {
    PVF_TRY(const int d, parse_digit(c));
    PVF_CHECK(check_even(d));
    return d / 2;
}
}  // namespace

TEST_CASE("PVF_TRY assigns the value or returns the error; PVF_CHECK returns the error of a failed check") {
    CHECK(*half_of_digit('8') == 4);
    CHECK(half_of_digit('x').error().path == "digit");
    CHECK(half_of_digit('3').error().message == "n: 3 is odd");
}
