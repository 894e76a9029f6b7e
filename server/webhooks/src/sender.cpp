// The webhook sender (sender.hpp).
#include "pvfleet/webhooks/sender.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <random>

#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/util/version.hpp"
#include "pvfleet/webhooks/url_policy.hpp"

namespace pvfleet::webhooks {
namespace {

struct Job {
    std::int64_t delivery_id = 0;
    std::int64_t webhook_id = 0;
    std::string event_name;
    std::string body;
    int attempts = 0;  // before this one
    std::string url;
    std::string secret;       // decrypted; empty when it could not be
    std::string setup_error;  // the secret could not be decrypted
    PostOutcome outcome;
};

bool success(const PostOutcome& o) {
    return o.http_status && *o.http_status >= 200 && *o.http_status < 300;
}

std::string describe(const PostOutcome& o) {
    std::string s = o.http_status ? "HTTP " + std::to_string(*o.http_status) : std::string("no answer");
    if (!o.error.empty()) s += ": " + o.error;
    return s;
}

void attempt(Job& job, const Settings& settings, Poster& poster) {
    if (!job.setup_error.empty()) {
        job.outcome.error = job.setup_error;
        return;
    }
    auto target = resolve_target(job.url, settings.network, settings.limits.max_url_bytes);
    if (!target) {
        job.outcome.error = "refused: " + target.error().message;
        return;
    }
    PostRequest req;
    req.url = job.url;
    req.host = target->url.host;
    req.port = target->url.port;
    req.address = target->address;
    req.body = job.body;
    req.headers = {{"Content-Type", "application/json"},
                   {"User-Agent", "pvfleet-server/" + std::string(util::program_version())},
                   {"X-Pvfleet-Event", job.event_name},
                   {"X-Pvfleet-Delivery", std::to_string(job.delivery_id)},
                   {"X-Pvfleet-Signature", signature(job.body, job.secret)}};
    req.connect_timeout = settings.limits.connect_timeout;
    req.total_timeout = settings.limits.total_timeout;
    req.max_response_bytes = settings.limits.max_response_bytes;
    req.excerpt_bytes = settings.limits.excerpt_bytes;
    job.outcome = poster.post(req);
    if (job.outcome.http_status && *job.outcome.http_status >= 300 && *job.outcome.http_status < 400 &&
        job.outcome.error.empty())
        job.outcome.error = "redirects are not followed";
}

// Valid UTF-8 is kept; anything else becomes '?': the excerpt is shown in JSON.
std::string printable(const std::string& bytes) {
    std::string out;
    out.reserve(bytes.size());
    for (std::size_t i = 0; i < bytes.size();) {
        const auto c = static_cast<unsigned char>(bytes[i]);
        const std::size_t n = c < 0x80             ? 1
                              : (c & 0xe0) == 0xc0 ? 2
                              : (c & 0xf0) == 0xe0 ? 3
                              : (c & 0xf8) == 0xf0 ? 4
                                                   : 0;
        bool ok = n > 0 && i + n <= bytes.size();
        for (std::size_t k = 1; ok && k < n; ++k)
            ok = (static_cast<unsigned char>(bytes[i + k]) & 0xc0) == 0x80;
        if (!ok) {
            out += '?';
            ++i;
            continue;
        }
        out.append(bytes, i, n);
        i += n;
    }
    return out;
}

Status disable(storage::Db& db, std::int64_t webhook_id, const std::string& reason, TimePoint now) {
    const std::int64_t t = to_epoch_ms(now);
    auto r = db.run(
        "UPDATE webhooks SET enabled = 0, disabled_reason = $1, version = version + 1, updated_at_ms = $2 "
        "WHERE id = $3 AND enabled = 1",
        {reason, t, webhook_id});
    if (!r) return r.error();
    if (r->affected == 0) return {};
    auto c = db.run(
        "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at_ms = NULL, finished_at_ms = $1 "
        "WHERE webhook_id = $2 AND state = 'pending'",
        {t, webhook_id});
    if (!c) return c.error();
    PVF_LOG(warn, "webhooks", "webhook " << webhook_id << " disabled: " << reason);
    return storage::append_audit(db, now, "pvfleet-server", "webhook disabled", "webhook",
                                 std::to_string(webhook_id), std::nullopt,
                                 nlohmann::json{{"reason", reason}}.dump());
}

Status record(storage::Db& db, const Settings& settings, const Job& job, TimePoint now, double jitter,
              SendReport& report) {
    const PostOutcome& o = job.outcome;
    const std::int64_t t = to_epoch_ms(now);
    const storage::Value status =
        o.http_status ? storage::Value(std::int64_t{*o.http_status}) : storage::Value(nullptr);
    auto a = db.run(
        "INSERT INTO webhook_attempts (delivery_id, attempted_at_ms, http_status, error, duration_ms, "
        "response_excerpt) VALUES ($1, $2, $3, $4, $5, $6)",
        {job.delivery_id, t, status, o.error.substr(0, 1024), std::int64_t{o.duration.count()},
         printable(o.excerpt)});
    if (!a) return a.error();
    const int attempts = job.attempts + 1;
    ++report.attempted;
    if (success(o)) {
        ++report.delivered;
        auto d = db.run(
            "UPDATE webhook_deliveries SET state = 'delivered', attempts = $1, next_attempt_at_ms = NULL, "
            "finished_at_ms = $2 WHERE id = $3",
            {std::int64_t{attempts}, t, job.delivery_id});
        if (!d) return d.error();
        auto w = db.run("UPDATE webhooks SET failing_since_ms = NULL, failed_attempts = 0 WHERE id = $1",
                        {job.webhook_id});
        if (!w) return w.error();
        return {};
    }
    ++report.failed;
    // A ping is tried once; an event until max_attempts, then it has failed.
    const int max_attempts = job.event_name == kTestEvent ? 1 : settings.limits.max_attempts;
    const bool gone = o.http_status == 410;
    if (gone || attempts >= max_attempts) {
        ++report.gave_up;
        auto d = db.run(
            "UPDATE webhook_deliveries SET state = 'failed', attempts = $1, next_attempt_at_ms = NULL, "
            "finished_at_ms = $2 WHERE id = $3",
            {std::int64_t{attempts}, t, job.delivery_id});
        if (!d) return d.error();
    } else {
        auto d = db.run("UPDATE webhook_deliveries SET attempts = $1, next_attempt_at_ms = $2 WHERE id = $3",
                        {std::int64_t{attempts},
                         std::int64_t{to_epoch_ms(now + retry_delay(attempts, jitter))}, job.delivery_id});
        if (!d) return d.error();
    }
    if (gone) {
        ++report.disabled;
        return disable(db, job.webhook_id, "the receiver answered 410 Gone at " + format_iso8601(now), now);
    }
    auto w = db.run(
        "UPDATE webhooks SET failing_since_ms = COALESCE(failing_since_ms, $1), failed_attempts = "
        "failed_attempts + 1 "
        "WHERE id = $2 RETURNING failing_since_ms, failed_attempts",
        {t, job.webhook_id});
    if (!w) return w.error();
    if (w->rows.empty()) return {};
    const TimePoint since = from_epoch_ms(w->rows.at(0).integer(0));
    const auto failures = w->rows.at(0).integer(1);
    if (now - since >= settings.limits.disable_after && failures >= settings.limits.disable_min_failures) {
        ++report.disabled;
        return disable(db, job.webhook_id,
                       "every attempt failed since " + format_iso8601(since) + " (" +
                           std::to_string(failures) + " attempts); the last: " + describe(o),
                       now);
    }
    return {};
}

}  // namespace

std::string signature(std::string_view body, std::string_view secret) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac.data(), &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "sha256=";
    for (unsigned int i = 0; i < len; ++i) {
        out += kHex[mac[i] >> 4];
        out += kHex[mac[i] & 0xf];
    }
    return out;
}

