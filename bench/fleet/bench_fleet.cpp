// bench_fleet — fleet operations against a real pvfleet-server (figures in docs/performance.md, "Fleet
// operations").
//
//   bench_fleet [--gateways 1000] [--concurrency 20] [--package-mb 5] [--max-concurrent-downloads 50]
//               [--start-delay-max-s 5] [--tick-s 1] [--install-s 1] [--runs 1] [--server-bin PATH] [--keep
//               DIR]
//
// Each run starts from nothing: a PKI (scripts/pki: root and issuing CA), an HTTPS certificate for 127.0.0.1,
// an anonymous mosquitto on a free loopback port, and `pvfleet-server run` (SQLite, HTTPS, enrollment with
// the issuing CA, a releases section with a trusted Ed25519 key). N sites are imported with the server's CSV
// import, an admin made with `user add`; then, over the API, one enrollment code per site and each site's
// architecture.
//
// Phase "enroll": N gateways, `concurrency` at a time, each makes its EC P-256 key and CSR and posts them
// with its code to POST /api/enroll through the gateway's own client (pvfleet::enroll::post_json over HTTPS,
// the server's certificate verified), then checks the answer as `pvfleet-edge enroll` does (the certificate
// is for its key).
//
// Phase "download": a signed pvfleet-edge .deb (dpkg-deb, random payload so nothing compresses) is uploaded,
// a rollout started (1 %, 10 %, 100 %; the download limit; a small start delay), and the N gateways are
// played in this process: one MQTT connection subscribed to every site's command topic (the bench broker is
// anonymous), and for each update command what the agent does — ack `accepted` "downloading …", download with
// the gateway's own downloader (pvfleet::update::download, HTTPS, resuming), check size, SHA-256 and
// signature, ack `accepted` "installing …", a simulated install, ack `done` "healthy …". The bench counts the
// downloads in flight at every moment: the peak must not exceed the rollout's limit.
//
// For each phase the server process's CPU time (utime + stime, /proc/PID/stat) and memory (VmRSS sampled
// every 100 ms, and VmHWM — the kernel's peak — reset at the phase's start through /proc/PID/clear_refs) are
// reported. Prints one JSON line: every run, and the medians when there are several.
#include <mqtt/async_client.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pvfleet/enroll/enroll.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/release/signature.hpp"
#include "pvfleet/update/update.hpp"
#include "pvfleet/util/clock.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct Options {
    int gateways = 1000;
    int concurrency = 20;
    double package_mb = 5;
    int max_concurrent_downloads = 50;
    int start_delay_max_s = 5;
    int tick_s = 1;
    double install_s = 1;
    int runs = 1;
    std::string server_bin = PVFLEET_SERVER_BIN;
    std::string keep_dir;  // non-empty: work in this folder and leave it (logs, database)
};

constexpr const char* kOldVersion = "0.1.0";
constexpr const char* kNewVersion = "0.2.0";
constexpr const char* kArchitecture = "arm64";
constexpr int kDefaultGlobalEnrollLimit = 1200;  // the product's default (docs/fleet-enrollment.md)

double seconds_since(Steady::time_point t) {
    return std::chrono::duration<double>(Steady::now() - t).count();
}

double percentile(std::vector<double> v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const auto idx = static_cast<std::size_t>(std::ceil(q * static_cast<double>(v.size()))) - 1;
    return v[std::min(idx, v.size() - 1)];
}

double round_to(double v, int digits) {
    const double f = std::pow(10.0, digits);
    return std::round(v * f) / f;
}

std::string site_name(int i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "fleet-%05d", i);
    return buf;
}

// Thrown, not exit(): unwinding stops the server and the broker (ChildProcess destructors), so no orphan
// stays.
struct BenchFailure : std::runtime_error {
    using std::runtime_error::runtime_error;
};
[[noreturn]] void fail(const std::string& why) {
    throw BenchFailure(why);
}

std::string run_ok(const std::vector<std::string>& argv, const std::string& what) {
    std::vector<std::string> sh{"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1"};
    sh.insert(sh.end(), argv.begin(), argv.end());
    const auto r = test::run_command(sh, 120s);
    if (r.status != 0) fail(what + " failed: " + r.out);
    return r.out;
}

// ---- the server process: CPU time and memory from /proc ----

struct ProcSample {
    double cpu_s = 0;  // utime + stime
    long rss_kb = 0, hwm_kb = 0;
};

ProcSample sample_process(int pid) {
    ProcSample s;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command name (which may hold blanks) start at the last ')'; utime and stime are the
    // 14th and 15th fields of the line, the 12th and 13th after ") state".
    if (const auto close = text.rfind(')'); close != std::string::npos) {
        std::istringstream rest(text.substr(close + 2));
        std::string field;
        std::vector<std::string> fields;
        while (rest >> field) fields.push_back(field);
        if (fields.size() > 12) {
            const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
            s.cpu_s = (std::stod(fields[11]) + std::stod(fields[12])) / ticks;
        }
    }
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(status, line);) {
        if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
        if (line.rfind("VmHWM:", 0) == 0) s.hwm_kb = std::stol(line.substr(6));
    }
    return s;
}

