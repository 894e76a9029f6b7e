// bench_sync_drain --broker tcp://127.0.0.1:PORT [--days 7] [--inflight 32] [--rounds 3]
//   Builds a backlog of `days` of telemetry for a site of two inverters at 10 s (60-s batches, compressed, as
//   the agent writes them) in a SQLite outbox, then drains it (a) through our sync — the SyncEngine publishing
//   from the outbox via pvfleet::mqtt with QoS 1, removing rows after their PUBACK — and (b) through a bare Paho
//   loop publishing the same payloads with QoS 1 and the same in-flight window. Prints messages/s and
//   samples/s of each and the ratio (target: ours >= 70 % of bare). Backlog pacing is lifted for (a): the
//   pacing is a policy (docs/protocol.md), the benchmark measures what the machinery can do.
#include <chrono>
#include <cstdio>
#include <algorithm>
#include <cmath>
#include <deque>
#include <filesystem>
#include <iostream>
#include <string>

#include <mqtt/async_client.h>

#include "pvfleet/asio/asio.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/sync/service.hpp"
#include "pvfleet/util/log.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
    std::string broker = "tcp://127.0.0.1:1883";
    int days = 7;
    int inflight = 32;
    int rounds = 3;
};

domain::Sample sample(const std::string& device, TimePoint t, double p) {
    domain::Sample s;
    s.device_id = device;
    s.t = t;
    s.values["ac_power_w"] = std::round(p);
    s.values["energy_total_wh"] = std::round(1.2e7 + to_epoch_ms(t) / 3.6e5);
    s.values["ac_frequency_hz"] = 50.0 + 0.01 * static_cast<double>((to_epoch_ms(t) / 10000) % 7);
    s.values["temperature_c"] = 35.5;
    s.arrays["dc_voltage_v"] = {412.3, 398.7};
    s.arrays["dc_current_a"] = {p / 2 / 412.3, p / 2 / 398.7};
    s.arrays["ac_voltage_v"] = {230.1, 231.4, 229.8};
    s.state = domain::InverterState::producing;
    return s;
}

sync::SyncServiceOptions service_options(const Options& o, const std::string& site) {
    sync::SyncServiceOptions so;
    so.mqtt.server_uri = o.broker;
    so.mqtt.client_id = "bench-" + site;
    so.sync.site_id = site;
    so.sync.config_version = "bench";
    so.sync.devices = {"inv1", "inv2"};
    so.sync.batch_interval = std::chrono::hours(24);  // batches close by size: 12 samples = 60 s of two inverters
    so.sync.batch_max_samples = 12;
    so.sync.max_inflight = static_cast<std::size_t>(o.inflight);
    so.sync.backlog_per_second = 1e9;
    so.sync.backlog_burst = 1e9;
    so.sync.heartbeat_interval = std::chrono::hours(24);
    so.tick_interval = 10ms;
    return so;
}

// Fills a fresh outbox with `days` of backlog (written while the link is down, as after an outage).
std::uint64_t fill(const Options& o, const std::filesystem::path& db, const std::string& site, boost::asio::io_context& io,
                   store::SqliteOutbox& outbox) {
    SystemClock clock;
    auto svc = sync::SyncService::create(io.get_executor(), service_options(o, site), outbox, clock);
    if (!svc) throw std::runtime_error(svc.error().message);
    const TimePoint start = from_epoch_ms(1468800000000);
    std::uint64_t samples = 0;
    for (long long k = 0; k < o.days * 8640LL; ++k) {
        const TimePoint t = start + Millis{k * 10000};
        const double hour = static_cast<double>((k * 10) % 86400) / 3600.0;
        const double p = hour > 6 && hour < 20 ? 5000 * std::sin((hour - 6) / 14 * 3.14159) : 0;
        for (const char* dev : {"inv1", "inv2"}) {
            if (auto s = (*svc)->engine().add_sample(sample(dev, t, p)); !s) throw std::runtime_error(s.error().message);
            ++samples;
        }
    }
    if (auto s = (*svc)->engine().flush(); !s) throw std::runtime_error(s.error().message);
    (void)db;
    return samples;
}

struct Rate {
    double seconds = 0;
    std::uint64_t messages = 0;
};

