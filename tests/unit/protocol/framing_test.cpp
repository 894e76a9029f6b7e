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

TEST_CASE("framing: a kept SplitRest replaces the head without inflating, with the checksum a full inflate finds") {
    const std::string t = text();
    const std::string split = deflate_payload_split(t, kHead.size());
    const auto rest = split_payload_rest(split);
    REQUIRE(rest.has_value());
    const std::string tail = t.substr(kHead.size());
    CHECK(rest->length == tail.size());
    CHECK(rest->adler == adler32(adler32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(tail.data()), static_cast<uInt>(tail.size())));

    for (const std::string& new_head : {std::string(R"({"v":1,"kind":"telemetry","site_id":"s","seq":7,"historical":true,"sent_at":1500000000123)"),
                                       std::string("{"), std::string(), kHead}) {
        CAPTURE(new_head);
        auto fast = replace_payload_head(split, new_head, *rest);
        REQUIRE(fast.has_value());
        CHECK(*fast == replace_payload_head(split, new_head).value());  // the inflating path agrees byte for byte
        // zlib's own reader inflates it, checksum included, to the edited text.
        std::string out(t.size() + 64, '\0');
        uLongf n = out.size();
        REQUIRE(uncompress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(fast->data()), fast->size()) == Z_OK);
        CHECK(out.substr(0, n) == new_head + tail);
        // The rest is unchanged, so the same SplitRest serves the next replacement too.
        auto again = replace_payload_head(*fast, kHead, *rest);
        REQUIRE(again.has_value());
        CHECK(*again == split);
    }
}

TEST_CASE("framing: a SplitRest that does not belong to the payload is refused") {
    const std::string t = text();
    const std::string split = deflate_payload_split(t, kHead.size());
    const auto rest = split_payload_rest(split).value();
    CHECK_FALSE(replace_payload_head(split, kHead, SplitRest{rest.adler ^ 1, rest.length}).has_value());
    CHECK_FALSE(replace_payload_head(split, kHead, SplitRest{rest.adler, rest.length + 1}).has_value());
    const std::string other = deflate_payload_split(t + " ", kHead.size());
    CHECK_FALSE(replace_payload_head(other, kHead, rest).has_value());
    CHECK_FALSE(replace_payload_head(deflate_payload(t), kHead, rest).has_value());  // not head-split
    CHECK_FALSE(split_payload_rest(deflate_payload(t)).has_value());
    std::string bad_sum = split;
    bad_sum.back() = static_cast<char>(bad_sum.back() ^ 1);
    CHECK_FALSE(split_payload_rest(bad_sum).has_value());
}

TEST_CASE("framing: a batch encoded once for resending — live as encode() frames it, stored head-split with its rest known") {
    TelemetryBatch b;
    b.site_id = "site-a";
    b.seq = 7;
    b.sent_at = from_epoch_ms(1468915230000);
    b.resolution_s = 10;
    for (int i = 0; i < 30; ++i) {
        domain::Sample s;
        s.device_id = "inv1";
        s.t = from_epoch_ms(1468915200000 + 10000LL * i);
        s.values["ac_power_w"] = 1000 + i;
        s.arrays["dc_voltage_v"] = {412.5, 398.0};
        b.samples.push_back(s);
    }
    auto r = encode_resendable(b);
    REQUIRE(r.ok());
    CHECK(r->live == encode(b, {.compress = true}).value());
    const std::string text = unframe(r->live).value();
    CHECK(unframe(r->stored).value() == text);
    const std::string head = telemetry_head("site-a", 7, false, b.sent_at);
    CHECK(head == R"({"v":1,"kind":"telemetry","site_id":"site-a","seq":7,"historical":false,"sent_at":1468915230000)");
    REQUIRE(split_payload_head(r->stored).has_value());
    CHECK(*split_payload_head(r->stored) == head);
    REQUIRE(r->rest.has_value());
    CHECK(*r->rest == split_payload_rest(r->stored).value());  // taken from the text: the same as inflating finds

    // Sent again: a head built from values, the compressed rest untouched; it decodes as the batch flagged.
    const TimePoint later = from_epoch_ms(1468999999000);
    auto again = replace_payload_head(r->stored, telemetry_head("site-a", 7, true, later), *r->rest);
    REQUIRE(again.has_value());
    auto decoded = decode_telemetry(*again);
    REQUIRE(decoded.ok());
    b.historical = true;
    b.sent_at = later;
    CHECK(unframe(*again).value() == unframe(encode(b, {.compress = true}).value()).value());
    CHECK(decoded->samples.size() == 30);
}
