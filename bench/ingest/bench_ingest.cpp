// bench_ingest — the server's MQTT ingest under fleet load (issue #6; figures in docs/performance.md).
//
//   bench_ingest [--consumer ingest|bare] [--db sqlite|postgres] [--sites 10000] [--seconds 60] [--rate 5000]
//                [--replay-sites 400] [--publishers 2] [--work-dir DIR]
//
// Starts its own mosquitto on a free loopback port (and, with --db postgres, a throwaway PostgreSQL 15
// cluster), then plays a fleet: every site sends one live batch per minute (one inverter, six 10-s samples,
// compressed as the gateway sends them), and `replay-sites` gateways that were offline drain their backlog
// (historical batches, oldest first) so that the total offered load is `rate` messages/s for `seconds`.
// --rate 0 publishes everything as fast as the broker takes it (capacity).
//
// The fleet runs in a process of its own (forked before the server side starts), as a real fleet is not inside
// the server: its MQTT client library shares no threads or locks with the server's. Both processes share the
// machine's two cores, and publish times travel back through shared memory (the monotonic clock is system-wide).
//
// The consumer is either our ingest — pvfleet::ingest::Ingestor and pvfleet::storage::Store exactly as
// `pvfleet-server run` wires them (persistent session, group commits) — or a bare Paho subscriber that only
// counts messages (the yardstick). Payloads are encoded before the clock starts; the publish time of every
// message is kept, and the ingest's commit hook turns it into a publish-to-commit latency.
//
// Prints one JSON object: offered and achieved messages/s and points/s, latency percentiles, CPU time.
#include <pthread.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cmath>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <MQTTClient.h>
#include <mqtt/async_client.h>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "fleet_sample.hpp"
#include "pvfleet/ingest/ingestor.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/log.hpp"
#include "support/paths.hpp"
#include "support/postgres.hpp"
#include "support/process.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
    std::string consumer = "ingest";
    std::string db = "sqlite";
    int sites = 10'000;
    double seconds = 60;
    double rate = 5'000;
    double warmup = 10;  // seconds at the start whose latencies are reported apart (cold caches, first sight of sites)
    int replay_sites = 400;
    int publishers = 2;
    int inflight = 200;
    std::size_t max_batch = 0;  // 0: the ingest's default
    std::string work_dir;
};

// One message of the plan.
struct Planned {
    int site = 0;
    std::uint32_t seq = 0;
    bool historical = false;
    std::uint32_t minute = 0;  // fleet minute the batch covers (replayed batches: minutes before the run)
    double at_s = 0;           // publish time relative to the start
    std::string topic;
    std::string payload;
};

constexpr int kSamplesPerBatch = 6;   // one minute at 10 s
constexpr int kPointsPerSample = 11;  // 4 values + 2 + 2 + 3 array elements (what the sample below carries)

std::string site_name(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "bench-%05d", i);
    return buf;
}

// The fleet clock: minute 0 of the run is this instant; replayed backlog lies before it.
const TimePoint kFleetStart = from_epoch_ms(1782036000000);  // 2026-06-21T10:00:00Z

std::string encode_batch(int site, const Planned& p) {
    protocol::TelemetryBatch b;
    b.site_id = site_name(site);
    b.seq = p.seq;
    b.historical = p.historical;
    const TimePoint minute_start = kFleetStart + std::chrono::minutes(static_cast<int>(p.minute)) -
                                   std::chrono::hours(48);  // backlog minutes are counted from two days back
    b.sent_at = minute_start + std::chrono::seconds(60);
    b.resolution_s = 10;
    for (int k = 0; k < kSamplesPerBatch; ++k)
        b.samples.push_back(bench::fleet_sample(site, minute_start + std::chrono::seconds(10 * k)));
    auto e = protocol::encode(b, {.compress = true});
    if (!e) throw std::runtime_error(e.error().message);
    return std::move(*e);
}

