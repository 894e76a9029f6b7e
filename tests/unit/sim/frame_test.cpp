#include <doctest/doctest.h>

#include <string_view>

#include "pvfleet/sim/frame.hpp"

using namespace pvfleet::sim;

namespace {
Bytes bytes(std::initializer_list<int> v) {
    Bytes out;
    for (int x : v) out.push_back(static_cast<uint8_t>(x));
    return out;
}
}  // namespace

TEST_CASE("CRC-16/MODBUS matches the catalogue check value and a known request") {
    const std::string_view check = "123456789";
    CHECK(crc16_modbus(std::span(reinterpret_cast<const uint8_t*>(check.data()), check.size())) == 0x4B37);
    // Read 10 holding registers from 0 on unit 1: the frame every Modbus guide shows, CRC C5 CD on the wire.
    const auto adu = build_rtu_adu(1, bytes({0x03, 0x00, 0x00, 0x00, 0x0A}));
    CHECK(adu == bytes({0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}));
}

TEST_CASE("RTU request length and frame check") {
    CHECK_FALSE(rtu_request_length(bytes({0x01})).has_value());
    CHECK(rtu_request_length(bytes({0x01, 0x03})) == 8u);
    CHECK(rtu_request_length(bytes({0x01, 0x06})) == 8u);
    CHECK_FALSE(rtu_request_length(bytes({0x01, 0x10, 0, 0, 0, 2})).has_value());
    CHECK(rtu_request_length(bytes({0x01, 0x10, 0, 0, 0, 2, 4})) == 13u);
    CHECK_FALSE(rtu_request_length(bytes({0x01, 0x2B, 0x0E})).has_value());

    RtuRequest request;
    auto good = bytes({0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD});
    REQUIRE(check_rtu_frame(good, request) == RtuCheck::ok);
    CHECK(request.unit == 1);
    CHECK(request.pdu == bytes({0x03, 0x00, 0x00, 0x00, 0x0A}));
    good[7] ^= 0x01;
    CHECK(check_rtu_frame(good, request) == RtuCheck::bad_crc);
    CHECK(check_rtu_frame(bytes({0x01, 0x03, 0x00}), request) == RtuCheck::too_short);
    CHECK(rtu_silent_interval(9600).count() == 4010);
    CHECK(rtu_silent_interval(115200).count() == 1750);
}

TEST_CASE("MBAP header round trip") {
    const auto adu = build_tcp_adu(0x1234, 7, bytes({0x03, 0x02, 0xAB, 0xCD}));
    CHECK(adu == bytes({0x12, 0x34, 0x00, 0x00, 0x00, 0x05, 0x07, 0x03, 0x02, 0xAB, 0xCD}));
    const auto h = parse_mbap(std::span<const uint8_t, mbap_size>(adu.data(), mbap_size));
    CHECK(h.transaction == 0x1234);
    CHECK(h.protocol == 0);
    CHECK(h.length == 5);
    CHECK(h.unit == 7);
}

TEST_CASE("request handling: reads, writes and exception codes") {
    RegisterImage image;
    for (uint16_t a = 100; a < 110; ++a) image.set(RegisterKind::holding, a, static_cast<uint16_t>(a * 3));
    image.set(RegisterKind::input, 5, 0xBEEF);
    image.set_writable(105, true);

    CHECK(handle_request(image, bytes({0x03, 0x00, 100, 0x00, 2})) == bytes({0x03, 4, 0x01, 0x2C, 0x01, 0x2F}));
    CHECK(handle_request(image, bytes({0x04, 0x00, 5, 0x00, 1})) == bytes({0x04, 2, 0xBE, 0xEF}));
    SUBCASE("gaps and kinds are illegal data addresses") {
        CHECK(handle_request(image, bytes({0x03, 0x00, 108, 0x00, 3})) == bytes({0x83, 0x02}));
        CHECK(handle_request(image, bytes({0x04, 0x00, 100, 0x00, 1})) == bytes({0x84, 0x02}));
        CHECK(handle_request(image, bytes({0x03, 0xFF, 0xFF, 0x00, 2})) == bytes({0x83, 0x02}));
    }
    SUBCASE("counts outside 1..125 are illegal data values") {
        CHECK(handle_request(image, bytes({0x03, 0x00, 100, 0x00, 0})) == bytes({0x83, 0x03}));
        CHECK(handle_request(image, bytes({0x03, 0x00, 100, 0x00, 126})) == bytes({0x83, 0x03}));
        CHECK(handle_request(image, bytes({0x03, 0x00, 100})) == bytes({0x83, 0x03}));
    }
    SUBCASE("unknown function") { CHECK(handle_request(image, bytes({0x2B, 0x0E, 0x01})) == bytes({0xAB, 0x01})); }
    SUBCASE("single write lands only on writable registers") {
        CHECK(handle_request(image, bytes({0x06, 0x00, 105, 0x12, 0x34})) == bytes({0x06, 0x00, 105, 0x12, 0x34}));
        CHECK(image.get(RegisterKind::holding, 105) == 0x1234);
        CHECK(handle_request(image, bytes({0x06, 0x00, 104, 0x12, 0x34})) == bytes({0x86, 0x02}));
        CHECK(image.get(RegisterKind::holding, 104) == 312);
    }
    SUBCASE("multiple write") {
        image.set_writable(106, true);
        CHECK(handle_request(image, bytes({0x10, 0x00, 105, 0x00, 2, 4, 0, 1, 0, 2})) == bytes({0x10, 0x00, 105, 0x00, 2}));
        CHECK(image.get(RegisterKind::holding, 106) == 2);
        CHECK(handle_request(image, bytes({0x10, 0x00, 105, 0x00, 2, 3, 0, 1, 0})) == bytes({0x90, 0x03}));
        CHECK(handle_request(image, bytes({0x10, 0x00, 106, 0x00, 2, 4, 0, 1, 0, 2})) == bytes({0x90, 0x02}));
    }
}
