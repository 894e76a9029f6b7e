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

#include "pvfleet/modbus/endpoint_args.hpp"

TEST_CASE("endpoint options are taken out of a command line") {
    auto tcp = parse_endpoint_args({"--unit", "3", "--tcp", "10.0.0.5:1502", "--json"});
    REQUIRE(tcp);
    CHECK(std::get<TcpAddress>(tcp->address) == TcpAddress{"10.0.0.5", 1502});
    CHECK(tcp->rest == std::vector<std::string>{"--unit", "3", "--json"});

    auto rtu = parse_endpoint_args({"--rtu", "/dev/ttyUSB0", "--baud", "19200", "--parity", "E", "--stop-bits", "2"});
    REQUIRE(rtu);
    CHECK(std::get<RtuAddress>(rtu->address) == RtuAddress{"/dev/ttyUSB0", 19200, 'E', 8, 2});

    CHECK(parse_endpoint_args({"--json"}).error().message.find("missing --tcp") != std::string::npos);
    CHECK_FALSE(parse_endpoint_args({"--tcp", "a:1", "--rtu", "/dev/x"}));
    CHECK_FALSE(parse_endpoint_args({"--tcp", "a:1", "--baud", "9600"}));
    CHECK(parse_endpoint_args({"--rtu", "/dev/x", "--baud", "1234"}).error().message.find("baud") != std::string::npos);
    CHECK_FALSE(parse_endpoint_args({"--tcp"}));
}

TEST_CASE("unit lists") {
    auto all = parse_unit_list("1-247");
    REQUIRE(all);
    CHECK(all->size() == 247);
    auto some = parse_unit_list("5,1-3,3");
    REQUIRE(some);
    CHECK(*some == std::vector<uint8_t>{1, 2, 3, 5});
    CHECK_FALSE(parse_unit_list("0-300"));
    CHECK_FALSE(parse_unit_list("7-3"));
    CHECK_FALSE(parse_unit_list("x"));
}
