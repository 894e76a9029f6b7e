#pragma once
// Stall rules and where reminders go (docs/projects.md, "Reminders"). The engine evaluates every rule against
// every open milestone it names; each reminder is recorded once per (rule, milestone, level) under a unique key
// in the database — so two servers, or a restart, never send one twice — and appended to the event log in the
// same transaction (milestone.overdue, milestone.escalated: storage/events.hpp), with its recipients; the
// notifications module's consumers turn the event into inbox rows and e-mails. The scheduler runs the engine every `reminders.check_interval_s` on an injected
// TimeSystem (the server's executor; a SimulatedTimeSystem in tests).
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/projects/settings.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/time_system.hpp"

namespace pvfleet::projects {

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
// One pass of every rule at `now`: each due level not yet recorded is recorded and its event appended, each in
// its own transaction. Milestones of cancelled or on-hold projects, done milestones and snoozed ones are skipped.
Result<EvaluationReport> evaluate_stall_rules(storage::Db& db, const ReminderSettings& settings, TimePoint now);

// Runs evaluate_stall_rules at start() and then every check_interval_s on `time`'s timers — and, given the
// project settings, the handover pass (handover.hpp) first; a failed pass is logged and the next one tried.
// The Db is used only from the timer's callbacks (the server's API executor).
class ReminderScheduler {
public:
    ReminderScheduler(TimeSystem& time, storage::Db& db, ReminderSettings settings,
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
    std::optional<ProjectSettings> handover_;
    std::unique_ptr<Timer> timer_;
    EvaluationReport last_;
    int passes_ = 0;
};

}  // namespace pvfleet::projects