double own_cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

std::string loadavg() {
    std::ifstream in("/proc/loadavg");
    std::string a, b, c;
    in >> a >> b >> c;
    return a + " " + b + " " + c;
}

// One phase's view of the server process: CPU over the phase, RSS at both ends, the peak (VmHWM, reset at the
// start by writing 5 to clear_refs; the 100-ms samples' maximum as a cross-check where that is refused).
class PhaseMeter {
public:
    PhaseMeter(int pid, std::string name) : pid_(pid), name_(std::move(name)) {
        std::ofstream("/proc/" + std::to_string(pid_) + "/clear_refs") << "5";
        start_ = sample_process(pid_);
        own_start_ = own_cpu_seconds();
        t0_ = Steady::now();
        peak_rss_kb_ = start_.rss_kb;
        sampler_ = std::thread([this] {
            while (!stop_.load()) {
                const auto s = sample_process(pid_);
                peak_rss_kb_ = std::max(peak_rss_kb_.load(), s.rss_kb);
                std::this_thread::sleep_for(100ms);
            }
        });
    }
    ~PhaseMeter() { finish(); }

    json finish() {
        if (sampler_.joinable()) {
            stop_ = true;
            sampler_.join();
            const auto end = sample_process(pid_);
            const double wall = seconds_since(t0_);
            const double cpu = end.cpu_s - start_.cpu_s;
            result_ = {{"wall_s", round_to(wall, 2)},
                       {"server_cpu_s", round_to(cpu, 2)},
                       {"server_cpu_percent_of_one_core", round_to(100 * cpu / wall, 1)},
                       {"server_rss_start_mb", round_to(static_cast<double>(start_.rss_kb) / 1024, 1)},
                       {"server_rss_end_mb", round_to(static_cast<double>(end.rss_kb) / 1024, 1)},
                       {"server_rss_peak_mb",
                        round_to(static_cast<double>(std::max(end.hwm_kb, peak_rss_kb_.load())) / 1024, 1)},
                       {"bench_cpu_s", round_to(own_cpu_seconds() - own_start_, 2)}};
        }
        return result_;
    }

private:
    int pid_;
    std::string name_;
    ProcSample start_;
    double own_start_ = 0;
    Steady::time_point t0_;
    std::atomic<long> peak_rss_kb_{0};
    std::atomic<bool> stop_{false};
    std::thread sampler_;
    json result_;
};

// ---- the back office's HTTPS client (keep-alive, bearer token) for setup and the rollout's progress ----

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct Reply {
    int status = 0;
    std::string body;
};

class AdminClient {
public:
    AdminClient(std::string port, const std::string& ca_file)
        : port_(std::move(port)), ctx_(asio::ssl::context::tls_client) {
        ctx_.set_verify_mode(asio::ssl::verify_peer);
        ctx_.load_verify_file(ca_file);
    }

    void set_token(std::string token) { token_ = std::move(token); }

    Reply request(bhttp::verb verb, const std::string& target, const std::string& body = {},
                  const std::string& content_type = "application/json",
                  const std::map<std::string, std::string>& headers = {}) {
        for (int attempt = 0;; ++attempt) {
            try {
                if (!stream_) connect();
                bhttp::request<bhttp::string_body> req{verb, target, 11};
                req.set(bhttp::field::host, "127.0.0.1:" + port_);
                req.keep_alive(true);
                if (!token_.empty()) req.set(bhttp::field::authorization, "Bearer " + token_);
                for (const auto& [k, v] : headers) req.set(k, v);
                if (!body.empty() || verb == bhttp::verb::post || verb == bhttp::verb::put) {
                    req.set(bhttp::field::content_type, content_type);
                    req.body() = body;
                }
                req.prepare_payload();
                bhttp::write(*stream_, req);
                beast::flat_buffer buffer;
                bhttp::response_parser<bhttp::string_body> parser;
                parser.body_limit(64 * 1024 * 1024);
                bhttp::read(*stream_, buffer, parser);
                Reply r{static_cast<int>(parser.get().result_int()), parser.get().body()};
                if (!parser.get().keep_alive()) stream_.reset();
                return r;
            } catch (const std::exception& e) {
                stream_.reset();  // a keep-alive connection the server closed: once more on a new one
                if (attempt >= 1) return Reply{0, e.what()};
            }
        }
    }

