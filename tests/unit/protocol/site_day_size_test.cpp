// The size budget: one site-day of two inverters at 10-second resolution costs at most 1 MB of MQTT payload.
#include <doctest/doctest.h>

#include <cstdio>

#include "pvfleet/protocol/codec.hpp"
#include "support/protocol_fixtures.hpp"

using namespace pvfleet;
using namespace pvfleet::protocol;

namespace {
struct DayCost {
    std::size_t bytes = 0;
    std::size_t messages = 0;
};

// Splits the day into batches of `batch_seconds` (both devices in one batch, as the edge publishes them),
// encodes each, optionally checks it decodes back to the same samples, and sums the payload sizes.
DayCost encode_day(const std::vector<domain::Sample>& samples, int batch_seconds, bool compress, bool verify) {
    DayCost cost;
    Seq seq = 1;
    std::size_t i = 0;
    while (i < samples.size()) {
        TelemetryBatch batch;
        batch.site_id = "household-0042";
        batch.seq = seq++;
        batch.resolution_s = 10;
        const auto window_end = samples[i].t + std::chrono::seconds(batch_seconds);
        while (i < samples.size() && samples[i].t < window_end) batch.samples.push_back(samples[i++]);
        batch.sent_at = window_end;
        auto payload = encode(batch, EncodeOptions{compress});
        REQUIRE(payload.ok());
        if (verify) {
            auto back = decode_telemetry(*payload);
            REQUIRE(back.ok());
            // Decoding groups samples by device (first appearance first), in time order within a device.
            std::vector<domain::Sample> expected;
            for (const char* device : {"inv1", "inv2"}) {
                for (const auto& s : batch.samples) {
                    if (s.device_id == device) expected.push_back(s);
                }
            }
            REQUIRE(back->samples == expected);
        }
        cost.bytes += payload->size();
        ++cost.messages;
    }
    return cost;
}
}  // namespace

TEST_CASE("one site-day of two inverters at 10 s fits in 1 MB of payload") {
    const auto day = test::site_day();
    REQUIRE(day.samples.size() == 17280);
    std::size_t points = 0;
    for (const auto& s : day.samples) points += s.values.size() + s.arrays.size() + (s.state ? 1 : 0);
    std::printf("site-day: %zu samples, %.1f points/sample, shaped by %s\n", day.samples.size(),
                static_cast<double>(points) / static_cast<double>(day.samples.size()), day.source.c_str());
    struct Variant {
        int batch_seconds;
        bool compress;
    };
    // The first is the budgeted configuration (and is verified by decoding); the others are printed for docs/protocol.md.
    for (const auto [batch_seconds, compress] : {Variant{60, true}, Variant{60, false}, Variant{300, true}, Variant{3600, true}}) {
        {
            const auto cost = encode_day(day.samples, batch_seconds, compress, batch_seconds == 60 && compress);
            std::printf("  batches of %4d s, %-10s: %5zu messages, %8zu bytes (%.1f bytes/sample)\n", batch_seconds,
                        compress ? "zlib" : "plain JSON", cost.messages, cost.bytes,
                        static_cast<double>(cost.bytes) / static_cast<double>(day.samples.size()));
            if (compress) {
                // The edge's default: compressed batches of 60 s live (docs/protocol.md); longer batches do better.
                CHECK(cost.bytes <= 1000000);
            }
        }
    }
}
