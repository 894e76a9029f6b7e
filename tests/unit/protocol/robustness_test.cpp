// A deterministic slice of what the libFuzzer target does, so every platform (also the ARM gateway builds under
// qemu, where there is no libFuzzer) checks that damaged payloads give errors, never crashes or wrong successes.
#include <doctest/doctest.h>

#include <iterator>
#include <random>

#include "pvfleet/protocol/codec.hpp"
#include "support/protocol_fixtures.hpp"

using namespace pvfleet;
using namespace pvfleet::protocol;

namespace {
std::vector<std::string> valid_payloads() {
    std::vector<std::string> out{encode(protocol::test::telemetry_batch()).value(), encode(protocol::test::ticket_event()).value(),
                                 encode(protocol::test::status_online()).value(), encode(protocol::test::command_ack()).value()};
    for (const auto& c : protocol::test::commands()) out.push_back(encode(c).value());
    return out;
}

// Decodes, and when it succeeds checks the result survives a round trip; returns whether it decoded.
bool decodes_consistently(std::string_view payload) {
    auto m = decode(payload);
    if (!m.ok()) {
        CHECK_FALSE(m.error().message.empty());
        return false;
    }
    auto again = encode(*m);
    REQUIRE(again.ok());
    auto back = decode(*again);
    REQUIRE(back.ok());
    CHECK(*back == *m);
    return true;
}
}  // namespace

TEST_CASE("every truncation of a valid payload is refused with a message") {
    for (const auto& payload : valid_payloads()) {
        for (std::size_t n = 0; n < payload.size(); ++n) {
            CAPTURE(n);
            CHECK_FALSE(decodes_consistently(std::string_view(payload).substr(0, n)));
        }
    }
}

TEST_CASE("every truncation of a compressed payload is refused with a message") {
    const auto compressed = encode(protocol::test::telemetry_batch(), EncodeOptions{true}).value();
    for (std::size_t n = 0; n < compressed.size(); ++n) {
        CAPTURE(n);
        CHECK_FALSE(decodes_consistently(std::string_view(compressed).substr(0, n)));
    }
}

TEST_CASE("single-byte damage never crashes and whatever still decodes round trips") {
    const char replacements[] = {'"', '0', '-', '[', '{', '}', ']', ',', ':', 'x', '\0', '\\', '\xff'};
    const auto payloads = valid_payloads();
    std::mt19937 rng(2016);  // a fixed sample of 3000 damages keeps the run to seconds under sanitizers
    std::size_t refused = 0;
    constexpr std::size_t kTrials = 3000;
    for (std::size_t trial = 0; trial < kTrials; ++trial) {
        const auto& payload = payloads[rng() % payloads.size()];
        std::string damaged = payload;
        const std::size_t at = rng() % payload.size();
        damaged[at] = replacements[rng() % std::size(replacements)];
        CAPTURE(damaged);
        if (!decodes_consistently(damaged)) ++refused;
    }
    // Most damage breaks the JSON or a field; some (a digit inside a number, an ignored key) is legitimately valid.
    CHECK(refused > kTrials / 2);
    CHECK(refused < kTrials);
}