    json request_json(bhttp::verb verb, const std::string& target, const json& body, int expected) {
        const Reply r = request(verb, target, body.is_null() ? std::string() : body.dump());
        if (r.status != expected)
            fail(std::string(bhttp::to_string(verb)) + " " + target + ": " + std::to_string(r.status) + " " +
                 r.body);
        return json::parse(r.body);
    }

private:
    void connect() {
        stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, ctx_);
        SSL_set_tlsext_host_name(stream_->native_handle(), "127.0.0.1");
        stream_->set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
        asio::ip::tcp::resolver resolver(ioc_);
        beast::get_lowest_layer(*stream_).connect(resolver.resolve("127.0.0.1", port_));
        stream_->handshake(asio::ssl::stream_base::client);
    }

    std::string port_;
    asio::io_context ioc_;
    asio::ssl::context ctx_;
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
    std::string token_;
};

// ---- the release: a pvfleet-edge package with a random payload, signed ----

struct ReleaseKeys {
    std::string private_pem, public_pem;
};

ReleaseKeys make_release_keys() {
    EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
    if (k == nullptr) fail("Ed25519 key generation failed");
    BIO* priv = BIO_new(BIO_s_mem());
    BIO* pub = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(priv, k, nullptr, nullptr, 0, nullptr, nullptr);
    PEM_write_bio_PUBKEY(pub, k);
    auto text = [](BIO* b) {
        char* d = nullptr;
        const long n = BIO_get_mem_data(b, &d);
        return std::string(d, static_cast<std::size_t>(n));
    };
    ReleaseKeys out{text(priv), text(pub)};
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(k);
    return out;
}

fs::path make_deb(const fs::path& dir, std::size_t payload_bytes) {
    const fs::path root = dir / "pkg";
    fs::create_directories(root / "DEBIAN");
    fs::create_directories(root / "usr/share/pvfleet-bench");
    std::ofstream(root / "DEBIAN/control")
        << "Package: pvfleet-edge\nVersion: " << kNewVersion << "\nArchitecture: " << kArchitecture
        << "\nMaintainer: bench <bench@example.org>\nDescription: fleet bench package\n";
    {
        std::ofstream out(root / "usr/share/pvfleet-bench/payload", std::ios::binary);
        std::mt19937_64 rng{std::random_device{}()};
        std::vector<std::uint64_t> block(8192);
        for (std::size_t written = 0; written < payload_bytes;) {
            for (auto& w : block) w = rng();
            const std::size_t n = std::min(payload_bytes - written, block.size() * sizeof(std::uint64_t));
            out.write(reinterpret_cast<const char*>(block.data()), static_cast<std::streamsize>(n));
            written += n;
        }
    }
    const fs::path deb = dir / (std::string("pvfleet-edge_") + kNewVersion + "_" + kArchitecture + ".deb");
    run_ok({"dpkg-deb", "--root-owner-group", "-Zgzip", "-b", root.string(), deb.string()}, "dpkg-deb");
    fs::remove_all(root);
    return deb;
}

// ---- phase enroll ----

json phase_enroll(const Options& o, AdminClient&, int server_pid, const std::string& http_port,
                  const fs::path& ca_file, const std::vector<std::string>& codes) {
    enroll::ServerUrl server{"127.0.0.1", http_port};
    std::atomic<int> next{0};
    std::mutex mu;
    std::vector<double> latencies_ms;
    std::map<std::string, int> failures;  // reason -> count
    int enrolled = 0;
    PhaseMeter meter(server_pid, "enroll");
    const auto t0 = Steady::now();
    std::vector<std::thread> workers;
    for (int w = 0; w < o.concurrency; ++w)
        workers.emplace_back([&] {
            for (int i = next++; i < o.gateways; i = next++) {
                // The gateway's work: its own key and CSR (never sent), then the request.
                auto kc = enroll::make_key_and_csr();
                if (!kc) {
                    std::lock_guard lock(mu);
                    ++failures["key: " + kc.error().message];
                    continue;
                }
                const auto t = Steady::now();
                auto reply = enroll::post_json(
                    server, "/api/enroll",
                    json{{"code", codes[static_cast<std::size_t>(i)]}, {"csr", kc->csr_pem}}.dump(),
                    ca_file.string(), std::chrono::seconds(60));
                const double ms = seconds_since(t) * 1000;
                std::string problem;
                if (!reply) {
                    problem = "transport: " + reply.error().message;
                } else if (auto r = enroll::read_reply(*reply); !r) {
                    problem =
                        "HTTP " + std::to_string(reply->status) + ": " + r.error().message.substr(0, 120);
                } else if (r->site_id != site_name(i)) {
                    problem = "certificate for " + r->site_id + ", expected " + site_name(i);
                } else if (auto k = enroll::check_certificate_key(r->certificate_pem, kc->key_pem); !k) {
                    problem = "certificate key: " + k.error().message;
                }
                std::lock_guard lock(mu);
                latencies_ms.push_back(ms);
                if (problem.empty())
                    ++enrolled;
                else
                    ++failures[problem];
            }
        });
    for (auto& t : workers) t.join();
    const double wall = seconds_since(t0);
    json out = meter.finish();
    int failed = 0;
    json reasons = json::object();
    for (const auto& [why, n] : failures) {
        failed += n;
        reasons[why] = n;
    }
    out["wall_s"] = round_to(wall, 2);
    out["enrolled"] = enrolled;
    out["failed"] = failed;
    if (failed > 0) out["failures"] = reasons;
    out["requests_per_s"] = round_to(static_cast<double>(o.gateways) / wall, 1);
    out["latency_ms"] = {{"p50", round_to(percentile(latencies_ms, 0.50), 1)},
                         {"p95", round_to(percentile(latencies_ms, 0.95), 1)},
                         {"p99", round_to(percentile(latencies_ms, 0.99), 1)},
                         {"max", round_to(percentile(latencies_ms, 1.0), 1)}};
    out["within_10_min"] = failed == 0 && wall <= 600;
    return out;
}