// Live batches: every site not replaying, once a minute, spread evenly over the minute. Replay: the rest of the
// offered load, round-robin over the replaying sites, each site's backlog oldest first.
std::vector<Planned> make_plan(const Options& o) {
    std::vector<Planned> plan;
    const int live_sites = o.sites - o.replay_sites;
    const std::uint32_t backlog_base = 2 * 1440;  // live minutes follow two days of (possible) backlog
    for (int m = 0; m * 60.0 < o.seconds; ++m)
        for (int i = 0; i < live_sites; ++i) {
            const double at = m * 60.0 + 60.0 * i / live_sites;
            if (at >= o.seconds) continue;
            Planned p;
            p.site = o.replay_sites + i;
            p.seq = static_cast<std::uint32_t>(m + 1);
            p.minute = backlog_base + static_cast<std::uint32_t>(m);
            p.at_s = o.rate > 0 ? at : 0;
            plan.push_back(std::move(p));
        }
    const std::size_t live = plan.size();
    std::size_t replay = 0;
    if (o.replay_sites > 0) {
        replay = o.rate > 0 ? static_cast<std::size_t>(std::max(0.0, o.rate * o.seconds - static_cast<double>(live)))
                            : static_cast<std::size_t>(o.replay_sites) * 1440;
        replay = std::min<std::size_t>(replay, static_cast<std::size_t>(o.replay_sites) * backlog_base);
    }
    for (std::size_t k = 0; k < replay; ++k) {
        Planned p;
        p.site = static_cast<int>(k % static_cast<std::size_t>(o.replay_sites));
        const auto n = static_cast<std::uint32_t>(k / static_cast<std::size_t>(o.replay_sites));
        p.seq = n + 1;
        p.minute = n;
        p.historical = true;
        p.at_s = o.rate > 0 ? o.seconds * static_cast<double>(k) / static_cast<double>(replay) : 0;
        plan.push_back(std::move(p));
    }
    std::stable_sort(plan.begin(), plan.end(), [](const Planned& a, const Planned& b) { return a.at_s < b.at_s; });
    // Encode on every core before the clock starts: gateways do this work, not the server.
    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    std::vector<std::thread> pool;
    for (unsigned t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
            for (std::size_t k = t; k < plan.size(); k += threads) {
                plan[k].topic = protocol::topic_for(site_name(plan[k].site), protocol::MessageKind::telemetry);
                plan[k].payload = encode_batch(plan[k].site, plan[k]);
            }
        });
    for (auto& th : pool) th.join();
    std::fprintf(stderr, "plan: %zu live + %zu replayed batches\n", live, replay);
    return plan;
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto idx = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return v[std::min(idx, v.size() - 1)];
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// Publishes the plan on schedule from `o.publishers` connections (a site always on the same one, so its
// batches stay in order) at QoS 1, as gateways do; records each message's publish time. The fleet uses Paho's
// synchronous C client: the publishing thread writes to the socket itself and one background thread per
// connection reads the PUBACKs, so the simulation costs little of the shared machine (the asynchronous client
// also hands every message to a send thread).
class Publisher {
public:
    Publisher(const Options& o, const std::string& broker, const std::vector<Planned>& plan,
              std::atomic<std::int64_t>* published_ns)
        : o_(o), broker_(broker), plan_(plan), published_ns_(published_ns) {}

    void run(Steady::time_point start) {
        std::vector<std::thread> threads;
        for (int p = 0; p < o_.publishers; ++p)
            threads.emplace_back([this, p, start] {
                try {
                    run_one(p, start);
                } catch (const std::exception& e) {
                    std::fprintf(stderr, "fleet publisher %d: %s\n", p, e.what());
                    failed_ = true;
                }
            });
        for (auto& t : threads) t.join();
        if (failed_) throw std::runtime_error("a publisher failed");
    }
    double max_lag_s() const { return static_cast<double>(max_lag_ns_.load()) / 1e9; }

private:
    // Unacknowledged messages of one connection; Paho's reader thread counts the PUBACKs.
    struct Window {
        std::mutex mutex;
        std::condition_variable acked_cv;
        std::uint64_t sent = 0;
        std::uint64_t acked = 0;
        bool waiting = false;
        bool lost = false;
    };

