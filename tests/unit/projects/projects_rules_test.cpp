// The projects' rules without a database: days, stages, colours, templates and stall rules as config.
#include <doctest/doctest.h>

#include "pvfleet/projects/project.hpp"
#include "pvfleet/projects/settings.hpp"
#include "pvfleet/util/time.hpp"

using namespace pvfleet;
using namespace pvfleet::projects;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

const TimePoint kT0 = from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z

Milestone planned(const std::string& stage, const std::string& key, std::optional<std::string> on,
                  std::optional<std::string> done = std::nullopt) {
    Milestone m;
    m.project_id = 1;
    m.stage = stage;
    m.key = key;
    m.planned_on = std::move(on);
    m.done_on = std::move(done);
    return m;
}

}  // namespace

TEST_CASE("projects: calendar days") {
    CHECK(day_start("2026-07-01") == kT0);
    CHECK(!day_start("2026-02-30"));
    CHECK(!day_start("2026-7-1"));
    CHECK(!day_start("2026-07-01T00"));
    CHECK(date_of(kT0 + 23h + 59min) == "2026-07-01");
    CHECK(add_days("2026-07-01", 7) == "2026-07-08");
    CHECK(add_days("2026-12-30", 3) == "2027-01-02");
    CHECK(add_days("2026-03-01", -1) == "2026-02-28");
}

TEST_CASE("projects: the current stage is the first with a milestone not done; the last when all are") {
    const auto settings = default_project_settings();
    const Template& t = settings.templates.front();
    REQUIRE(t.stages.size() == 9);
    CHECK(t.stages.front().key == "inquiry");
    CHECK(t.stages.back().key == "om");
    std::vector<Milestone> ms;
    for (const auto& s : t.stages)
        for (const auto& m : s.milestones) ms.push_back(planned(s.key, m.key, std::nullopt));
    CHECK(current_stage(t, ms) == "inquiry");
    ms[0].done_on = "2026-07-01";
    CHECK(current_stage(t, ms) == "site_survey");
    // A later stage done out of order does not skip an earlier one.
    for (auto& m : ms)
        if (m.stage == "installation") m.done_on = "2026-07-02";
    CHECK(current_stage(t, ms) == "site_survey");
    for (auto& m : ms) m.done_on = "2026-07-03";
    CHECK(current_stage(t, ms) == "om");  // O&M has no milestone: where a finished project stays
    // One of the two grid-application milestones open: that stage.
    for (auto& m : ms)
        if (m.key == "grid_application_approved") m.done_on.reset();
    CHECK(current_stage(t, ms) == "grid_application");
}

TEST_CASE("projects: colours — red past the deadline, yellow in the last quarter of the window, else green") {
    // The stage began on 07-01 00:00; the milestone is planned for 07-08, so its deadline is 07-09 00:00 and
    // its window 8 days: yellow from 07-07 00:00 (2 days left), red after 07-09 00:00.
    const Milestone m = planned("s", "m", "2026-07-08");
    REQUIRE(deadline_of(m) == kT0 + 8 * 24h);
    // A sweep over the window, hour by hour: each instant's colour from the definition, counted.
    int green = 0, yellow = 0, red = 0;
    for (auto t = kT0; t <= kT0 + 10 * 24h; t += 1h) {
        const Colour c = milestone_colour(m, kT0, t);
        const Colour expected = t > kT0 + 8 * 24h    ? Colour::red
                                : t >= kT0 + 6 * 24h ? Colour::yellow
                                                     : Colour::green;
        CHECK_MESSAGE(c == expected, format_iso8601(t));
        (c == Colour::green ? green : c == Colour::yellow ? yellow : red)++;
    }
    CHECK(green == 6 * 24);
    CHECK(yellow == 2 * 24 + 1);  // both ends of the last quarter
    CHECK(red == 2 * 24);
    // Done, or without a planned date: green whatever the time.
    CHECK(milestone_colour(planned("s", "m", "2026-07-08", "2026-07-20"), kT0, kT0 + 30 * 24h) ==
          Colour::green);
    CHECK(milestone_colour(planned("s", "m", std::nullopt), kT0, kT0 + 30 * 24h) == Colour::green);
    // A deadline at or before the stage began (a date set in the past): yellow until it passes, then red.
    CHECK(milestone_colour(planned("s", "m", "2026-06-30"), kT0 + 1h, kT0 + 1h) == Colour::red);
    CHECK(milestone_colour(planned("s", "m", "2026-07-01"), kT0 + 24h, kT0 + 24h) == Colour::yellow);
}