// ---- phase download: the gateways' side of a rollout ----

class GatewayFleet {
public:
    GatewayFleet(const std::string& broker_uri, fs::path scratch, std::string ca_file,
                 std::vector<release::PublicKey> keys, double install_s)
        : scratch_(std::move(scratch)),
          ca_file_(std::move(ca_file)),
          keys_(std::move(keys)),
          install_s_(install_s),
          client_(broker_uri, "bench-fleet-gateways") {
        fs::create_directories(scratch_);
        client_.set_message_callback(
            [this](::mqtt::const_message_ptr m) { on_command(m->get_topic(), m->to_string()); });
        auto conn = ::mqtt::connect_options_builder().clean_session(true).max_inflight(1000).finalize();
        client_.connect(conn)->wait();
        // The bench broker is anonymous: one subscription stands for every gateway's own.
        client_.subscribe("pvfleet/v1/sites/+/commands", 1)->wait();
    }

    ~GatewayFleet() {
        join_all();
        try {
            client_.disconnect()->wait();
        } catch (const std::exception&) {
        }
    }

    void join_all() {
        std::vector<std::thread> threads;
        {
            std::lock_guard lock(mu_);
            threads.swap(threads_);
        }
        for (auto& t : threads) t.join();
    }

    json report() {
        std::lock_guard lock(mu_);
        json out;
        out["commands"] = commands_;
        out["duplicates"] = duplicates_;
        out["downloads"] = download_ms_.size();
        out["healthy_acks"] = healthy_;
        out["failed"] = failed_;
        if (!failures_.empty()) out["failures"] = failures_;
        out["peak_concurrent_downloads"] = peak_.load();
        out["bytes_downloaded"] = bytes_.load();
        out["resumed_attempts"] = retries_.load();
        out["download_ms"] = {{"p50", round_to(percentile(download_ms_, 0.50), 1)},
                              {"p95", round_to(percentile(download_ms_, 0.95), 1)},
                              {"max", round_to(percentile(download_ms_, 1.0), 1)}};
        const double span = std::chrono::duration<double>(last_end_ - first_start_).count();
        out["transfer_span_s"] = round_to(span, 2);
        out["throughput_mb_per_s_over_transfer_span"] =
            span > 0 ? round_to(static_cast<double>(bytes_.load()) / 1048576.0 / span, 1) : 0.0;
        return out;
    }

    [[nodiscard]] int peak() const { return peak_.load(); }
    [[nodiscard]] int in_flight() const { return in_flight_.load(); }

private:
    void on_command(const std::string& topic, const std::string& payload) {
        auto msg = protocol::decode_for_topic(topic, payload);
        if (!msg) return note_failure("undecodable command: " + msg.error().message);
        auto* cmd = std::get_if<protocol::Command>(&*msg);
        if (cmd == nullptr || cmd->type() != protocol::CommandType::update) return;
        std::lock_guard lock(mu_);
        ++commands_;
        if (!seen_.insert(cmd->command_id)
                 .second) {  // a QoS 1 redelivery: the agent answers it without acting
            ++duplicates_;
            return;
        }
        // One thread per gateway, as each gateway downloads on its own; joined at the end of the phase.
        threads_.emplace_back([this, c = *cmd] { play_gateway(c); });
    }

    void ack(const protocol::Command& cmd, protocol::AckStatus status, const std::string& detail) {
        protocol::CommandAck a;
        a.site_id = cmd.site_id;
        a.command_id = cmd.command_id;
        a.command = protocol::CommandType::update;
        a.status = status;
        a.at = SystemClock{}.now();
        a.detail = detail;
        auto payload = protocol::encode(a);
        if (!payload) return note_failure("ack not encoded: " + payload.error().message);
        client_
            .publish(protocol::topic_for(cmd.site_id, protocol::MessageKind::command_ack), payload->data(),
                     payload->size(), 1, false)
            ->wait();
    }

