#pragma once
// E-mail (docs/notifications.md): the consumer that renders an e-mail per recipient into the outbox, the MIME
// message, the SMTP config, the mailer seam (libcurl's SMTP in production), the delivery pass (quiet hours,
// retries with backoff, nothing lost across a restart) and the sender thread that runs it off the API's
// executor on a database connection of its own.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::notifications {

// ---- the message ----

// An RFC 2047 encoded-word ("=?UTF-8?B?…?=", in pieces of whole characters, folded) for text that is not
// printable ASCII; printable ASCII as it is.
std::string encode_header_text(std::string_view text);

struct MailMessage {
    std::string from, to, subject, body;
    TimePoint date;
    std::string message_id;  // without the angle brackets: "<id>@<host>"
};
// The whole message: From, To, Subject (encoded-word when needed), Date (RFC 5322, UTC), Message-ID,
// MIME-Version, Content-Type text/plain; charset=UTF-8, Content-Transfer-Encoding base64,
// Auto-Submitted: auto-generated; CRLF line ends. Refuses a From, To or Subject with CR or LF.
Result<std::string> build_message(const MailMessage& message);

// ---- the SMTP config (section `smtp`) ----

struct SmtpConfig {
    std::string
        url;  // smtp://host[:port] (STARTTLS when offered; required when credentials are set) or smtps://
    std::string from;  // the sender address
    std::string username;
    std::string password_file;  // read at start; the password is never logged nor shown
    std::string ca_file;        // optional: the CA bundle to check the server's certificate against
    std::string ca_path;        // optional: a folder of hashed CA certificates
    bool require_tls = false;   // smtp://: refuse to send without STARTTLS (always so with a username)
    int timeout_s = 30;
    int max_attempts = 8;    // then the e-mail is marked failed
    int first_retry_s = 60;  // doubled after each failure, at most 6 h
};
// Every error at its key path under `smtp/`; relative file names are read from `base_dir`.
Result<SmtpConfig> parse_smtp_config(const nlohmann::json& section, const std::filesystem::path& base_dir);
nlohmann::json describe(const SmtpConfig& config);  // the password file's path, never the password

// ---- sending ----

// The seam between the delivery pass and the network.
class Mailer {
public:
    virtual ~Mailer() = default;
    virtual Status send(const std::string& from, const std::string& to, const std::string& message) = 0;
};

// libcurl's SMTP client. create() reads the password file.
class SmtpMailer final : public Mailer {
public:
    static Result<std::unique_ptr<SmtpMailer>> create(const SmtpConfig& config);
    Status send(const std::string& from, const std::string& to, const std::string& message) override;

private:
    explicit SmtpMailer(SmtpConfig config, std::string password)
        : config_(std::move(config)), password_(std::move(password)) {}
    SmtpConfig config_;
    std::string password_;
};

// ---- the outbox ----

// Writes one outbox row per recipient who is active, wants e-mail for the event and has an address; the text
// rendered in their language with a link into the web app when `public_url` is set. Unique per (event,
// recipient): a repeated event writes nothing twice.
class EmailConsumer final : public storage::EventConsumer {
public:
    explicit EmailConsumer(std::string public_url) : public_url_(std::move(public_url)) {}
    [[nodiscard]] std::string_view consumer_name() const override { return "email"; }
    Status consume(storage::Db& db, const storage::Event& event, TimePoint now) override;

private:
    std::string public_url_;
};

enum class EmailState { pending, sent, failed };
std::string_view to_string(EmailState state);

struct OutboxEmail {
    std::int64_t id = 0, event_id = 0;
    std::string recipient, address, subject, body, message_id;
    EmailState state = EmailState::pending;
    int attempts = 0;
    std::optional<std::string> last_error;
    TimePoint created_at, due_at;
    std::optional<TimePoint> sent_at;
};
Result<std::vector<OutboxEmail>> list_outbox(storage::Db& db, int limit);

struct RetryPolicy {
    int max_attempts = 8;
    std::chrono::seconds first_retry{60};
    std::chrono::seconds longest_retry{std::chrono::hours(6)};
    std::chrono::seconds lease{
        std::chrono::minutes(10)};  // a claimed e-mail's time to be sent before retried
};

struct DeliveryReport {
    int sent = 0;
    int retrying = 0;  // failed this time, due again after the backoff
    int failed = 0;    // failed for the last allowed time
    int deferred = 0;  // due in the recipient's quiet hours: moved to their end
};
// One pass over the e-mails due at `now` (up to `limit`): each is claimed (its due time moved a lease ahead,
// so another server or a crash leaves it to be retried, not lost or sent by two), deferred to the end of the
// recipient's quiet hours if it falls in them, else built and sent; then marked sent, or due again after a
// backoff with the error kept, or failed after max_attempts.
Result<DeliveryReport> deliver_due_emails(storage::Db& db, Mailer& mailer, const std::string& from,
                                          TimePoint now, const RetryPolicy& policy, int limit = 50);

// Runs deliver_due_emails every `interval` (and at once on wake()) on a thread of its own, with a database
// connection of its own: the network never blocks the API's executor.
class EmailSender {
public:
    EmailSender(std::unique_ptr<storage::Db> db, std::unique_ptr<Mailer> mailer, std::string from,
                const Clock& clock, RetryPolicy policy, Millis interval = std::chrono::seconds(5));
    ~EmailSender();
    EmailSender(const EmailSender&) = delete;
    EmailSender& operator=(const EmailSender&) = delete;
    void start();
    void wake();
    void stop();  // waits for a send under way; idempotent

private:
    void run();
    std::unique_ptr<storage::Db> db_;
    std::unique_ptr<Mailer> mailer_;
    std::string from_;
    const Clock& clock_;
    RetryPolicy policy_;
    Millis interval_;
    std::mutex mutex_;
    std::condition_variable cv_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace pvfleet::notifications
