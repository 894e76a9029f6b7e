// bench_flash_wear [--days 1] [--runs 5] [--dir DIR] [--mode agent|per-sample] [--budget-mb N] [--start-hour H]
//                  [--batch-s 60] [--prefill-days N] [--page-size 1024] [--autocheckpoint PAGES]
//   Bytes written to storage per site-day by the gateway's storage path: two inverters sampled every 10 s,
//   each sample going where the agent sends it (TelemetryWriter, the SyncEngine's batches into the SQLite
//   outbox — published to a broker stand-in that acknowledges at once —, PersistentDetection over the real
//   pipeline), detection's tick every 5 s, the sync's tick and the retention step as in the agent. Time is a
//   ManualClock advanced 10 s per step, so a day takes seconds. The figure is /proc/self/io write_bytes (what
//   the process made the kernel write to the block layer) over the run, divided by the days simulated; the
//   database must be on a disk-backed filesystem (tmpfs counts nothing). Prints each run and the median.
//   `--mode per-sample` is the agent before batching: one commit per sample and the detector state saved
//   at every step. `--prefill-days 31` first stores that many days of raw samples before the start (not
//   counted) and lets retention catch up, so the measured day includes the window's pruning and the daily
//   aggregates of a gateway in steady state. `--page-size`: the page size of the new database; `--autocheckpoint`: wal_autocheckpoint on the three
//   connections (the store's default otherwise). `--budget-mb` with `--days 365` is the year at speed: prints the database size at the end
//   of each simulated month.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/detect/site.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/store/telemetry_writer.hpp"
#include "pvfleet/sync/engine.hpp"
#include "pvfleet/util/log.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

struct Options {
    double days = 1;
    int runs = 5;
    std::filesystem::path dir = std::filesystem::temp_directory_path();
    std::string mode = "agent";
    std::uint64_t budget_mb = 0;
    int batch_s = 60;    // sync.batch_interval_s
    int prefill_days = 0;
    int page_size = 1024;
    int autocheckpoint = store::kWalAutocheckpointPages;
    int start_hour = 0;  // UTC hour of 2024-06-01 the run starts at (a part of a day: --days 0.25 --start-hour 9)
};

// The broker stand-in: every publish acknowledged at the next drain.
class AckingPublisher final : public sync::Publisher {
public:
    void publish(sync::PublishRequest, Completion done) override { pending.push_back(std::move(done)); }
    [[nodiscard]] bool connected() const override { return true; }
    void drain() {
        while (!pending.empty()) {
            auto d = std::move(pending.front());
            pending.pop_front();
            d({});
        }
    }
    std::deque<Completion> pending;
};

std::uint64_t write_bytes() {
    std::ifstream in("/proc/self/io");
    std::string key;
    std::uint64_t v = 0;
    while (in >> key >> v)
        if (key == "write_bytes:") return v;
    return 0;
}

const char* kSite = R"({"latitude": 47.99, "longitude": 7.85, "elevation_m": 250,
  "inverters": [{"id": "inv1", "ac_kw": 5}, {"id": "inv2", "ac_kw": 5}],
  "arrays": [{"inverter": "inv1", "dc_kw": 5.5, "tilt": 30, "azimuth": 180},
             {"inverter": "inv2", "dc_kw": 5.5, "tilt": 30, "azimuth": 180}]})";

// A GoodWe-like fast poll: power, state, AC and DC per input; energy and temperatures too (the slow poll's
// points, merged here so every sample is the ~500 B of the demo).
domain::Sample sample(const std::string& id, TimePoint t, double& energy_wh) {
    const double day_frac = static_cast<double>(to_epoch_ms(t) % 86'400'000) / 86'400'000.0;
    const double x = std::clamp((day_frac - 0.22) / 0.5, 0.0, 1.0);
    const double p = std::round(4600 * std::pow(std::sin(M_PI * x), 1.5));
    energy_wh += p * 10 / 3600.0;
    domain::Sample s;
    s.device_id = id;
    s.t = t;
    s.values["ac_power_w"] = p;
    s.values["energy_total_wh"] = std::round(energy_wh);
    s.values["energy_today_wh"] = std::round(std::fmod(energy_wh, 20000.0));
    s.values["ac_frequency_hz"] = 50.0 + 0.01 * static_cast<double>((to_epoch_ms(t) / 10000) % 5);
    s.values["temperature_c"] = 25 + p / 300;
    s.values["pv_power_w"] = std::round(p * 1.03);
    s.arrays["dc_voltage_v"] = {p > 0 ? 410.2 : 0.0, p > 0 ? 398.7 : 0.0};
    s.arrays["dc_current_a"] = {p / 2 / 410.2, p / 2 / 398.7};
    s.arrays["ac_voltage_v"] = {230.1, 231.4, 229.8};
    s.arrays["ac_current_a"] = {p / 3 / 230.1, p / 3 / 231.4, p / 3 / 229.8};
    s.state = p > 0 ? domain::InverterState::producing : domain::InverterState::sleeping;
    return s;
}