    // What the agent does with an update command (docs/updates.md, "The `update` command on the gateway"),
    // the root updater's install replaced by a sleep.
    void play_gateway(const protocol::Command& cmd) {
        const auto& u = std::get<protocol::UpdateCommand>(cmd.body);
        update::Request r{cmd.command_id, u.version, u.url, u.sha256, u.size, u.signature};
        ack(cmd, protocol::AckStatus::accepted,
            "downloading " + u.version + " (" + std::to_string(u.size) + " bytes)");
        const fs::path partial = scratch_ / (cmd.site_id + ".part");
        const int now_in_flight = ++in_flight_;
        for (int seen = peak_.load();
             now_in_flight > seen && !peak_.compare_exchange_weak(seen, now_in_flight);) {
        }
        const auto t0 = Steady::now();
        {
            std::lock_guard lock(mu_);
            if (first_start_ == Steady::time_point{}) first_start_ = t0;
        }
        Status got{};
        for (int attempt = 0; attempt < 5; ++attempt) {  // the agent's five attempts, each resuming
            auto n = update::download(r, partial, {ca_file_, std::chrono::minutes(15)});
            if (n) {
                bytes_ += *n;
                got = Status{};
                break;
            }
            got = n.error();
            ++retries_;
        }
        --in_flight_;
        const double ms = seconds_since(t0) * 1000;
        {
            std::lock_guard lock(mu_);
            download_ms_.push_back(ms);
            last_end_ = std::max(last_end_, Steady::now());
        }
        if (got) got = update::verify_package(partial, r, keys_);
        std::error_code ec;
        fs::remove(partial, ec);
        if (!got) {
            note_failure("package refused: " + got.error().message.substr(0, 160));
            ack(cmd, protocol::AckStatus::rejected, "package refused: " + got.error().message);
            return;
        }
        ack(cmd, protocol::AckStatus::accepted, "installing " + u.version + " (was " + kOldVersion + ")");
        std::this_thread::sleep_for(std::chrono::duration<double>(install_s_));
        ack(cmd, protocol::AckStatus::done, "healthy " + u.version + " (was " + kOldVersion + ")");
        std::lock_guard lock(mu_);
        ++healthy_;
    }

    void note_failure(const std::string& why) {
        std::lock_guard lock(mu_);
        ++failed_;
        failures_[why] = failures_.value(why, 0) + 1;
    }

    fs::path scratch_;
    std::string ca_file_;
    std::vector<release::PublicKey> keys_;
    double install_s_;
    ::mqtt::async_client client_;
    std::mutex mu_;
    std::vector<std::thread> threads_;
    std::set<std::string> seen_;
    int commands_ = 0, duplicates_ = 0, healthy_ = 0, failed_ = 0;
    json failures_ = json::object();
    std::vector<double> download_ms_;
    Steady::time_point first_start_{}, last_end_{};
    std::atomic<int> in_flight_{0}, peak_{0};
    std::atomic<std::uint64_t> bytes_{0};
    std::atomic<int> retries_{0};
};