Millis retry_delay(int failed_attempts, double jitter) {
    using namespace std::chrono;
    static constexpr std::array<Millis, 7> kSchedule{
        duration_cast<Millis>(seconds(10)), duration_cast<Millis>(minutes(1)),
        duration_cast<Millis>(minutes(5)),  duration_cast<Millis>(minutes(30)),
        duration_cast<Millis>(hours(2)),    duration_cast<Millis>(hours(6)),
        duration_cast<Millis>(hours(12))};
    const auto i =
        static_cast<std::size_t>(std::clamp(failed_attempts, 1, static_cast<int>(kSchedule.size())) - 1);
    const double scale = 0.8 + 0.4 * std::clamp(jitter, 0.0, 1.0);
    return Millis{static_cast<Millis::rep>(static_cast<double>(kSchedule[i].count()) * scale)};
}

Result<SendReport> send_due(SendParts parts, TimePoint now, int max_rounds) {
    SendReport report;
    const Settings& settings = parts.settings;
    const std::int64_t t = to_epoch_ms(now);
    // Leased past the longest attempt: a crash mid-attempt retries it then (receivers de-duplicate by
    // X-Pvfleet-Delivery).
    const std::int64_t lease = to_epoch_ms(now + settings.limits.total_timeout + std::chrono::minutes(1));
    for (int round = 0; round < max_rounds; ++round) {
        auto due = parts.db.run(
            "SELECT d.id, d.webhook_id, d.event_name, d.body, d.attempts, d.next_attempt_at_ms, w.url, "
            "w.secret "
            "FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id "
            "WHERE d.state = 'pending' AND d.next_attempt_at_ms <= $1 AND w.enabled = 1 "
            "ORDER BY d.next_attempt_at_ms, d.id LIMIT $2",
            {t, std::int64_t{std::max(1, settings.limits.concurrency)}});
        if (!due) return due.error();
        if (due->rows.empty()) break;
        std::vector<Job> jobs;
        for (const auto& row : due->rows) {
            auto claimed = parts.db.run(
                "UPDATE webhook_deliveries SET next_attempt_at_ms = $1 WHERE id = $2 AND state = 'pending' "
                "AND "
                "next_attempt_at_ms = $3",
                {lease, row.integer(0), row.integer(5)});
            if (!claimed) return claimed.error();
            if (claimed->affected == 0) continue;  // another sender has it
            Job job;
            job.delivery_id = row.integer(0);
            job.webhook_id = row.integer(1);
            job.event_name = row.text(2);
            job.body = row.text(3);
            job.attempts = static_cast<int>(row.integer(4));
            job.url = row.text(6);
            if (auto secret = parts.cipher.decrypt(row.text(7)))
                job.secret = std::move(*secret);
            else
                job.setup_error = "the secret cannot be decrypted (another secret key?): set a new one";
            jobs.push_back(std::move(job));
        }
        if (jobs.empty()) continue;
        // The attempts at once, each on a thread of its own (at most limits.concurrency); no database here.
        std::vector<std::thread> threads;
        for (std::size_t i = 1; i < jobs.size(); ++i)
            threads.emplace_back([&, i] { attempt(jobs[i], settings, parts.poster); });
        attempt(jobs[0], settings, parts.poster);
        for (auto& th : threads) th.join();
        for (const Job& job : jobs) {
            auto done = storage::in_transaction(parts.db, [&]() -> Status {
                return record(parts.db, settings, job, now, parts.jitter(), report);
            });
            if (!done) return done.error();
            PVF_LOG(debug, "webhooks",
                    "delivery " << job.delivery_id << " (" << job.event_name << ") to webhook "
                                << job.webhook_id << ": " << describe(job.outcome));
        }
    }
    return report;
}