struct RunResult {
    double mb_per_day = 0;
    std::uint64_t db_bytes = 0;
    std::uint64_t max_db_bytes = 0;
    double seconds = 0;
};

Result<RunResult> run(const Options& o, int index) {
    const auto dir = o.dir / ("flash-wear-" + std::to_string(::getpid()) + "-" + std::to_string(index));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto path = (dir / "edge.db").string();
    const bool batched = o.mode == "agent";
    ManualClock clock(from_epoch_ms(1'717'200'000'000LL + o.start_hour * 3'600'000LL));  // 2024-06-01 UTC
    auto db = store::GatewayStore::open(path, {.page_size = o.page_size, .wal_autocheckpoint_pages = o.autocheckpoint});
    if (!db) return db.error();
    auto outbox = store::SqliteOutbox::open(path, {.wal_autocheckpoint_pages = o.autocheckpoint});
    if (!outbox) return outbox.error();
    auto site = detect::parse_site_detection(nlohmann::json::parse(kSite));
    if (!site) return site.error();
    auto sun = detect::SolarSunModel::create(site->model);
    if (!sun) return sun.error();
    detect::DetectionPipeline pipeline(site->config, **sun, clock);
    store::PersistentDetection detection(**db, pipeline);
    if (batched) detection.save_state_every(300'000ms, clock);
    if (auto s = detection.resume(); !s) return s.error();
    store::TelemetryWriter writer(**db, {});
    store::RetentionOptions ro;
    ro.longitude_deg = 7.85;
    ro.budget_bytes = o.budget_mb << 20;
    ro.wal_autocheckpoint_pages = o.autocheckpoint;
    auto retention = store::Retention::open(path, ro, outbox->get());
    if (!retention) return retention.error();
    AckingPublisher publisher;
    sync::SyncConfig sc;
    sc.site_id = "bench-site";
    sc.config_version = "bench";
    sc.devices = {"inv1", "inv2"};
    sc.batch_interval = std::chrono::seconds(o.batch_s);
    auto engine = sync::SyncEngine::create(sc, **outbox, publisher, clock);
    if (!engine) return engine.error();
    (*engine)->on_connected();

    double e1 = 1.2e7, e2 = 1.1e7;
    if (o.prefill_days > 0) {
        // The days before the start as the agent stored them (not counted), and retention caught up with them.
        const TimePoint start = clock.now();
        double p1 = e1 - 25'000.0 * o.prefill_days, p2 = e2 - 25'000.0 * o.prefill_days;
        std::vector<domain::Sample> batch;
        for (TimePoint t = start - std::chrono::hours(24 * o.prefill_days); t < start; t += 10s) {
            batch.push_back(sample("inv1", t, p1));
            batch.push_back(sample("inv2", t, p2));
            if (batch.size() >= 720 || t + 10s >= start) {
                if (auto st = (**db).insert_samples(batch, false); !st) return st.error();
                batch.clear();
            }
        }
        if (auto st = (*retention)->run_until_idle(start, start); !st) return st.error();
        if (auto st = (**db).exec("PRAGMA wal_checkpoint(TRUNCATE)"); !st) return st.error();
    }
    int idle_ticks = 0;
    RunResult r;
    const auto wall = std::chrono::steady_clock::now();
    const auto before = write_bytes();
    const auto steps = static_cast<long long>(o.days * 8640);
    for (long long i = 0; i < steps; ++i) {
        for (auto* dev : {"inv1", "inv2"}) {
            auto s = sample(dev, clock.now(), std::string(dev) == "inv1" ? e1 : e2);
            if (batched) {
                writer.add(s);
            } else if (auto st = (**db).insert_sample(s); !st) {
                return st.error();
            }
            (void)(*engine)->add_sample(s);
            if (auto ev = detection.process({store::DetectionInput{std::move(s)}}); !ev) return ev.error();
        }
        for (int tick = 0; tick < 2; ++tick) {  // the agent's 5-s tick
            if (tick == 1) clock.advance(5s);
            if (auto ev = detection.process({}); !ev) return ev.error();
            (*engine)->tick();
            publisher.drain();
            // As the agent: the cycle's samples committed right behind it; one retention step per tick, one a
            // minute while it finds nothing to do.
            if (batched && tick == 0) (void)writer.flush(clock.now());
            if (batched && --idle_ticks <= 0) {
                auto more = (*retention)->step(clock.now(), [&] { return (*outbox)->synced_through(); });
                idle_ticks = more && !*more ? 12 : 0;
            }
        }
        clock.advance(5s);
        if (o.budget_mb > 0 && i % (8640 * 30) == 8640 * 30 - 1) {
            auto st = (*retention)->status();
            if (st) {
                r.max_db_bytes = std::max(r.max_db_bytes, st->db_file_bytes + st->wal_bytes);
                std::printf("  day %4lld: db file %.1f MB + WAL %.1f MB, in use %.1f MB, budget %llu MB\n",
                            (i + 1) / 8640, st->db_file_bytes / 1048576.0, st->wal_bytes / 1048576.0,
                            st->used_bytes / 1048576.0, static_cast<unsigned long long>(o.budget_mb));
            }
        }
    }
    (void)writer.flush(clock.now());
    (void)detection.flush_state();
    (void)(*engine)->flush();
    publisher.drain();
    (void)(*engine)->remove_acked();
    const auto after = write_bytes();
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall).count();
    r.mb_per_day = static_cast<double>(after - before) / 1048576.0 / o.days;
    std::error_code ec;
    r.db_bytes = std::filesystem::file_size(path, ec);
    engine->reset();
    std::filesystem::remove_all(dir);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--days") o.days = std::stod(argv[i + 1]);
        else if (a == "--runs") o.runs = std::stoi(argv[i + 1]);
        else if (a == "--dir") o.dir = argv[i + 1];
        else if (a == "--mode") o.mode = argv[i + 1];
        else if (a == "--budget-mb") o.budget_mb = std::stoull(argv[i + 1]);
        else if (a == "--start-hour") o.start_hour = std::stoi(argv[i + 1]);
        else if (a == "--prefill-days") o.prefill_days = std::stoi(argv[i + 1]);
        else if (a == "--page-size") o.page_size = std::stoi(argv[i + 1]);
        else if (a == "--batch-s") o.batch_s = std::stoi(argv[i + 1]);
        else if (a == "--autocheckpoint") o.autocheckpoint = std::stoi(argv[i + 1]);
        else {
            std::cerr << "unknown option " << a << "\n";
            return 2;
        }
    }
    log::set_level(log::Level::error);
    std::vector<double> figures;
    for (int i = 0; i < o.runs; ++i) {
        auto r = run(o, i);
        if (!r) {
            std::cerr << "run " << i << ": " << r.error().message << "\n";
            return 1;
        }
        std::printf("run %d (%s): %.2f MB written per site-day, database %.1f MB, %.1f s for %.2f day(s)%s\n", i,
                    o.mode.c_str(), r->mb_per_day, r->db_bytes / 1048576.0, r->seconds, o.days,
                    r->max_db_bytes ? (", largest db+WAL " + std::to_string(r->max_db_bytes >> 20) + " MB").c_str() : "");
        figures.push_back(r->mb_per_day);
    }
    std::sort(figures.begin(), figures.end());
    std::printf("median over %d run(s): %.2f MB per site-day (%s)\n", o.runs, figures[figures.size() / 2], o.mode.c_str());
    return 0;
}