TEST_CASE("projects: a card takes the worst colour of its current stage's milestones") {
    Project p;
    p.id = 1;
    p.stage = "grid_application";
    p.stage_since = kT0;
    std::vector<Milestone> ms{
        planned("grid_application", "a", "2026-07-20"), planned("grid_application", "b", "2026-07-03"),
        planned("installation", "c", "2026-06-01")};  // another stage: not this card's colour
    CHECK(project_colour(p, ms, kT0 + 12h) == Colour::green);
    CHECK(project_colour(p, ms, kT0 + 2 * 24h + 12h) == Colour::yellow);
    CHECK(project_colour(p, ms, kT0 + 3 * 24h + 1h) == Colour::red);
    ms[1].done_on = "2026-07-03";
    CHECK(project_colour(p, ms, kT0 + 3 * 24h + 1h) == Colour::green);
}

TEST_CASE("projects: defaults — the residential template and the grid-application rule") {
    const auto s = default_project_settings();
    CHECK(s.default_template == "residential");
    const auto r = default_reminder_settings();
    CHECK(r.check_interval_s == 60);
    REQUIRE(r.rules.size() == 2);
    CHECK(r.rules[0].kind == RuleKind::milestone);
    CHECK(r.rules[0].milestone == "grid_application_approved");
    CHECK(r.rules[0].after == "grid_application_submitted");
    CHECK(r.rules[0].after_days == 7);
    CHECK(r.rules[0].escalate_after_days == 0);
    CHECK(r.rules[1].kind == RuleKind::payment_overdue);
    CHECK(r.rules[1].name == "payment_overdue");
    CHECK(r.rules[1].after_days == 7);
    CHECK(r.rules[1].escalate_after_days == 7);
    // The defaults pass their own checks.
    CHECK(parse_reminder_settings(json{{"rules", json::array({{{"name", "grid_application_pending"},
                                                               {"milestone", "grid_application_approved"},
                                                               {"after", "grid_application_submitted"}}})}},
                                  s));
}

TEST_CASE("projects: a custom template and rule are read as given") {
    const auto p = parse_project_settings(json::parse(R"({"templates": [{"name": "small", "stages": [
        {"key": "sale", "milestones": [{"key": "signed", "owner": "sales", "due_days": 3,
                                        "checklist": ["ID checked"], "required_documents": ["signed_contract"]}]},
        {"key": "build", "title": "Build", "milestones": [{"key": "built", "due_days": 30}]},
        {"key": "om"}]}]})"));
    REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
    CHECK(p->default_template == "small");
    const Template& t = p->templates.front();
    CHECK(t.stages.size() == 3);
    CHECK(t.stage("sale")->title == "sale");
    CHECK(t.milestone("signed")->owner == "sales");
    CHECK(t.milestone("signed")->checklist == std::vector<std::string>{"ID checked"});
    CHECK(t.milestone("built")->due_days == 30);
    const auto r = parse_reminder_settings(
        json::parse(R"({"check_interval_s": 5, "rules": [{"name": "build_slow", "milestone": "built",
                       "after": "signed", "after_days": 20, "escalate_after_days": 5}]})"),
        *p);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    CHECK(r->check_interval_s == 5);
    CHECK(r->rules.at(0).escalate_after_days == 5);
    const auto pay = parse_reminder_settings(
        json::parse(
            R"({"rules": [{"name": "late", "kind": "payment_overdue", "after_days": 3, "escalate_after_days": 2}]})"),
        *p);
    REQUIRE_MESSAGE(pay, (pay ? "" : pay.error().message));
    CHECK(pay->rules.at(0).kind == RuleKind::payment_overdue);
    CHECK(pay->rules.at(0).after_days == 3);
    CHECK(pay->rules.at(0).escalate_after_days == 2);
}