Sender::Sender(std::unique_ptr<storage::Db> db, records::FieldCipher cipher, Settings settings,
               std::unique_ptr<Poster> poster, const Clock& clock)
    : db_(std::move(db)),
      cipher_(std::move(cipher)),
      settings_(settings),
      poster_(std::move(poster)),
      clock_(clock) {}

Sender::~Sender() {
    stop();
}

void Sender::start() {
    thread_ = std::thread([this] { run(); });
}

void Sender::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_one();
}

void Sender::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void Sender::run() {
    std::mt19937_64 rng{std::random_device{}()};
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    auto next_purge = std::chrono::steady_clock::now();
    for (;;) {
        {
            std::unique_lock lock(mutex_);
            cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || woken_; });
            if (stopping_) return;
            woken_ = false;
        }
        auto sent =
            send_due({*db_, cipher_, settings_, *poster_, [&] { return uniform(rng); }}, clock_.now());
        if (!sent)
            PVF_LOG(warn, "webhooks", "sending deliveries: " << sent.error().message);
        else if (sent->attempted > 0)
            PVF_LOG(info, "webhooks",
                    sent->attempted << " attempt(s): " << sent->delivered << " delivered, " << sent->failed
                                    << " failed (" << sent->gave_up << " given up), " << sent->disabled
                                    << " webhook(s) disabled");
        if (std::chrono::steady_clock::now() >= next_purge) {
            next_purge = std::chrono::steady_clock::now() + std::chrono::hours(1);
            auto purged = purge_deliveries(*db_, settings_, clock_.now());
            if (!purged)
                PVF_LOG(warn, "webhooks", "delivery log retention: " << purged.error().message);
            else if (*purged > 0)
                PVF_LOG(info, "webhooks", *purged << " delivery(ies) past their retention deleted");
        }
    }
}

}  // namespace pvfleet::webhooks
