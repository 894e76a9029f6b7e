// Head-split zlib framing: an ordinary zlib stream to readers, whose head can be swapped without recompressing.
#include <doctest/doctest.h>

#include <zlib.h>

#include "pvfleet/protocol/codec.hpp"

using namespace pvfleet;
using namespace pvfleet::protocol;

namespace {
const std::string kHead = R"({"v":1,"kind":"telemetry","site_id":"s","seq":7,"historical":false,"sent_at":1468915230000)";
std::string text() {
    std::string t = kHead + R"(,"resolution_s":10,"devices":[)";
    for (int i = 0; i < 50; ++i)
        t += std::string(i ? "," : "") + R"({"device_id":"inv)" + std::to_string(i) + R"(","t0":1468915200000,"dt":[0],"points":{}})";
    return t + "]}";
}
}  // namespace

TEST_CASE("framing: a head-split payload inflates like any other and its head can be replaced") {
    const std::string t = text();
    const std::string split = deflate_payload_split(t, kHead.size());
    REQUIRE_FALSE(split.empty());
    CHECK(is_compressed(split));
    auto back = unframe(split);
    REQUIRE(back.ok());
    CHECK(*back == t);
    // zlib's own reader agrees (checksum included).
    std::string out(t.size() + 16, '\0');
    uLongf n = out.size();
    REQUIRE(uncompress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(split.data()), split.size()) == Z_OK);
    CHECK(out.substr(0, n) == t);

    REQUIRE(split_payload_head(split).has_value());
    CHECK(*split_payload_head(split) == kHead);
    const std::string new_head = R"({"v":1,"kind":"telemetry","site_id":"s","seq":7,"historical":true,"sent_at":1500000000123)";
    auto replaced = replace_payload_head(split, new_head);
    REQUIRE(replaced.has_value());
    auto edited = unframe(*replaced);
    REQUIRE(edited.ok());
    CHECK(*edited == new_head + t.substr(kHead.size()));
    CHECK(*split_payload_head(*replaced) == new_head);
    auto twice = replace_payload_head(*replaced, kHead);  // and back again
    REQUIRE(twice.has_value());
    CHECK(*twice == split);
}

TEST_CASE("framing: payloads without a replaceable head are refused, corrupt ones too") {
    const std::string t = text();
    CHECK_FALSE(split_payload_head(deflate_payload(t)).has_value());  // an ordinary stream starts compressed
    CHECK_FALSE(split_payload_head(t).has_value());                   // plain JSON
    CHECK_FALSE(replace_payload_head(deflate_payload(t), kHead).has_value());
    std::string split = deflate_payload_split(t, kHead.size());
    std::string bad_sum = split;
    bad_sum.back() = static_cast<char>(bad_sum.back() ^ 1);
    CHECK_FALSE(replace_payload_head(bad_sum, kHead).has_value());
    std::string truncated = split.substr(0, split.size() - 10) + split.substr(split.size() - 4);
    CHECK_FALSE(replace_payload_head(truncated, kHead).has_value());
    CHECK(deflate_payload_split(t, t.size() + 1).empty());
    CHECK(deflate_payload_split(t, 0).size() > 0);  // an empty head is still a valid stream
    CHECK(unframe(deflate_payload_split(t, 0)).value() == t);
}
