// bench_codec — CPU cost of decoding one telemetry batch as the server's ingest does (decode_for_topic).
//
//   bench_codec [--decodes 20000] [--reps 7]
//
// The batch is the one bench_ingest's fleet sends: one inverter, six 10-s samples with four scalar values and
// per-MPPT / per-phase arrays (2 + 2 + 3 elements) and the inverter state, compressed as the gateway sends it.
// Times `decodes` decodes per repetition and prints the median (and min / max) µs per decode over `reps`
// repetitions, for the whole decode and for its inflate step (unframe) alone.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "../ingest/fleet_sample.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"

using namespace pvfleet;
using Steady = std::chrono::steady_clock;

namespace {

std::string encode_batch(const std::string& site_id, int site) {
    protocol::TelemetryBatch b;
    b.site_id = site_id;
    b.seq = 2881;
    const TimePoint minute_start = from_epoch_ms(1782036000000);  // 2026-06-21T10:00:00Z, mid-morning: producing
    b.sent_at = minute_start + std::chrono::seconds(60);
    b.resolution_s = 10;
    for (int k = 0; k < 6; ++k) b.samples.push_back(bench::fleet_sample(site, minute_start + std::chrono::seconds(10 * k)));
    auto e = protocol::encode(b, {.compress = true});
    if (!e) throw std::runtime_error(e.error().message);
    return std::move(*e);
}

struct Stats {
    double median = 0, min = 0, max = 0;
};

// µs per call of `fn`, `n` calls per repetition.
template <class Fn>
Stats measure(int reps, int n, Fn fn) {
    for (int i = 0; i < n / 10 + 1; ++i) fn();  // warm-up: thread-local zlib state, allocator, caches
    std::vector<double> us;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = Steady::now();
        for (int i = 0; i < n; ++i) fn();
        us.push_back(std::chrono::duration<double, std::micro>(Steady::now() - t0).count() / n);
    }
    std::sort(us.begin(), us.end());
    return {us[us.size() / 2], us.front(), us.back()};
}

}  // namespace

int main(int argc, char** argv) {
    int decodes = 20000;
    int reps = 7;
    for (int i = 1; i < argc; ++i) {
        const bool has_value = i + 1 < argc;
        if (!std::strcmp(argv[i], "--decodes") && has_value) decodes = std::atoi(argv[++i]);
        else if (!std::strcmp(argv[i], "--reps") && has_value) reps = std::atoi(argv[++i]);
        else {
            std::fprintf(stderr, "usage: bench_codec [--decodes N] [--reps N]\n");
            return 2;
        }
    }
    if (decodes < 1 || reps < 1) {
        std::fprintf(stderr, "bench_codec: --decodes and --reps must be positive\n");
        return 2;
    }
    const std::string site = "bench-00001";
    const std::string topic = protocol::topic_for(site, protocol::MessageKind::telemetry);
    const std::string payload = encode_batch(site, 1);
    const auto text = protocol::unframe(payload);
    auto check = protocol::decode_for_topic(topic, payload);
    if (!text || !check) {
        std::fprintf(stderr, "bench_codec: the batch does not decode: %s\n",
                     (!text ? text.error() : check.error()).message.c_str());
        return 1;
    }
    std::size_t sink = 0;  // keeps the calls from being optimised away
    const Stats decode = measure(reps, decodes, [&] {
        auto m = protocol::decode_for_topic(topic, payload);
        sink += m ? std::get<protocol::TelemetryBatch>(*m).samples.size() : 0;
    });
    const Stats inflate = measure(reps, decodes, [&] {
        auto t = protocol::unframe(payload);
        sink += t ? t->size() : 0;
    });
    std::printf("payload: %zu bytes compressed, %zu bytes JSON; %d decodes x %d repetitions\n", payload.size(),
                text->size(), decodes, reps);
    std::printf("decode_for_topic: median %.2f us/decode (min %.2f, max %.2f)\n", decode.median, decode.min, decode.max);
    std::printf("unframe:          median %.2f us/call   (min %.2f, max %.2f)\n", inflate.median, inflate.min, inflate.max);
    return sink == 0 ? 1 : 0;
}
