// The e-mail outbox: the consumer that fills it, the delivery pass and the sender thread.
#include <algorithm>

#include "pvfleet/notifications/catalogue.hpp"
#include "pvfleet/notifications/email.hpp"
#include "pvfleet/notifications/settings.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::notifications {

std::string_view to_string(EmailState state) {
    switch (state) {
        case EmailState::pending:
            return "pending";
        case EmailState::sent:
            return "sent";
        case EmailState::failed:
            return "failed";
    }
    return "pending";
}

Status EmailConsumer::consume(storage::Db& db, const storage::Event& event, TimePoint now) {
    for (const auto& name : event.recipients) {
        PVF_TRY(const Recipient to, recipient_for(db, name, event.name));
        if (!to.active || !to.channels.email || !to.email) continue;
        // Stored addresses were checked on input; one that is not (edited by hand) is skipped, never sent.
        if (auto ok = check_email_address(*to.email); !ok) {
            PVF_LOG(warn, "notifications", "user " << name << ": " << ok.error().message << "; no e-mail");
            continue;
        }
        const Rendered text = render_event(event, to.language, public_url_);
        auto r = db.run(
            "INSERT INTO email_outbox (event_id, recipient, address, subject, body, message_id, state, "
            "attempts, "
            "created_at_ms, due_at_ms) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $7) ON CONFLICT "
            "(event_id, recipient) DO NOTHING",
            {event.id, name, *to.email, text.subject, text.body,
             "pvfleet.event-" + std::to_string(event.id) + "." + name, std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
    }
    return {};
}

Result<std::vector<OutboxEmail>> list_outbox(storage::Db& db, int limit) {
    if (limit < 1 || limit > 1000) return Error::at("limit", "must be between 1 and 1000");
    auto r = db.run(
        "SELECT id, event_id, recipient, address, subject, body, message_id, state, attempts, last_error, "
        "created_at_ms, due_at_ms, sent_at_ms FROM email_outbox ORDER BY id LIMIT $1",
        {std::int64_t{limit}});
    if (!r) return r.error();
    std::vector<OutboxEmail> out;
    for (const auto& row : r->rows) {
        OutboxEmail e;
        e.id = row.integer(0);
        e.event_id = row.integer(1);
        e.recipient = row.text(2);
        e.address = row.text(3);
        e.subject = row.text(4);
        e.body = row.text(5);
        e.message_id = row.text(6);
        const std::string state = row.text(7);
        e.state = state == "sent"     ? EmailState::sent
                  : state == "failed" ? EmailState::failed
                                      : EmailState::pending;
        e.attempts = static_cast<int>(row.integer(8));
        e.last_error = row.opt_text(9);
        e.created_at = from_epoch_ms(row.integer(10));
        e.due_at = from_epoch_ms(row.integer(11));
        if (!row.is_null(12)) e.sent_at = from_epoch_ms(row.integer(12));
        out.push_back(std::move(e));
    }
    return out;
}

namespace {

std::chrono::seconds backoff(const RetryPolicy& policy, int attempts) {
    auto wait = policy.first_retry;
    for (int i = 1; i < attempts && wait < policy.longest_retry; ++i) wait *= 2;
    return std::min(wait, policy.longest_retry);
}

std::string domain_of(const std::string& address) {
    const auto at = address.rfind('@');
    return at == std::string::npos ? std::string("localhost") : address.substr(at + 1);
}

// The error as kept in the row: one line, bounded.
std::string error_text(const std::string& message) {
    std::string out = message.substr(0, 500);
    std::replace_if(
        out.begin(), out.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
    return out;
}

}  // namespace

Result<DeliveryReport> deliver_due_emails(storage::Db& db, Mailer& mailer, const std::string& from,
                                          TimePoint now, const RetryPolicy& policy, int limit) {
    const std::int64_t now_ms = to_epoch_ms(now);
    auto due = db.run(
        "SELECT o.id, o.address, o.subject, o.body, o.message_id, o.attempts, o.due_at_ms, u.time_zone, "
        "u.quiet_from, "
        "u.quiet_to FROM email_outbox o JOIN users u ON u.name = o.recipient WHERE o.state = 'pending' AND "
        "o.due_at_ms <= $1 ORDER BY o.due_at_ms, o.id LIMIT $2",
        {now_ms, std::int64_t{limit}});
    if (!due) return due.error();
    DeliveryReport report;
    for (const auto& row : due->rows) {
        const std::int64_t id = row.integer(0), due_ms = row.integer(6);
        const int attempts = static_cast<int>(row.integer(5)) + 1;
        // Quiet hours are read when the e-mail is due, so a change of them applies to what waits.
        auto quiet_from = row.opt_text(8), quiet_to = row.opt_text(9);
        if (quiet_from && quiet_to) {
            auto f = parse_clock_time(*quiet_from, "quiet_from");
            auto t = parse_clock_time(*quiet_to, "quiet_to");
            if (f && t && *f != *t) {
                auto end = end_of_quiet_hours(QuietHours{*f, *t}, row.text(7), now);
                if (end && *end > now) {
                    auto moved = db.run(
                        "UPDATE email_outbox SET due_at_ms = $3 WHERE id = $1 AND due_at_ms = $2 AND state = "
                        "'pending'",
                        {id, due_ms, std::int64_t{to_epoch_ms(*end)}});
                    if (!moved) return moved.error();
                    report.deferred += static_cast<int>(moved->affected);
                    continue;
                }
            }
        }
        // The claim: whoever moves due_at_ms first sends; a crash before the outcome is written leaves the
        // e-mail due again when the lease ends.
        auto claim = db.run(
            "UPDATE email_outbox SET due_at_ms = $3, attempts = attempts + 1 WHERE id = $1 AND due_at_ms = "
            "$2 AND "
            "state = 'pending'",
            {id, due_ms, std::int64_t{to_epoch_ms(now + policy.lease)}});
        if (!claim) return claim.error();
        if (claim->affected == 0) continue;
        MailMessage m{from, row.text(1), row.text(2), row.text(3), now, row.text(4) + "@" + domain_of(from)};
        Status sent = [&]() -> Status {
            PVF_TRY(const std::string message, build_message(m));
            return mailer.send(from, m.to, message);
        }();
        if (sent) {
            auto s = db.run(
                "UPDATE email_outbox SET state = 'sent', sent_at_ms = $2, last_error = NULL WHERE id = $1",
                {id, now_ms});
            if (!s) return s.error();
            ++report.sent;
            continue;
        }
        const bool last = attempts >= policy.max_attempts;
        PVF_LOG(warn, "notifications",
                "e-mail " << id << " to " << m.to << ": attempt " << attempts
                          << " failed: " << sent.error().message << (last ? "; giving up" : ""));
        auto s = db.run(
            "UPDATE email_outbox SET state = $2, due_at_ms = $3, last_error = $4 WHERE id = $1",
            {id, std::string(last ? "failed" : "pending"),
             std::int64_t{to_epoch_ms(now + backoff(policy, attempts))}, error_text(sent.error().message)});
        if (!s) return s.error();
        ++(last ? report.failed : report.retrying);
    }
    return report;
}

EmailSender::EmailSender(std::unique_ptr<storage::Db> db, std::unique_ptr<Mailer> mailer, std::string from,
                         const Clock& clock, RetryPolicy policy, Millis interval)
    : db_(std::move(db)),
      mailer_(std::move(mailer)),
      from_(std::move(from)),
      clock_(clock),
      policy_(policy),
      interval_(interval) {}

EmailSender::~EmailSender() {
    stop();
}

void EmailSender::start() {
    if (thread_.joinable()) return;
    thread_ = std::thread([this] { run(); });
}

void EmailSender::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    cv_.notify_one();
}

void EmailSender::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
}

void EmailSender::run() {
    for (;;) {
        auto report = deliver_due_emails(*db_, *mailer_, from_, clock_.now(), policy_);
        if (!report)
            PVF_LOG(warn, "notifications", "e-mail delivery: " << report.error().message);
        else if (report->sent > 0)
            PVF_LOG(info, "notifications", report->sent << " e-mail(s) sent");
        std::unique_lock lock(mutex_);
        cv_.wait_for(lock, interval_, [this] { return stopping_ || woken_; });
        if (stopping_) return;
        woken_ = false;
    }
}

}  // namespace pvfleet::notifications