json phase_download(const Options& o, AdminClient& admin, int server_pid, const std::string& broker_uri,
                    const fs::path& dir, const fs::path& ca_file, const ReleaseKeys& keys) {
    // The release: made and signed before the phase (the release machine's work), uploaded in it.
    const auto payload = static_cast<std::size_t>(o.package_mb * 1024 * 1024);
    const fs::path deb = make_deb(dir, payload);
    const auto digest = release::sha256_file(deb);
    if (!digest) fail("sha256: " + digest.error().message);
    const auto sig = release::sign_digest(*digest, keys.private_pem);
    if (!sig) fail("signing: " + sig.error().message);
    const std::string body = test::read_file(deb);
    const auto pub = release::load_public_key(keys.public_pem, "bench-release.pem");
    if (!pub) fail("public key: " + pub.error().message);

    const fs::path scratch =
        test::memory_temp_dir().empty()
            ? dir / "gateways"
            : test::memory_temp_dir() / ("pvfleet-bench-fleet-" + std::to_string(getpid()));
    GatewayFleet fleet(broker_uri, scratch, ca_file.string(), {*pub}, o.install_s);

    PhaseMeter meter(server_pid, "download");
    const auto t_upload = Steady::now();
    const Reply up =
        admin.request(bhttp::verb::post, "/api/releases", body, "application/vnd.debian.binary-package",
                      {{"X-Release-Signature", release::base64_encode(*sig)}});
    if (up.status != 201) fail("upload: " + std::to_string(up.status) + " " + up.body);
    const double upload_s = seconds_since(t_upload);

    const auto t0 = Steady::now();
    const json spec = {{"version", kNewVersion},
                       {"channel", "stable"},
                       {"stages", json::array({{{"percent", 1}}, {{"percent", 10}}, {{"percent", 100}}})},
                       {"max_failure_percent", 0},
                       {"max_concurrent_downloads", o.max_concurrent_downloads},
                       {"start_delay_max_s", o.start_delay_max_s}};
    const json rollout = admin.request_json(bhttp::verb::post, "/api/rollouts", spec, 201);
    const auto rollout_id = rollout.at("id").get<long long>();
    json last;
    int peak_engine_downloading = 0;
    std::vector<double> stage_done_s;
    int stage_seen = 1;
    const double deadline_s = 3600;
    for (;;) {
        // The list carries each rollout's counts; the detail would add 1 000 sites' rows to every poll.
        std::this_thread::sleep_for(1s);
        const Reply r = admin.request(bhttp::verb::get, "/api/rollouts");
        if (r.status != 200) fail("GET /api/rollouts: " + std::to_string(r.status) + " " + r.body);
        const json list = json::parse(r.body);
        for (const auto& item : list.at("items"))
            if (item.at("id").get<long long>() == rollout_id) last = item;
        if (last.is_null()) fail("rollout " + std::to_string(rollout_id) + " not listed");
        peak_engine_downloading = std::max(peak_engine_downloading, last["counts"]["downloading"].get<int>());
        for (; stage_seen < last["current_stage"].get<int>(); ++stage_seen)
            stage_done_s.push_back(round_to(seconds_since(t0), 1));
        const std::string state = last["state"];
        if (state != "running") break;
        if (seconds_since(t0) > deadline_s) {
            std::fprintf(stderr, "rollout still running after %.0f s\n", deadline_s);
            break;
        }
    }
    const double wall = seconds_since(t0);
    fleet.join_all();
    json out = meter.finish();
    out["wall_s"] = round_to(wall, 2);
    out["upload_s"] = round_to(upload_s, 2);
    out["package_bytes"] = body.size();
    out["rollout_state"] = last["state"];
    if (!last["pause_reason"].get<std::string>().empty()) out["pause_reason"] = last["pause_reason"];
    out["rollout_counts"] = last["counts"];
    out["stage_done_at_s"] = stage_done_s;
    out["engine_downloading_peak_polled"] = peak_engine_downloading;
    out["max_concurrent_downloads"] = o.max_concurrent_downloads;
    const json g = fleet.report();
    for (const auto& [k, v] : g.items()) out[k] = v;
    out["limit_respected"] = fleet.peak() <= o.max_concurrent_downloads;
    out["all_healthy"] = last["state"] == "done" && last["counts"]["healthy"].get<int>() == o.gateways;
    out["throughput_mb_per_s_over_wall"] =
        round_to(static_cast<double>(g["bytes_downloaded"].get<std::uint64_t>()) / 1048576.0 / wall, 1);
    std::error_code ec;
    fs::remove_all(scratch, ec);
    return out;
}

// ---- one run: everything from nothing ----