TEST_CASE("projects: bad `projects` and `reminders` sections give errors at their key paths (golden)") {
    const struct {
        const char* projects;
        const char* reminders;
        const char* error;
    } cases[] = {
        {R"({"templates": []})", nullptr, "projects/templates: expected at least one template"},
        {R"({"templates": [{"name": "a", "stages": [{"key": "s", "milestones": [{"key": "m"}, {"key": "m"}]}]}]})",
         nullptr, "projects/templates/0/stages/0/milestones/1/key: 'm' appears twice in this template"},
        {R"({"templates": [{"name": "a", "stages": [{"key": "S 1"}]}]})", nullptr,
         "projects/templates/0/stages/0/key: expected lower-case letters, digits and '_' (at most 64)"},
        {R"({"templates": [{"name": "a", "stages": [{"key": "s", "milestones": [{"key": "m", "owner": "boss"}]}]}]})",
         nullptr,
         "projects/templates/0/stages/0/milestones/0/owner: unknown 'boss' (expected project_manager, "
         "sales)"},
        {R"({"templates": [{"name": "a", "stages": [{"key": "s", "milestones": [{"key": "m", "due_days": -1}]}]}]})",
         nullptr, "projects/templates/0/stages/0/milestones/0/due_days: expected an integer in 0..3650"},
        {R"({"templates": [{"name": "a", "stages": [{"key": "s", "colour": "red"}]}]})", nullptr,
         "projects/templates/0/stages/0/colour: unknown key (expected key, milestones, title)"},
        {R"({"templates": [{"name": "a", "stages": []}]})", nullptr,
         "projects/templates/0/stages: expected at least one stage"},
        {R"({"default_template": "big"})", nullptr, "projects/default_template: unknown template 'big'"},
        {"{}", R"({"check_interval_s": 0})", "reminders/check_interval_s: expected an integer in 1..86400"},
        {"{}", R"({"rules": [{"name": "r", "milestone": "nope"}]})",
         "reminders/rules/0/milestone: no template has a milestone 'nope'"},
        {"{}", R"({"rules": [{"name": "r", "milestone": "survey_done", "after": "nope"}]})",
         "reminders/rules/0/after: no template has a milestone 'nope'"},
        {"{}", R"({"rules": [{"name": "r", "milestone": "survey_done", "after": "survey_done"}]})",
         "reminders/rules/0/after: a milestone cannot wait for itself"},
        {"{}",
         R"({"rules": [{"name": "r", "milestone": "survey_done"}, {"name": "r", "milestone": "quote_sent"}]})",
         "reminders/rules/1/name: 'r' appears twice"},
        {"{}", R"({"rules": [{"milestone": "survey_done"}]})", "reminders/rules/0/name: required"},
        {"{}", R"({"rules": [{"name": "r", "milestone": "survey_done", "after_days": "7"}]})",
         "reminders/rules/0/after_days: expected an integer in 0..3650"},
        {"{}", R"({"rules": [{"name": "r", "kind": "payment_overdue", "milestone": "survey_done"}]})",
         "reminders/rules/0/milestone: not a member of a payment_overdue rule"},
        {"{}", R"({"rules": [{"name": "r", "kind": "invoice"}]})",
         "reminders/rules/0/kind: unknown 'invoice' (expected milestone, payment_overdue)"},
        {"{}", R"({"rules": [{"name": "r", "after_days": 3}]})", "reminders/rules/0/milestone: required"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.projects);
        CAPTURE((c.reminders ? c.reminders : ""));
        auto p = parse_project_settings(json::parse(c.projects));
        if (c.reminders == nullptr) {
            REQUIRE(!p);
            CHECK(p.error().message == c.error);
            continue;
        }
        REQUIRE(p);
        auto r = parse_reminder_settings(json::parse(c.reminders), *p);
        REQUIRE(!r);
        CHECK(r.error().message == c.error);
    }
}
