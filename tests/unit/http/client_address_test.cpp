// Which address a request counts as (login limits per address): X-Forwarded-For only from a trusted proxy.
#include <doctest/doctest.h>

#include "pvfleet/http/http.hpp"

using pvfleet::http::client_address;

TEST_CASE("client_address: without trusted proxies the peer is the client, whatever the header says") {
    CHECK(client_address("192.0.2.1", std::string("198.51.100.7"), {}) == "192.0.2.1");
    CHECK(client_address("192.0.2.1", std::nullopt, {}) == "192.0.2.1");
    // A peer that is not one of the trusted proxies cannot pick its address.
    CHECK(client_address("192.0.2.1", std::string("198.51.100.7"), {"127.0.0.1"}) == "192.0.2.1");
}

TEST_CASE("client_address: behind a trusted proxy, the right-most entry that is not a trusted proxy") {
    const std::vector<std::string> proxies{"127.0.0.1", "10.0.0.2"};
    CHECK(client_address("127.0.0.1", std::string("198.51.100.7"), proxies) == "198.51.100.7");
    // The client may send its own header: the proxy appends the real peer on the right.
    CHECK(client_address("127.0.0.1", std::string("203.0.113.9, 198.51.100.7"), proxies) == "198.51.100.7");
    // Two proxies in a chain: the inner one is skipped.
    CHECK(client_address("127.0.0.1", std::string("203.0.113.9,198.51.100.7, 10.0.0.2"), proxies) ==
          "198.51.100.7");
    // IPv6, written differently by the proxy than in the config, is compared in canonical form.
    CHECK(client_address("::1", std::string("2001:db8:0:0::1"), {"0:0:0:0:0:0:0:1"}) == "2001:db8::1");
    // A server on :: sees an IPv4 proxy as an IPv4-mapped address: still the configured proxy.
    CHECK(client_address("::ffff:10.0.0.2", std::string("198.51.100.7"), proxies) == "198.51.100.7");
    CHECK(client_address("::ffff:10.0.0.2", std::string("::ffff:198.51.100.7"), proxies) == "198.51.100.7");
}

TEST_CASE("client_address: no usable entry leaves the proxy's own address") {
    const std::vector<std::string> proxies{"127.0.0.1"};
    CHECK(client_address("127.0.0.1", std::nullopt, proxies) == "127.0.0.1");
    CHECK(client_address("127.0.0.1", std::string(""), proxies) == "127.0.0.1");
    CHECK(client_address("127.0.0.1", std::string("203.0.113.9, not-an-address"), proxies) == "127.0.0.1");
    CHECK(client_address("127.0.0.1", std::string("127.0.0.1"), proxies) == "127.0.0.1");
    CHECK(client_address("127.0.0.1", std::string("198.51.100.7, unknown"), proxies) == "127.0.0.1");
}