json run_once(const Options& o, int run_index) {
    std::unique_ptr<test::TempDir> temp;
    fs::path dir;
    if (o.keep_dir.empty()) {
        temp = std::make_unique<test::TempDir>();
        dir = temp->path();
    } else {
        dir = fs::path(o.keep_dir) / ("run-" + std::to_string(run_index));
        fs::remove_all(dir);
        fs::create_directories(dir);
    }
    const std::string load_before = loadavg();
    const auto t_setup = Steady::now();

    // PKI: root and the online issuing CA (scripts/pki), and the server's HTTPS certificate for 127.0.0.1.
    const fs::path pki = dir / "pki";
    const std::string pki_script = (test::source_dir() / "scripts/pki").string();
    run_ok({pki_script, "init", pki.string()}, "scripts/pki init");
    run_ok({pki_script, "issuing", pki.string()}, "scripts/pki issuing");
    run_ok({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout",
            (dir / "https.key").string(), "-out", (dir / "https.crt").string()},
           "openssl req");
    fs::permissions(dir / "https.key", fs::perms::owner_read | fs::perms::owner_write);
    const ReleaseKeys keys = make_release_keys();
    fs::create_directories(dir / "release-keys");
    std::ofstream(dir / "release-keys/bench-release.pem") << keys.public_pem;

    // The broker: anonymous, loopback, as in bench/ingest.
    const int mqtt_port = test::free_tcp_port();
    std::ofstream(dir / "mosquitto.conf")
        << "listener " << mqtt_port << " 127.0.0.1\nallow_anonymous true\n"
        << "persistence false\nmax_queued_messages 0\nmax_inflight_messages 100\n";
    test::ChildProcess broker({test::find_program("mosquitto"), "-c", (dir / "mosquitto.conf").string()},
                              dir / "mosquitto.log");
    if (!test::wait_for_tcp_port(mqtt_port, 10s))
        fail("mosquitto did not start (see " + (dir / "mosquitto.log").string() + ")");
    const std::string broker_uri = "tcp://127.0.0.1:" + std::to_string(mqtt_port);

    // The server. The enrollment limits: the product's global default (1 200 per 10 minutes) unless the bench
    // asks for more gateways than that; per address the bench must allow all N, since every simulated gateway
    // comes from 127.0.0.1 (a real fleet enrolls from as many addresses as gateways; the default is 10 per
    // address).
    const int http_port = test::free_tcp_port();
    const int global_limit = std::max(kDefaultGlobalEnrollLimit, o.gateways);
    const json config = {
        {"database", {{"kind", "sqlite"}, {"path", "server.db"}}},
        {"mqtt", {{"uri", broker_uri}, {"client_id", "pvfleet-server-bench"}}},
        {"http",
         {{"listen", "127.0.0.1"},
          {"port", http_port},
          {"public_url", "https://127.0.0.1:" + std::to_string(http_port)},
          {"tls", {{"cert_file", "https.crt"}, {"key_file", "https.key"}}}}},
        {"enrollment",
         {{"ca_cert_file", "pki/issuing-ca.crt"},
          {"ca_key_file", "pki/issuing-ca.key"},
          {"ca_chain_file", "pki/ca.crt"},
          {"broker_uri", "ssl://127.0.0.1:8883"},
          {"rate_limit", {{"per_address", o.gateways}, {"global", global_limit}, {"window_s", 600}}}}},
        {"releases", {{"dir", "releases"}, {"keys_dir", "release-keys"}, {"tick_s", o.tick_s}}}};
    std::ofstream(dir / "server.json") << config.dump(2) << "\n";
    const std::string conf = (dir / "server.json").string();

    {  // N sites, ten per customer, with the server's own CSV import.
        std::ofstream csv(dir / "customers.csv");
        csv << "customer_name,site_id,site_name,latitude,longitude,time_zone\n";
        for (int i = 0; i < o.gateways; ++i)
            csv << "Customer " << i / 10 << "," << site_name(i) << ",Roof " << i
                << ",47.99,7.85,Europe/Berlin\n";
    }
    run_ok({o.server_bin, "import", "customers", (dir / "customers.csv").string(), "--config", conf},
           "import customers");
    const std::string password = "bench-fleet-password-2026";
    std::ofstream(dir / "admin.password") << password << "\n";
    run_ok({o.server_bin, "user", "add", "--config", conf, "--name", "bench-admin", "--role", "admin",
            "--password-file", (dir / "admin.password").string()},
           "user add");

    test::ChildProcess server({o.server_bin, "run", "--config", conf}, dir / "server.log");
    if (!test::wait_for_tcp_port(http_port, 30s))
        fail("pvfleet-server did not listen (see " + (dir / "server.log").string() + ")");
    for (const auto until = Steady::now() + 20s;
         test::read_file(dir / "server.log").find("connected to") == std::string::npos;) {
        if (Steady::now() > until)
            fail("pvfleet-server did not connect to the broker (see " + (dir / "server.log").string() + ")");
        std::this_thread::sleep_for(100ms);
    }

    AdminClient admin(std::to_string(http_port), (dir / "https.crt").string());
    const json login = admin.request_json(bhttp::verb::post, "/api/login",
                                          {{"user", "bench-admin"}, {"password", password}}, 200);
    admin.set_token(login.at("token").get<std::string>());
    std::vector<std::string> codes;
    const auto t_codes = Steady::now();
    for (int i = 0; i < o.gateways; ++i)
        codes.push_back(
            admin.request_json(bhttp::verb::post, "/api/enrollment-codes", {{"site_id", site_name(i)}}, 201)
                .at("code")
                .get<std::string>());
    const double codes_s = seconds_since(t_codes);
    const auto t_arch = Steady::now();
    for (int i = 0; i < o.gateways; ++i)
        admin.request_json(bhttp::verb::put, "/api/sites/" + site_name(i) + "/update-settings",
                           {{"architecture", kArchitecture}}, 200);
    const double arch_s = seconds_since(t_arch);
    const double setup_s = seconds_since(t_setup);

    json out;
    out["run"] = run_index;
    out["loadavg_before"] = load_before;
    out["setup"] = {{"total_s", round_to(setup_s, 1)},
                    {"enrollment_codes_via_api_s", round_to(codes_s, 2)},
                    {"update_settings_via_api_s", round_to(arch_s, 2)}};
    out["enroll_limits"] = {{"per_address", o.gateways}, {"global", global_limit}, {"window_s", 600}};
    std::fprintf(stderr, "run %d: setup %.1f s (codes %.1f s, architectures %.1f s); enrolling %d gateways\n",
                 run_index, setup_s, codes_s, arch_s, o.gateways);
    out["enroll"] = phase_enroll(o, admin, server.pid(), std::to_string(http_port), dir / "https.crt", codes);
    std::fprintf(stderr, "run %d: enroll %s\n", run_index, out["enroll"].dump().c_str());
    out["download"] = phase_download(o, admin, server.pid(), broker_uri, dir, dir / "https.crt", keys);
    std::fprintf(stderr, "run %d: download %s\n", run_index, out["download"].dump().c_str());
    out["loadavg_after"] = loadavg();
    const auto final_sample = sample_process(server.pid());
    out["server_rss_end_mb"] = round_to(static_cast<double>(final_sample.rss_kb) / 1024, 1);
    server.stop();
    broker.stop();
    return out;
}