    static void check(int rc, const char* what) {
        if (rc != MQTTCLIENT_SUCCESS) throw std::runtime_error(std::string(what) + " failed: rc " + std::to_string(rc));
    }
    static void on_delivered(void* context, MQTTClient_deliveryToken) {
        auto* w = static_cast<Window*>(context);
        std::lock_guard lock(w->mutex);
        ++w->acked;
        if (w->waiting) w->acked_cv.notify_one();
    }
    static int on_message(void*, char* topic, int, MQTTClient_message* m) {  // never subscribed
        MQTTClient_freeMessage(&m);
        MQTTClient_free(topic);
        return 1;
    }
    static void on_lost(void* context, char*) {
        auto* w = static_cast<Window*>(context);
        std::lock_guard lock(w->mutex);
        w->lost = true;
        w->acked_cv.notify_one();
    }
    // Blocks until fewer than `limit` messages are unacknowledged.
    static void wait_below(Window& w, std::uint64_t limit) {
        std::unique_lock lock(w.mutex);
        w.waiting = true;
        if (!w.acked_cv.wait_for(lock, 30s, [&] { return w.sent - w.acked < limit || w.lost; }))
            throw std::runtime_error("no PUBACK for 30 s");
        w.waiting = false;
        if (w.lost) throw std::runtime_error("connection lost");
    }

    void run_one(int index, Steady::time_point start) {
        MQTTClient client = nullptr;
        const std::string id = "bench-pub-" + std::to_string(index);
        check(MQTTClient_create(&client, broker_.c_str(), id.c_str(), MQTTCLIENT_PERSISTENCE_NONE, nullptr),
              "MQTTClient_create");
        struct Destroy {
            MQTTClient& c;
            ~Destroy() { MQTTClient_destroy(&c); }
        } destroy{client};
        Window window;
        check(MQTTClient_setCallbacks(client, &window, on_lost, on_message, on_delivered), "MQTTClient_setCallbacks");
        MQTTClient_connectOptions conn = MQTTClient_connectOptions_initializer;
        conn.cleansession = 1;
        conn.keepAliveInterval = 60;
        conn.maxInflightMessages = o_.inflight;
        check(MQTTClient_connect(client, &conn), "MQTTClient_connect");
        const auto limit = static_cast<std::uint64_t>(o_.inflight);
        std::int64_t max_lag = 0;
        for (std::size_t k = 0; k < plan_.size(); ++k) {
            const auto& m = plan_[k];
            if (m.site % o_.publishers != index) continue;
            const auto due = start + std::chrono::nanoseconds(static_cast<std::int64_t>(m.at_s * 1e9));
            auto now = Steady::now();
            if (now < due) {
                std::this_thread::sleep_until(due);
                now = Steady::now();
            } else {
                max_lag = std::max<std::int64_t>(max_lag, (now - due).count());
            }
            wait_below(window, limit);
            published_ns_[k].store((now - start).count(), std::memory_order_relaxed);
            {
                std::lock_guard lock(window.mutex);
                ++window.sent;
            }
            MQTTClient_deliveryToken token = 0;
            for (;;) {
                const int rc = MQTTClient_publish(client, m.topic.c_str(), static_cast<int>(m.payload.size()),
                                                  m.payload.data(), 1, 0, &token);
                if (rc != MQTTCLIENT_MAX_MESSAGES_INFLIGHT) {
                    check(rc, "MQTTClient_publish");
                    break;
                }
                wait_below(window, limit - 1);  // Paho counts a little differently: let one more ack in
            }
        }
        wait_below(window, 1);
        MQTTClient_disconnect(client, 10'000);
        std::int64_t prev = max_lag_ns_.load();
        while (prev < max_lag && !max_lag_ns_.compare_exchange_weak(prev, max_lag)) {
        }
    }

    const Options& o_;
    std::string broker_;
    const std::vector<Planned>& plan_;
    std::atomic<std::int64_t>* published_ns_;
    std::atomic<std::int64_t> max_lag_ns_{0};
    std::atomic<bool> failed_{false};
};

// What the fleet process and the server side share: the start signal's time, the fleet's outcome, and every
// message's publish time (ns after the start; -1 until published).
struct SharedFleetState {
    std::atomic<std::int64_t> start_ns{0};  // steady clock
    std::atomic<std::int64_t> end_ns{0};
    std::atomic<std::int64_t> max_lag_ns{0};
    std::atomic<std::int64_t> cpu_us{0};
    std::atomic<int> failed{0};
};

struct FleetProcess {
    SharedFleetState* state = nullptr;
    std::atomic<std::int64_t>* published_ns = nullptr;
    pid_t pid = -1;
    int go_fd = -1;
};

// Forks the fleet: it waits for the start signal, publishes the plan, records its outcome and exits. Must run
// before the server side creates threads or MQTT clients.
FleetProcess fork_fleet(const Options& o, const std::string& uri, const std::vector<Planned>& plan) {
    const std::size_t bytes = sizeof(SharedFleetState) + plan.size() * sizeof(std::atomic<std::int64_t>);
    void* mem = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::runtime_error("mmap failed");
    FleetProcess f;
    f.state = new (mem) SharedFleetState;
    f.published_ns = reinterpret_cast<std::atomic<std::int64_t>*>(static_cast<char*>(mem) + sizeof(SharedFleetState));
    for (std::size_t k = 0; k < plan.size(); ++k) new (&f.published_ns[k]) std::atomic<std::int64_t>(-1);
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    std::fflush(nullptr);
    f.pid = fork();
    if (f.pid < 0) throw std::runtime_error("fork failed");
    if (f.pid == 0) {
        close(fds[1]);
        prctl(PR_SET_NAME, "fleet");
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        char go = 0;
        if (read(fds[0], &go, 1) != 1 || go != 'g') _exit(0);  // the server side gave up before the start
        int rc = 0;
        try {
            const Steady::time_point start{std::chrono::nanoseconds(f.state->start_ns.load())};
            Publisher pub(o, uri, plan, f.published_ns);
            pub.run(start);
            f.state->end_ns = Steady::now().time_since_epoch().count();
            f.state->max_lag_ns = static_cast<std::int64_t>(pub.max_lag_s() * 1e9);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "fleet: %s\n", e.what());
            f.state->failed = 1;
            rc = 1;
        }
        f.state->cpu_us = static_cast<std::int64_t>(cpu_seconds() * 1e6);
        _exit(rc);  // no destructors: the broker and the work directory belong to the parent
    }
    close(fds[0]);
    f.go_fd = fds[1];
    return f;
}

