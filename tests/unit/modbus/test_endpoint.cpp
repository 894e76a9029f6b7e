#include <doctest/doctest.h>

#include "pvfleet/modbus/endpoint.hpp"

using namespace pvfleet;
using namespace pvfleet::modbus;

TEST_CASE("tcp addresses parse with and without port, IPv6 in brackets") {
    auto a = parse_tcp_address("192.168.1.20:1502");
    REQUIRE(a);
    CHECK(a->host == "192.168.1.20");
    CHECK(a->port == 1502);
    auto b = parse_tcp_address("inverter.local");
    REQUIRE(b);
    CHECK(b->port == 502);
    auto c = parse_tcp_address("[::1]:5020");
    REQUIRE(c);
    CHECK(c->host == "::1");
    CHECK(c->port == 5020);
    CHECK(describe(Address{*c}) == "tcp [::1]:5020");
    CHECK_FALSE(parse_tcp_address("host:0"));
    CHECK_FALSE(parse_tcp_address("host:70000"));
    CHECK_FALSE(parse_tcp_address(":502"));
    CHECK_FALSE(parse_tcp_address("host:5o2"));
    CHECK_FALSE(parse_tcp_address("[::1"));
}

TEST_CASE("rtu settings are validated and described") {
    RtuAddress rtu{"/dev/ttyUSB0", 19200, 'E', 8, 1};
    CHECK(validate(rtu));
    CHECK(describe(Address{rtu}) == "rtu /dev/ttyUSB0 19200 8E1");
    rtu.baud = 12345;
    CHECK(validate(rtu).error().message.find("baud") == 0);
    rtu.baud = 9600;
    rtu.stop_bits = 3;
    CHECK_FALSE(validate(rtu));
    CHECK(parse_parity("even").value() == 'E');
    CHECK_FALSE(parse_parity("X"));
}

TEST_CASE("session timing is validated") {
    SessionTiming t;
    CHECK(validate(t));
    t.timeout_max = Millis{100};
    CHECK(validate(t).error().message.find("timeout_max") == 0);
    t = {};
    t.jitter = 1.5;
    CHECK_FALSE(validate(t));
}
