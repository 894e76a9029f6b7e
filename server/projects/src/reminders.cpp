// The stall-rule engine and its scheduler.
#include "pvfleet/projects/reminders.hpp"

#include <nlohmann/json.hpp>

#include "pvfleet/projects/contracts.hpp"
#include "pvfleet/projects/handover.hpp"
#include "pvfleet/projects/project.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::projects {
namespace {

using storage::Row;

// An open milestone a rule names, with what deciding needs.
struct Candidate {
    std::int64_t milestone_id = 0, project_id = 0;
    std::optional<std::string> owner;  // the milestone's owner, else the project's manager
    std::optional<TimePoint> snoozed_until;
    std::string milestone_title, project_name, stage;
    std::optional<TimePoint> start;  // when the rule's days start counting; nullopt: not yet
    bool sent[2] = {false, false};   // levels 1 and 2 recorded already
};

Result<std::vector<Candidate>> candidates(storage::Db& db, const StallRule& rule) {
    auto r = db.run(
        "SELECT m.id, m.project_id, COALESCE(m.owner, p.manager), m.snoozed_until_ms, m.title, p.name, "
        "p.stage, "
        "p.stage_since_ms, m.stage, a.done_on, r1.id, r2.id FROM project_milestones m JOIN projects p ON "
        "p.id = "
        "m.project_id LEFT JOIN project_milestones a ON a.project_id = m.project_id AND a.mkey = $2 LEFT "
        "JOIN "
        "reminders r1 ON r1.rule = $3 AND r1.milestone_id = m.id AND r1.level = 1 LEFT JOIN reminders r2 ON "
        "r2.rule = $3 AND r2.milestone_id = m.id AND r2.level = 2 WHERE m.mkey = $1 AND m.done_on IS NULL "
        "AND "
        "p.status = 'active' ORDER BY m.id",
        {rule.milestone, rule.after, rule.name});
    if (!r) return r.error();
    std::vector<Candidate> out;
    for (const Row& row : r->rows) {
        Candidate c;
        c.milestone_id = row.integer(0);
        c.project_id = row.integer(1);
        c.owner = row.opt_text(2);
        if (!row.is_null(3)) c.snoozed_until = from_epoch_ms(row.integer(3));
        c.milestone_title = row.text(4);
        c.project_name = row.text(5);
        c.stage = row.text(8);
        if (!rule.after.empty()) {
            if (auto done = row.opt_text(9)) c.start = day_start(*done);
        } else if (row.text(6) == row.text(8)) {
            c.start = from_epoch_ms(row.integer(7));  // the milestone's stage is the project's current one
        }
        c.sent[0] = !row.is_null(10);
        c.sent[1] = !row.is_null(11);
        out.push_back(std::move(c));
    }
    return out;
}

Result<std::optional<std::string>> supervisor_of(storage::Db& db, const std::string& user) {
    auto r = db.run("SELECT supervisor FROM users WHERE name = $1 AND disabled = 0", {user});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<std::string>{};
    return r->rows[0].opt_text(0);
}

// Records level `level` of `rule` for the candidate and appends its event, in one transaction; false when
// another server (or an earlier pass) recorded it first.
Result<bool> send(storage::Db& db, const StallRule& rule, const Candidate& c, int level,
                  const std::vector<std::string>& recipients, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Result<bool> {
        auto r = db.run(
            "INSERT INTO reminders (rule, milestone_id, level, project_id, recipients, sent_at_ms) VALUES "
            "($1, $2, "
            "$3, $4, $5, $6) ON CONFLICT (rule, milestone_id, level) DO NOTHING RETURNING id",
            {rule.name, c.milestone_id, std::int64_t{level}, c.project_id, nlohmann::json(recipients).dump(),
             std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        if (r->rows.empty()) return false;
        storage::NewEvent event;
        event.name = level == 1 ? "milestone.overdue" : "milestone.escalated";
        event.occurred_at = now;
        event.recipients = recipients;
        // `after`: the milestone whose completion started the count, else the stage the milestone belongs to.
        event.data = {{"project_id", c.project_id},
                      {"project", c.project_name},
                      {"milestone_id", c.milestone_id},
                      {"milestone", c.milestone_title},
                      {"rule", rule.name},
                      {"level", level},
                      {"days", rule.after_days + (level == 2 ? rule.escalate_after_days : 0)},
                      {"after", rule.after.empty() ? c.stage : rule.after},
                      {"owner", c.owner ? nlohmann::json(*c.owner) : nlohmann::json(nullptr)}};
        if (auto e = storage::append_event(db, event); !e) return e.error();
        return true;
    });
}

}  // namespace

Result<EvaluationReport> evaluate_stall_rules(storage::Db& db, const ReminderSettings& settings, TimePoint now) {
    EvaluationReport report;
    for (const auto& rule : settings.rules) {
        if (rule.kind == RuleKind::payment_overdue) {
            if (auto p = evaluate_payment_rule(db, rule, now, report); !p) return p.error();
            continue;
        }
        auto list = candidates(db, rule);
        if (!list) return list.error();
        for (const auto& c : *list) {
            ++report.checked;
            if (!c.start || (c.snoozed_until && *c.snoozed_until > now)) continue;
            for (int level = 1; level <= 2; ++level) {
                if (c.sent[level - 1]) continue;
                const int days = rule.after_days + (level == 2 ? rule.escalate_after_days : 0);
                if (now < *c.start + std::chrono::days{days}) break;
                std::vector<std::string> to;
                if (c.owner && level == 1) to.push_back(*c.owner);
                if (c.owner && level == 2) {
                    auto sup = supervisor_of(db, *c.owner);
                    if (!sup) return sup.error();
                    if (*sup) to.push_back(**sup);
                }
                if (to.empty()) {
                    ++report.no_recipient;
                    continue;
                }
                auto sent = send(db, rule, c, level, to, now);
                if (!sent) return sent.error();
                if (*sent) ++report.sent;
            }
        }
    }
    return report;
}

Result<std::vector<Reminder>> reminders_of_project(storage::Db& db, std::int64_t project_id) {
    auto r = db.run(
        "SELECT id, rule, project_id, milestone_id, level, recipients, sent_at_ms FROM reminders WHERE "
        "project_id = "
        "$1 ORDER BY id",
        {project_id});
    if (!r) return r.error();
    std::vector<Reminder> out;
    for (const Row& row : r->rows) {
        Reminder m;
        m.id = row.integer(0);
        m.rule = row.text(1);
        m.project_id = row.integer(2);
        m.milestone_id = row.integer(3);
        m.level = static_cast<int>(row.integer(4));
        const auto to = nlohmann::json::parse(row.text(5), nullptr, false);
        if (to.is_array())
            for (const auto& t : to)
                if (t.is_string()) m.recipients.push_back(t.get<std::string>());
        m.sent_at = from_epoch_ms(row.integer(6));
        out.push_back(std::move(m));
    }
    return out;
}

ReminderScheduler::ReminderScheduler(TimeSystem& time, storage::Db& db, ReminderSettings settings,
                                     std::optional<ProjectSettings> handover)
    : time_(time),
      db_(db),
      settings_(std::move(settings)),
      handover_(std::move(handover)),
      timer_(time.make_timer()) {}

void ReminderScheduler::start() {
    run_once();
}

void ReminderScheduler::stop() {
    timer_->cancel();
}

void ReminderScheduler::run_once() {
    ++passes_;
    // The handover first: a project commissioned now is no longer late for it.
    if (handover_) {
        auto h = run_handover_pass(db_, *handover_, time_.now());
        if (!h) PVF_LOG(warn, "server", "handover: " << h.error().message);
    }
    auto r = evaluate_stall_rules(db_, settings_, time_.now());
    if (!r) {
        PVF_LOG(warn, "server", "reminders: " << r.error().message);
    } else {
        last_ = *r;
        if (r->sent > 0) PVF_LOG(info, "server", "reminders: " << r->sent << " sent");
    }
    timer_->arm(std::chrono::seconds(settings_.check_interval_s), [this] { run_once(); });
}

}  // namespace pvfleet::projects
