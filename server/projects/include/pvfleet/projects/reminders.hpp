#pragma once
// Stall rules and where reminders go (docs/projects.md, "Reminders"). The engine evaluates every rule against
// every open milestone it names; each reminder is recorded once per (rule, milestone, level) under a unique
// key in the database — so two servers, or a restart, never send one twice — and handed to the notification
// sink in the same transaction. The scheduler runs the engine every `reminders.check_interval_s` on an
// injected TimeSystem (the server's executor; a SimulatedTimeSystem in tests).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/projects/settings.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/time_system.hpp"

namespace pvfleet::projects {

// One message to one user.
struct Notification {
    std::int64_t id = 0;
    std::string recipient;  // a user name
    std::string event;      // "milestone.overdue" (level 1), "milestone.escalated" (level 2)
    std::string title;
    std::string body;
    std::optional<std::int64_t> project_id, milestone_id;
    TimePoint created_at;
    std::optional<TimePoint> read_at;
};

// Where notifications go: the narrow seam for the in-app inbox now, e-mail and webhooks later. deliver() runs
// inside the transaction that records the reminder: a sink that talks to the outside world queues there (an
// outbox row) and sends after the commit, so a rolled-back reminder is never sent.
class NotificationSink {
public:
    virtual ~NotificationSink() = default;
    virtual Status deliver(storage::Db& db, const Notification& n) = 0;
};

// The in-app inbox: a row of `notifications` per recipient.
class InboxSink final : public NotificationSink {
public:
    Status deliver(storage::Db& db, const Notification& n) override;
};

// The inbox of a user, newest first (keyset paging below `before_id`, 0: from the top).
Result<std::vector<Notification>> list_inbox(storage::Db& db, const std::string& user, bool unread_only,
                                             std::int64_t before_id, int limit);
Result<std::int64_t> unread_count(storage::Db& db, const std::string& user);
// Marks one notification of `user` read (not_found for another's); idempotent.
Status mark_read(storage::Db& db, const std::string& user, std::int64_t id, TimePoint now);
Result<std::int64_t> mark_all_read(storage::Db& db, const std::string& user, TimePoint now);

// A reminder as recorded.
struct Reminder {
    std::int64_t id = 0;
    std::string rule;
    std::int64_t project_id = 0, milestone_id = 0;
    int level = 1;
    std::vector<std::string> recipients;
    TimePoint sent_at;
};
Result<std::vector<Reminder>> reminders_of_project(storage::Db& db, std::int64_t project_id);

struct EvaluationReport {
    int checked = 0;       // (rule, milestone) pairs looked at
    int sent = 0;          // reminders recorded now
    int no_recipient = 0;  // due, but nobody to tell (no owner; no supervisor for an escalation)
};
// One pass of every rule at `now`: each due level not yet recorded is recorded and delivered, each in its own
// transaction. Milestones of cancelled or on-hold projects, done milestones and snoozed ones are skipped.
Result<EvaluationReport> evaluate_stall_rules(storage::Db& db, const ReminderSettings& settings,
                                              NotificationSink& sink, TimePoint now);

// Runs evaluate_stall_rules at start() and then every check_interval_s on `time`'s timers — and, given the
// project settings, the handover pass (handover.hpp) first; a failed pass is logged and the next one tried.
// The Db is used only from the timer's callbacks (the server's API executor).
class ReminderScheduler {
public:
    ReminderScheduler(TimeSystem& time, storage::Db& db, ReminderSettings settings, NotificationSink& sink,
                      std::optional<ProjectSettings> handover = std::nullopt);
    void start();
    void stop();
    [[nodiscard]] const EvaluationReport& last() const { return last_; }
    [[nodiscard]] int passes() const { return passes_; }

private:
    void run_once();
    TimeSystem& time_;
    storage::Db& db_;
    ReminderSettings settings_;
    NotificationSink& sink_;
    std::optional<ProjectSettings> handover_;
    std::unique_ptr<Timer> timer_;
    EvaluationReport last_;
    int passes_ = 0;
};

}  // namespace pvfleet::projects
