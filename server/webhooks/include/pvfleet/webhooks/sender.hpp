#pragma once
// The webhook sender (docs/webhooks.md): POSTs due deliveries, signed, and writes every attempt to the log.
// It runs on a thread and database connection of its own, never on the API's executor; send_due() is one
// pass on a given connection and clock, so tests drive it with a ManualClock and never sleep.
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/webhooks/webhooks.hpp"

namespace pvfleet::webhooks {

// "sha256=" and the lower-case hex HMAC-SHA256 of `body` under `secret`: the X-Pvfleet-Signature header.
std::string signature(std::string_view body, std::string_view secret);

// The wait after `failed_attempts` failures (1: after the first): 10 s, 1 min, 5 min, 30 min, 2 h, 6 h, 12 h,
// each scaled by 0.8 + 0.4 * `jitter` (jitter in [0, 1)) so receivers coming back are not hit all at once.
Millis retry_delay(int failed_attempts, double jitter);

struct PostRequest {
    std::string url;
    std::string host;  // as in the URL (SNI, Host header)
    int port = 0;
    std::string address;  // pinned: the connection goes here
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    Millis connect_timeout{5'000};
    Millis total_timeout{10'000};
    std::size_t max_response_bytes = 64 * 1024;
    std::size_t excerpt_bytes = 1024;
};

struct PostOutcome {
    std::optional<int> http_status;  // none: no response (error says why)
    std::string error;               // transport error, or a note ("response cut at 65536 bytes")
    Millis duration{0};
    std::string excerpt;  // the first excerpt_bytes of the response body
};

// The HTTP client seam; called from several threads at once (one request each).
class Poster {
public:
    virtual ~Poster() = default;
    virtual PostOutcome post(const PostRequest& request) = 0;
};

// libcurl: no redirects, no proxy from the environment, http and https only, the pinned address.
std::unique_ptr<Poster> make_curl_poster();

struct SendReport {
    int attempted = 0;
    int delivered = 0;
    int failed = 0;    // attempts that failed (retried later or given up)
    int gave_up = 0;   // deliveries that failed for good
    int disabled = 0;  // webhooks disabled by this pass
};

struct SendParts {
    storage::Db& db;
    const records::FieldCipher& cipher;
    const Settings& settings;
    Poster& poster;
    std::function<double()> jitter;  // uniform [0, 1)
};

// One pass: up to limits.concurrency due deliveries of enabled webhooks, leased (so a second sender on the
// same database leaves them), POSTed at once, each outcome recorded in its own transaction. Repeats until
// nothing is due at `now` or `max_rounds` ran.
Result<SendReport> send_due(SendParts parts, TimePoint now, int max_rounds = 16);

// The thread: a pass every second (or at once after wake()), the retention purge every hour.
class Sender {
public:
    Sender(std::unique_ptr<storage::Db> db, records::FieldCipher cipher, Settings settings,
           std::unique_ptr<Poster> poster, const Clock& clock);
    ~Sender();
    Sender(const Sender&) = delete;
    Sender& operator=(const Sender&) = delete;
    void start();
    void wake();
    // Waits for the deliveries in flight (at most limits.total_timeout), then joins.
    void stop();

private:
    void run();
    std::unique_ptr<storage::Db> db_;
    records::FieldCipher cipher_;
    Settings settings_;
    std::unique_ptr<Poster> poster_;
    const Clock& clock_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace pvfleet::webhooks