int parse_site(const std::string& id) {
    return std::atoi(id.c_str() + 6);  // "bench-00042"
}

int run(const Options& o) {
    log::set_level(log::Level::warn);
    if (test::find_program("mosquitto").empty()) {
        std::fprintf(stderr, "mosquitto is not installed (apt-get install mosquitto)\n");
        return 2;
    }
    std::unique_ptr<test::TempDir> temp;
    std::filesystem::path dir;
    if (o.work_dir.empty()) {
        temp = std::make_unique<test::TempDir>();
        dir = temp->path();
    } else {
        dir = o.work_dir;
        std::filesystem::create_directories(dir);
    }
    const int port = test::free_tcp_port();
    {
        std::ofstream conf(dir / "mosquitto.conf");
        conf << "listener " << port << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
             << "max_queued_messages 0\nmax_inflight_messages 100\nmessage_size_limit 1048576\n";
    }
    test::ChildProcess broker({test::find_program("mosquitto"), "-c", (dir / "mosquitto.conf").string()},
                              dir / "mosquitto.log");
    if (!test::wait_for_tcp_port(port, 10s)) {
        std::fprintf(stderr, "mosquitto did not start (see %s)\n", (dir / "mosquitto.log").c_str());
        return 2;
    }
    const std::string uri = "tcp://127.0.0.1:" + std::to_string(port);

    auto plan = make_plan(o);
    FleetProcess fleet = fork_fleet(o, uri, plan);
    struct FleetReaper {  // an early return must not leave the fleet waiting
        FleetProcess& f;
        ~FleetReaper() {
            if (f.go_fd >= 0) close(f.go_fd);
            if (f.pid > 0) waitpid(f.pid, nullptr, 0);
        }
    } reaper{fleet};
    std::atomic<std::int64_t>* published_ns = fleet.published_ns;
    // (site, seq) -> plan index, for the commit hook.
    std::vector<std::vector<std::uint32_t>> index_of(static_cast<std::size_t>(o.sites));
    for (std::size_t k = 0; k < plan.size(); ++k) {
        auto& v = index_of[static_cast<std::size_t>(plan[k].site)];
        if (v.size() < plan[k].seq) v.resize(plan[k].seq, UINT32_MAX);
        v[plan[k].seq - 1] = static_cast<std::uint32_t>(k);
    }

    std::unique_ptr<test::PostgresCluster> pg;
    std::unique_ptr<storage::Store> store;
    SystemClock clock;
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    std::unique_ptr<ingest::Ingestor> ingestor;
    std::unique_ptr<::mqtt::async_client> bare;
    std::atomic<std::uint64_t> consumed{0};
    std::atomic<std::int64_t> last_consumed_ns{0};
    std::vector<double> latencies_ms;
    latencies_ms.reserve(plan.size());
    std::vector<double> commit_at_s;  // when each latency was taken: the latency over time goes to stderr
    commit_at_s.reserve(plan.size());
    std::vector<double> published_at_s;
    published_at_s.reserve(plan.size());
    Steady::time_point start{};
    std::atomic<bool> started{false};

    if (o.consumer == "ingest") {
        storage::DbOptions dbo;
        if (o.db == "postgres") {
            pg = std::make_unique<test::PostgresCluster>(test::PostgresCluster::Durability::durable);
            if (!pg->ok()) {
                std::fprintf(stderr, "PostgreSQL did not start: %s\n", pg->why().c_str());
                return 2;
            }
            dbo.engine = storage::Engine::postgres;
            dbo.postgres_uri = pg->create_database("bench");
        } else {
            dbo.sqlite_path = (dir / "server.db").string();
            std::filesystem::remove(dbo.sqlite_path);
        }
        auto db = storage::open_db(dbo);
        if (!db) {
            std::fprintf(stderr, "%s\n", db.error().message.c_str());
            return 2;
        }
        store = std::make_unique<storage::Store>(std::move(*db), clock);
        if (auto m = store->migrate(); !m) {
            std::fprintf(stderr, "migrate: %s\n", m.error().message.c_str());
            return 2;
        }
        // The fleet is on record (sites with their time zone), as in production.
        auto seeded = storage::in_transaction(store->db(), [&]() -> Status {
            for (int i = 0; i < o.sites; ++i) {
                auto r = store->db().run(
                    "INSERT INTO sites (site_id, time_zone, created_at_ms, updated_at_ms) VALUES ($1, $2, 0, 0)",
                    {site_name(i), std::string(i % 3 == 0 ? "Europe/Madrid" : "Europe/Berlin")});
                if (!r) return r.error();
            }
            return {};
        });
        if (!seeded) {
            std::fprintf(stderr, "seeding sites: %s\n", seeded.error().message.c_str());
            return 2;
        }
        ingest::IngestOptions io_opts;
        io_opts.mqtt.server_uri = uri;
        io_opts.mqtt.client_id = "bench-ingest";
        io_opts.mqtt.clean_session = false;
        if (o.max_batch > 0) io_opts.max_batch = o.max_batch;
        io_opts.on_committed = [&](const std::vector<protocol::Message>& msgs) {
            const auto now = Steady::now();
            for (const auto& m : msgs) {
                const auto* b = std::get_if<protocol::TelemetryBatch>(&m);
                if (b == nullptr) continue;
                const auto site = static_cast<std::size_t>(parse_site(b->site_id));
                if (site >= index_of.size() || b->seq == 0 || b->seq > index_of[site].size()) continue;
                const auto k = index_of[site][b->seq - 1];
                if (k == UINT32_MAX) continue;
                const auto pub = published_ns[k].load(std::memory_order_relaxed);
                if (pub >= 0) {
                    latencies_ms.push_back(static_cast<double>((now - start).count() - pub) / 1e6);
                    commit_at_s.push_back(static_cast<double>((now - start).count()) / 1e9);
                    published_at_s.push_back(static_cast<double>(pub) / 1e9);
                }
            }
            consumed += msgs.size();
            last_consumed_ns = (now - start).count();
        };
        auto ing = ingest::Ingestor::create(io.get_executor(), io_opts, *store, clock);
        if (!ing) {
            std::fprintf(stderr, "%s\n", ing.error().message.c_str());
            return 2;
        }
        ingestor = std::move(*ing);
        ingestor->start();
    } else {
        bare = std::make_unique<::mqtt::async_client>(uri, "bench-bare");
        bare->set_message_callback([&](::mqtt::const_message_ptr) {
            ++consumed;
            if (started) last_consumed_ns = (Steady::now() - start).count();
        });
        auto conn = ::mqtt::connect_options_builder().clean_session(false).finalize();
        bare->connect(conn)->wait();
        bare->subscribe(protocol::subscription_for(protocol::MessageKind::telemetry), 1)->wait();
    }
    std::atomic<double> ingest_thread_cpu{0};
    std::thread ingest_thread([&] {
        pthread_setname_np(pthread_self(), "ingest");
        io.run();
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        ingest_thread_cpu = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    });
    if (ingestor) {
        const auto deadline = Steady::now() + 10s;
        while (!ingestor->connected() && Steady::now() < deadline) std::this_thread::sleep_for(10ms);
        std::this_thread::sleep_for(500ms);  // subscriptions in place
    }

    const double cpu0 = cpu_seconds();
    start = Steady::now();
    started = true;
    fleet.state->start_ns = start.time_since_epoch().count();
    const char go = 'g';
    if (write(fleet.go_fd, &go, 1) != 1) {
        std::fprintf(stderr, "could not start the fleet process\n");
        return 2;
    }
    close(fleet.go_fd);
    fleet.go_fd = -1;
    int fleet_status = 0;
    waitpid(fleet.pid, &fleet_status, 0);
    fleet.pid = -1;
    if (fleet.state->failed.load() != 0 || !WIFEXITED(fleet_status) || WEXITSTATUS(fleet_status) != 0) {
        std::fprintf(stderr, "the fleet process failed\n");
        return 2;
    }
    const double publish_s =
        static_cast<double>(fleet.state->end_ns.load() - fleet.state->start_ns.load()) / 1e9;
    const auto deadline = Steady::now() + std::chrono::seconds(static_cast<int>(120 + o.seconds));
    while (consumed.load() < plan.size() && Steady::now() < deadline) std::this_thread::sleep_for(20ms);
    const double cpu = cpu_seconds() - cpu0;

    ingest::IngestStats stats;
    if (ingestor) {
        std::atomic<bool> stopped{false};
        ingestor->stop([&] { stopped = true; });
        while (!stopped) std::this_thread::sleep_for(10ms);
        stats = ingestor->stats();
    }
    if (bare) bare->disconnect()->wait();
    guard.reset();
    io.stop();
    ingest_thread.join();

    const double span_s = static_cast<double>(last_consumed_ns.load()) / 1e9;
    const double done = static_cast<double>(consumed.load());
    if (!commit_at_s.empty()) {
        std::map<int, std::vector<double>> windows;
        for (std::size_t i = 0; i < commit_at_s.size(); ++i)
            windows[static_cast<int>(commit_at_s[i] / 5)].push_back(latencies_ms[i]);
        std::fprintf(stderr, "latency by 5-s window (committed, p50 ms, p99 ms):");
        for (const auto& [w, v] : windows)
            std::fprintf(stderr, " [%ds %zu %.0f %.0f]", w * 5, v.size(), percentile(v, 0.5), percentile(v, 0.99));
        std::fprintf(stderr, "\n");
    }
    nlohmann::json out;
    out["consumer"] = o.consumer;
    if (o.consumer == "ingest") out["db"] = o.db;
    out["sites"] = o.sites;
    out["replay_sites"] = o.replay_sites;
    out["messages"] = plan.size();
    out["points_per_message"] = kSamplesPerBatch * kPointsPerSample;
    out["offered_rate"] = o.rate > 0 ? o.rate : 0.0;
    out["publish_s"] = std::round(publish_s * 100) / 100;
    out["consumed"] = consumed.load();
    out["span_s"] = std::round(span_s * 100) / 100;
    out["msgs_per_s"] = std::round(done / span_s);
    out["points_per_s"] = std::round(done * kSamplesPerBatch * kPointsPerSample / span_s);
    out["publisher_max_lag_ms"] = std::round(static_cast<double>(fleet.state->max_lag_ns.load()) / 1e6);
    // The server side's CPU (consumer, and for PostgreSQL not the database's own processes) and the fleet's.
    out["cpu_s"] = std::round(cpu * 100) / 100;
    out["fleet_cpu_s"] = std::round(static_cast<double>(fleet.state->cpu_us.load()) / 1e4) / 100;
    // The ingest thread's own CPU (decode, store, commit): what one core can take is messages / this.
    if (o.consumer == "ingest") {
        out["ingest_thread_cpu_s"] = std::round(ingest_thread_cpu.load() * 100) / 100;
        out["ingest_capacity_per_core"] = std::round(done / ingest_thread_cpu.load());
    }
    if (o.consumer == "ingest") {
        std::vector<double> steady, warm;
        for (std::size_t i = 0; i < latencies_ms.size(); ++i)
            (published_at_s[i] < o.warmup ? warm : steady).push_back(latencies_ms[i]);
        out["latency_ms"] = {{"p50", std::round(percentile(steady, 0.5))},
                             {"p90", std::round(percentile(steady, 0.9))},
                             {"p99", std::round(percentile(steady, 0.99))},
                             {"max", std::round(percentile(steady, 1.0))},
                             {"after_s", o.warmup}};
        out["warmup_latency_ms"] = {{"p50", std::round(percentile(warm, 0.5))},
                                    {"p99", std::round(percentile(warm, 0.99))},
                                    {"messages", warm.size()}};
        out["stored"] = {{"applied", stats.applied}, {"duplicates", stats.duplicates}, {"samples", stats.samples},
                         {"commits", stats.commits}, {"rejected", stats.rejected},
                         {"store_errors", stats.store_errors}};
    }
    std::cout << out.dump() << std::endl;
    return consumed.load() == plan.size() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) throw std::runtime_error(a + ": value missing");
            return argv[++i];
        };
        if (a == "--consumer") o.consumer = next();
        else if (a == "--db") o.db = next();
        else if (a == "--sites") o.sites = std::stoi(next());
        else if (a == "--seconds") o.seconds = std::stod(next());
        else if (a == "--rate") o.rate = std::stod(next());
        else if (a == "--replay-sites") o.replay_sites = std::stoi(next());
        else if (a == "--publishers") o.publishers = std::stoi(next());
        else if (a == "--inflight") o.inflight = std::stoi(next());
        else if (a == "--work-dir") o.work_dir = next();
        else if (a == "--max-batch") o.max_batch = std::stoul(next());
        else if (a == "--warmup") o.warmup = std::stod(next());
        else {
            std::fprintf(stderr, "unknown option %s (see the comment at the top of bench_ingest.cpp)\n", a.c_str());
            return 2;
        }
    }
    if (o.consumer != "ingest" && o.consumer != "bare") {
        std::fprintf(stderr, "--consumer: expected ingest or bare\n");
        return 2;
    }
    if (o.db != "sqlite" && o.db != "postgres") {
        std::fprintf(stderr, "--db: expected sqlite or postgres\n");
        return 2;
    }
    if (o.replay_sites >= o.sites || o.sites < 1 || o.publishers < 1) {
        std::fprintf(stderr, "--sites must exceed --replay-sites; --publishers >= 1\n");
        return 2;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_ingest: %s\n", e.what());
        return 2;
    }
}