Rate drain_ours(const Options& o, const std::string& site, boost::asio::io_context& io, store::SqliteOutbox& outbox) {
    SystemClock clock;
    auto svc = sync::SyncService::create(io.get_executor(), service_options(o, site), outbox, clock);
    if (!svc) throw std::runtime_error(svc.error().message);
    const auto depth = outbox.depth();
    const auto t0 = Steady::now();
    (*svc)->start();
    // Checked after every handler: with run_for(50ms) the drain was timed in 50-ms steps, which added up to
    // 50 ms (about 15 % of a 7-day drain) to our side while the bare loop stops its clock at the last PUBACK.
    while (outbox.depth() > 0) io.run_one_for(50ms);
    Rate r{std::chrono::duration<double>(Steady::now() - t0).count(), depth};
    (*svc)->stop();
    io.run_for(200ms);
    return r;
}

Rate drain_bare(const Options& o, const std::string& site, const std::vector<std::string>& payloads) {
    ::mqtt::async_client client(o.broker, "bench-bare-" + site);
    auto conn = ::mqtt::connect_options_builder().clean_session(true).max_inflight(o.inflight).finalize();
    client.connect(conn)->wait();
    const std::string topic = "pvfleet/v1/sites/" + site + "/telemetry";
    std::deque<::mqtt::delivery_token_ptr> window;
    const auto t0 = Steady::now();
    for (const auto& p : payloads) {
        if (static_cast<int>(window.size()) >= o.inflight) {
            window.front()->wait();
            window.pop_front();
        }
        window.push_back(client.publish(topic, p.data(), p.size(), 1, false));
    }
    while (!window.empty()) {
        window.front()->wait();
        window.pop_front();
    }
    Rate r{std::chrono::duration<double>(Steady::now() - t0).count(), payloads.size()};
    client.disconnect()->wait();
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i], v = argv[i + 1];
        if (a == "--broker") o.broker = v;
        else if (a == "--days") o.days = std::stoi(v);
        else if (a == "--inflight") o.inflight = std::stoi(v);
        else if (a == "--rounds") o.rounds = std::stoi(v);
        else {
            std::cerr << "usage: bench_sync_drain --broker tcp://HOST:PORT [--days 7] [--inflight 32] [--rounds 3]\n";
            return 2;
        }
    }
    log::set_level(log::Level::warn);
    const auto dir = std::filesystem::temp_directory_path() / ("pvfleet-drain-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    std::vector<double> ratios;
    for (int round = 0; round < o.rounds; ++round) {
        const std::string site = "bench-" + std::to_string(round);
        const auto db = dir / (site + ".db");
        std::filesystem::remove(db);
        auto outbox = store::SqliteOutbox::open(db.string());
        if (!outbox) throw std::runtime_error(outbox.error().message);
        boost::asio::io_context io;
        const auto samples = fill(o, db, site, io, **outbox);
        std::vector<std::string> payloads;
        for (protocol::Seq after = 0;;) {
            auto rows = (*outbox)->after(after, 1000);
            if (!rows || rows->empty()) break;
            for (const auto& r : *rows) payloads.push_back(r.payload);
            after = rows->back().seq;
        }
        std::uint64_t bytes = 0;
        for (const auto& p : payloads) bytes += p.size();
        // Alternate which side goes first so broker warm-up and load from other processes hit both alike.
        Rate bare, ours;
        if (round % 2 == 0) {
            bare = drain_bare(o, site + "-bare", payloads);
            ours = drain_ours(o, site, io, **outbox);
        } else {
            ours = drain_ours(o, site, io, **outbox);
            bare = drain_bare(o, site + "-bare", payloads);
        }
        const double ours_rate = static_cast<double>(ours.messages) / ours.seconds;
        const double bare_rate = static_cast<double>(bare.messages) / bare.seconds;
        const double per_msg = static_cast<double>(samples) / static_cast<double>(payloads.size());
        std::printf("round %d: %zu messages (%llu samples, %.1f MB payload, %d days): bare %.0f msg/s (%.0f samples/s), "
                    "ours %.0f msg/s (%.0f samples/s): %.1f%% of bare\n",
                    round + 1, payloads.size(), static_cast<unsigned long long>(samples), static_cast<double>(bytes) / 1e6,
                    o.days, bare_rate, bare_rate * per_msg, ours_rate, ours_rate * per_msg, 100 * ours_rate / bare_rate);
        ratios.push_back(ours_rate / bare_rate);
    }
    std::sort(ratios.begin(), ratios.end());
    std::printf("median: %.1f%% of bare\n", 100 * ratios[ratios.size() / 2]);
    std::filesystem::remove_all(dir);
    return 0;
}