double median_of(const json& runs, const std::string& phase, const std::vector<std::string>& path) {
    std::vector<double> v;
    for (const auto& r : runs) {
        const json* j = &r[phase];
        for (const auto& p : path) j = &(*j)[p];
        v.push_back(j->get<double>());
    }
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int usage() {
    std::fprintf(stderr,
                 "usage: bench_fleet [--gateways N] [--concurrency N] [--package-mb MB] "
                 "[--max-concurrent-downloads N]\n"
                 "                   [--start-delay-max-s S] [--tick-s S] [--install-s S] [--runs N]\n"
                 "                   [--server-bin PATH] [--keep DIR]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const auto next = [&]() -> std::string {
            if (i + 1 >= argc) std::exit(usage());
            return argv[++i];
        };
        try {
            if (a == "--gateways")
                o.gateways = std::stoi(next());
            else if (a == "--concurrency")
                o.concurrency = std::stoi(next());
            else if (a == "--package-mb")
                o.package_mb = std::stod(next());
            else if (a == "--max-concurrent-downloads")
                o.max_concurrent_downloads = std::stoi(next());
            else if (a == "--start-delay-max-s")
                o.start_delay_max_s = std::stoi(next());
            else if (a == "--tick-s")
                o.tick_s = std::stoi(next());
            else if (a == "--install-s")
                o.install_s = std::stod(next());
            else if (a == "--runs")
                o.runs = std::stoi(next());
            else if (a == "--server-bin")
                o.server_bin = next();
            else if (a == "--keep")
                o.keep_dir = next();
            else
                return usage();
        } catch (const std::exception&) {
            return usage();
        }
    }
    if (o.gateways < 1 || o.gateways > 99999 || o.concurrency < 1 || o.package_mb <= 0 || o.package_mb > 60 ||
        o.max_concurrent_downloads < 1 || o.runs < 1 || o.tick_s < 1 || o.start_delay_max_s < 0 ||
        o.install_s < 0)
        return usage();
    for (const char* tool : {"mosquitto", "openssl", "dpkg-deb"})
        if (test::find_program(tool).empty()) {
            std::fprintf(stderr, "bench_fleet: %s is not installed\n", tool);
            return 2;
        }
    if (!fs::exists(o.server_bin)) {
        std::fprintf(stderr, "bench_fleet: %s not found (build pvfleet-server, or --server-bin)\n",
                     o.server_bin.c_str());
        return 2;
    }

    json runs = json::array();
    try {
        for (int r = 1; r <= o.runs; ++r) runs.push_back(run_once(o, r));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_fleet: %s\n", e.what());
        return 2;
    }

    json out;
    out["bench"] = "fleet";
    out["gateways"] = o.gateways;
    out["concurrency"] = o.concurrency;
    out["package_mb"] = o.package_mb;
    out["max_concurrent_downloads"] = o.max_concurrent_downloads;
    out["start_delay_max_s"] = o.start_delay_max_s;
    out["tick_s"] = o.tick_s;
    out["install_s"] = o.install_s;
    out["cores"] = std::thread::hardware_concurrency();
    out["runs"] = runs;
    bool ok = true;
    for (const auto& r : runs)
        ok = ok && r["enroll"]["failed"] == 0 && r["enroll"]["within_10_min"] == true &&
             r["download"]["all_healthy"] == true && r["download"]["limit_respected"] == true;
    out["ok"] = ok;
    if (o.runs > 1) {
        json m;
        m["enroll_wall_s"] = median_of(runs, "enroll", {"wall_s"});
        m["enroll_requests_per_s"] = median_of(runs, "enroll", {"requests_per_s"});
        m["enroll_latency_p50_ms"] = median_of(runs, "enroll", {"latency_ms", "p50"});
        m["enroll_latency_p95_ms"] = median_of(runs, "enroll", {"latency_ms", "p95"});
        m["enroll_latency_p99_ms"] = median_of(runs, "enroll", {"latency_ms", "p99"});
        m["enroll_server_cpu_s"] = median_of(runs, "enroll", {"server_cpu_s"});
        m["enroll_server_rss_peak_mb"] = median_of(runs, "enroll", {"server_rss_peak_mb"});
        m["download_wall_s"] = median_of(runs, "download", {"wall_s"});
        m["download_peak_concurrent"] = median_of(runs, "download", {"peak_concurrent_downloads"});
        m["download_ms_p50"] = median_of(runs, "download", {"download_ms", "p50"});
        m["download_ms_p95"] = median_of(runs, "download", {"download_ms", "p95"});
        m["download_throughput_mb_per_s_over_transfer_span"] =
            median_of(runs, "download", {"throughput_mb_per_s_over_transfer_span"});
        m["download_server_cpu_s"] = median_of(runs, "download", {"server_cpu_s"});
        m["download_server_rss_peak_mb"] = median_of(runs, "download", {"server_rss_peak_mb"});
        out["median"] = m;
    }
    std::cout << out.dump() << std::endl;
    return ok ? 0 : 1;
}
