// The Cookie header parser: exact names only, pairs split at ';', blanks ignored.
#include <doctest/doctest.h>

#include "pvfleet/http/http.hpp"

using pvfleet::http::cookie_value;

TEST_CASE("cookie_value: the exact name, wherever the pair is") {
    CHECK(cookie_value("pvfleet_session=abc", "pvfleet_session") == "abc");
    CHECK(cookie_value("theme=dark; pvfleet_session=abc; lang=de", "pvfleet_session") == "abc");
    CHECK(cookie_value("theme=dark;pvfleet_session=abc", "pvfleet_session") == "abc");
    CHECK(cookie_value("  pvfleet_session = abc  ;x=1", "pvfleet_session") == "abc");
    CHECK(cookie_value("pvfleet_session=\"abc\"", "pvfleet_session") == "abc");
    CHECK(cookie_value("pvfleet_session=", "pvfleet_session") == "");
    // The first of two is taken (browsers send the most specific path first).
    CHECK(cookie_value("pvfleet_session=a; pvfleet_session=b", "pvfleet_session") == "a");
}

TEST_CASE("cookie_value: names that merely contain the name do not match") {
    CHECK_FALSE(cookie_value("notpvfleet_session=abc", "pvfleet_session"));
    CHECK_FALSE(cookie_value("xpvfleet_session=", "pvfleet_session"));
    CHECK_FALSE(cookie_value("pvfleet_session2=abc", "pvfleet_session"));
    CHECK_FALSE(cookie_value("theme=pvfleet_session=abc", "pvfleet_session"));
    CHECK_FALSE(cookie_value("a=1; notpvfleet_session=abc; b=2", "pvfleet_session"));
    CHECK_FALSE(cookie_value("pvfleet_session", "pvfleet_session"));
    CHECK_FALSE(cookie_value("", "pvfleet_session"));
    CHECK_FALSE(cookie_value(";;;", "pvfleet_session"));
    // A later exact pair is still found behind a look-alike.
    CHECK(cookie_value("notpvfleet_session=evil; pvfleet_session=good", "pvfleet_session") == "good");
}
