#include "pvfleet/workorders/workorders.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <stdexcept>

#include "pvfleet/util/time.hpp"

using namespace pvfleet;
using namespace pvfleet::workorders;
using namespace std::chrono_literals;
using domain::FaultKind;
using domain::Severity;
using domain::TicketEventKind;
using Action = Decision::Action;

namespace {

TimePoint at(std::string_view iso) {
    auto t = parse_iso8601(iso);
    REQUIRE(t.ok());
    return *t;
}

// Built from the calendar: a REQUIRE outside a test case (as in at()) has no doctest context.
const TimePoint t0 = std::chrono::sys_days{std::chrono::year{2024} / 5 / 1} + std::chrono::hours{10};
const std::string kSite = "site-42";

domain::TicketEvent ticket_event(TicketEventKind kind, Severity severity, TimePoint when,
                                 std::string id = "inv1-not_producing-20240501T100000Z",
                                 FaultKind fault = FaultKind::not_producing) {
    domain::TicketEvent e;
    e.kind = kind;
    e.at = when;
    e.ticket.id = std::move(id);
    e.ticket.device_id = "inv1";
    e.ticket.kind = fault;
    e.ticket.severity = severity;
    e.ticket.summary = "Inverter inv1 produces nothing in good sun";
    e.ticket.evidence = {{"ac_power_w", 0.0, 2400.0, "W", when}};
    e.ticket.opened_at = when;
    e.ticket.updated_at = when;
    if (kind == TicketEventKind::resolved || kind == TicketEventKind::closed) {
        e.ticket.state =
            kind == TicketEventKind::resolved ? domain::TicketState::resolved : domain::TicketState::closed;
        e.ticket.resolved_at = when;
        e.ticket.resolved_by = "auto";
    }
    return e;
}

// A stored order created from an opened event at t0 (id 7 as storage would assign).
WorkOrder created_order(Severity severity = Severity::minor, const Policy& policy = {}) {
    auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::opened, severity, t0), std::nullopt,
                             std::nullopt, t0, policy);
    REQUIRE(d.action == Action::create);
    d.result.id = 7;
    return d.result;
}

const Actor kAdmin{"ada", Role::admin};
const Actor kOffice{"olga", Role::back_office};
const Actor kTech{"tom", Role::technician};
const Actor kOtherTech{"tina", Role::technician};
const Actor kManager{"max", Role::manager};

WorkOrder in_state(WorkOrderState s, std::optional<std::string> assignee = "tom") {
    WorkOrder o = created_order();
    o.state = s;
    if (s != WorkOrderState::new_order) o.assignee = assignee;
    return o;
}

}  // namespace

TEST_CASE("enum names round trip") {
    for (auto s : {WorkOrderState::new_order, WorkOrderState::assigned, WorkOrderState::in_progress,
                   WorkOrderState::done, WorkOrderState::closed, WorkOrderState::cancelled}) {
        CHECK(parse_work_order_state(to_string(s)) == s);
    }
    CHECK(to_string(WorkOrderState::new_order) == "new");
    CHECK(to_string(WorkOrderState::in_progress) == "in_progress");
    for (auto p : {Priority::low, Priority::normal, Priority::high, Priority::urgent}) {
        CHECK(parse_priority(to_string(p)) == p);
    }
    for (auto r : {Role::admin, Role::back_office, Role::technician, Role::manager})
        CHECK(parse_role(to_string(r)) == r);
    CHECK_FALSE(parse_work_order_state("open").has_value());
    CHECK_FALSE(parse_priority("URGENT").has_value());
    CHECK(is_open(WorkOrderState::done));
    CHECK_FALSE(is_open(WorkOrderState::closed));
    CHECK_FALSE(is_open(WorkOrderState::cancelled));
    CHECK_FALSE(is_dispatched(WorkOrderState::new_order));
    CHECK(is_dispatched(WorkOrderState::assigned));
    CHECK(is_dispatched(WorkOrderState::closed));
    CHECK_FALSE(is_dispatched(WorkOrderState::cancelled));
}

TEST_CASE("policy defaults: priority and due date from severity") {
    const Policy p;
    CHECK(validate(p).ok());
    CHECK(p.rule_for(Severity::critical) == SeverityRule{Priority::urgent, 24h});
    CHECK(p.rule_for(Severity::major) == SeverityRule{Priority::high, 72h});
    CHECK(p.rule_for(Severity::minor) == SeverityRule{Priority::normal, std::chrono::hours{14 * 24}});
    CHECK(p.rule_for(Severity::info) == SeverityRule{Priority::low, std::chrono::hours{30 * 24}});
    CHECK(p.reopen_window == 72h);

    Policy bad;
    bad.for_major.response_time = std::chrono::hours{20 * 24};
    auto s = validate(bad);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message ==
          "for_major/response_time: longer than for_minor's (escalation must not move due later)");
    bad = Policy{};
    bad.for_critical.priority = Priority::normal;
    REQUIRE_FALSE(validate(bad).ok());
    CHECK(validate(bad).error().message ==
          "for_critical/priority: 'normal' is lower than for_major's 'high' (escalation must not lower "
          "priority)");
    bad = Policy{};
    bad.for_info.response_time = 0h;
    CHECK(validate(bad).error().message == "for_info/response_time: must be positive");
}

TEST_CASE("an opened edge ticket creates a work order on the site and device") {
    auto e = ticket_event(TicketEventKind::opened, Severity::major, t0 - 5min);
    auto d = on_ticket_event(kSite, e, std::nullopt, std::nullopt, t0, Policy{});
    CHECK(d.action == Action::create);
    const WorkOrder& o = d.result;
    CHECK(o.id == 0);
    CHECK(o.site_id == kSite);
    CHECK(o.device_id == "inv1");
    CHECK(o.kind == FaultKind::not_producing);
    CHECK(o.severity == Severity::major);
    CHECK(o.priority == Priority::high);
    CHECK(o.state == WorkOrderState::new_order);
    CHECK(o.created_at == t0);  // server time, not the edge's
    CHECK(o.updated_at == t0);
    CHECK(o.due_at == t0 + 72h);
    CHECK(o.ticket_id == e.ticket.id);
    CHECK(o.summary == e.ticket.summary);
    CHECK(o.evidence == e.ticket.evidence);
    CHECK_FALSE(o.condition_cleared);
    CHECK_FALSE(o.assignee.has_value());
    CHECK(o.reopen_count == 0);
    CHECK(d.audit_note.find("created work order") != std::string::npos);

    // Every severity maps to its priority and due date.
    CHECK(created_order(Severity::critical).due_at == t0 + 24h);
    CHECK(created_order(Severity::critical).priority == Priority::urgent);
    CHECK(created_order(Severity::minor).due_at == t0 + std::chrono::days{14});
    CHECK(created_order(Severity::info).priority == Priority::low);
    CHECK(created_order(Severity::info).due_at == t0 + std::chrono::days{30});
}

TEST_CASE("one order per (site, device, kind): new evidence updates it") {
    const WorkOrder open = created_order(Severity::minor);
    const TimePoint later = t0 + 2h;

    SUBCASE("updated event: evidence replaced, same order, due unchanged") {
        auto e = ticket_event(TicketEventKind::updated, Severity::minor, later);
        e.ticket.evidence = {{"ac_power_w", 1.0, 2500.0, "W", later},
                             {"energy_today_wh", 10.0, 9000.0, "Wh", later}};
        auto d = on_ticket_event(kSite, e, open, std::nullopt, later, Policy{});
        CHECK(d.action == Action::update);
        CHECK(d.result.id == 7);
        CHECK(d.result.evidence == e.ticket.evidence);
        CHECK(d.result.due_at == open.due_at);
        CHECK(d.result.priority == Priority::normal);
        CHECK(d.result.updated_at == later);
        CHECK(d.result.created_at == t0);
    }
    SUBCASE("a second opened event also updates") {
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, later), open,
                                 std::nullopt, later, Policy{});
        CHECK(d.action == Action::update);
        CHECK(d.result.id == 7);
    }
    SUBCASE("escalation recomputes priority and moves the due date earlier") {
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::updated, Severity::critical, later),
                                 open, std::nullopt, later, Policy{});
        CHECK(d.action == Action::update);
        CHECK(d.result.severity == Severity::critical);
        CHECK(d.result.priority == Priority::urgent);
        CHECK(d.result.due_at == later + 24h);
        CHECK(d.audit_note.find("severity minor -> critical") != std::string::npos);
    }
    SUBCASE("escalation never moves the due date later") {
        WorkOrder tight = open;
        tight.due_at = t0 + 1h;  // the back office set an earlier date
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::updated, Severity::major, later), tight,
                                 std::nullopt, later, Policy{});
        CHECK(d.result.severity == Severity::major);
        CHECK(d.result.due_at == t0 + 1h);
    }
    SUBCASE("escalation keeps a higher priority set by the office") {
        WorkOrder raised = open;
        raised.priority = Priority::urgent;
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::updated, Severity::major, later),
                                 raised, std::nullopt, later, Policy{});
        CHECK(d.result.priority == Priority::urgent);
    }
    SUBCASE("a lower severity is never applied automatically") {
        const WorkOrder major = created_order(Severity::major);
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::updated, Severity::info, later), major,
                                 std::nullopt, later, Policy{});
        CHECK(d.action == Action::update);
        CHECK(d.result.severity == Severity::major);
        CHECK(d.result.priority == Priority::high);
        CHECK(d.result.due_at == major.due_at);
        CHECK(d.audit_note.find("never lowered") != std::string::npos);
    }
    SUBCASE("new evidence after the condition cleared makes it active again") {
        WorkOrder cleared = open;
        cleared.state = WorkOrderState::assigned;
        cleared.assignee = "tom";
        cleared.condition_cleared = true;
        cleared.cleared_at = t0 + 1h;
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, later),
                                 cleared, std::nullopt, later, Policy{});
        CHECK(d.action == Action::update);
        CHECK_FALSE(d.result.condition_cleared);
        CHECK_FALSE(d.result.cleared_at.has_value());
        CHECK(d.result.state == WorkOrderState::assigned);
        CHECK(d.result.assignee == "tom");
    }
    SUBCASE("a newer edge ticket for the same key is followed") {
        auto d =
            on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, later, "inv1-np-2"),
                            open, std::nullopt, later, Policy{});
        CHECK(d.action == Action::update);
        CHECK(d.result.ticket_id == "inv1-np-2");
    }
}

TEST_CASE("acknowledged at the edge: update with an audit note only") {
    const WorkOrder open = created_order();
    auto e = ticket_event(TicketEventKind::acknowledged, Severity::minor, t0 + 1h);
    e.ticket.acknowledged_by = "tom";
    e.ticket.acknowledge_note = "on my way";
    auto d = on_ticket_event(kSite, e, open, std::nullopt, t0 + 1h, Policy{});
    CHECK(d.action == Action::update);
    WorkOrder expected = open;
    expected.updated_at = t0 + 1h;
    CHECK(d.result == expected);
    CHECK(d.audit_note.find("acknowledged at the edge by 'tom': on my way") != std::string::npos);

    auto none = on_ticket_event(kSite, e, std::nullopt, std::nullopt, t0 + 1h, Policy{});
    CHECK(none.action == Action::ignore);
}

TEST_CASE("resolved at the edge") {
    const TimePoint later = t0 + 3h;
    const auto resolved = ticket_event(TicketEventKind::resolved, Severity::minor, later);

    SUBCASE("while new: closed with condition cleared") {
        auto d = on_ticket_event(kSite, resolved, created_order(), std::nullopt, later, Policy{});
        CHECK(d.action == Action::close_cleared);
        CHECK(d.result.state == WorkOrderState::closed);
        CHECK(d.result.condition_cleared);
        CHECK(d.result.cleared_at == later);
        CHECK(d.result.closed_at == later);
        CHECK(d.result.close_reason == kCloseReasonConditionCleared);
    }
    SUBCASE("while assigned: stays with the technician, condition cleared") {
        const WorkOrder assigned = in_state(WorkOrderState::assigned);
        auto d = on_ticket_event(kSite, resolved, assigned, std::nullopt, later, Policy{});
        CHECK(d.action == Action::mark_cleared);
        CHECK(d.result.state == WorkOrderState::assigned);
        CHECK(d.result.assignee == "tom");
        CHECK(d.result.condition_cleared);
        CHECK(d.result.cleared_at == later);
        CHECK_FALSE(d.result.closed_at.has_value());
        CHECK(d.audit_note.find("left to technician 'tom'") != std::string::npos);
    }
    SUBCASE("while in progress or done: marked only") {
        for (auto s : {WorkOrderState::in_progress, WorkOrderState::done}) {
            auto d = on_ticket_event(kSite, resolved, in_state(s), std::nullopt, later, Policy{});
            CHECK(d.action == Action::mark_cleared);
            CHECK(d.result.state == s);
        }
    }
    SUBCASE("no open order: ignored") {
        auto d = on_ticket_event(kSite, resolved, std::nullopt, std::nullopt, later, Policy{});
        CHECK(d.action == Action::ignore);
        CHECK(d.result == WorkOrder{});
    }
    SUBCASE("a repeated resolution is ignored") {
        WorkOrder cleared = in_state(WorkOrderState::assigned);
        cleared.condition_cleared = true;
        cleared.cleared_at = t0 + 1h;
        auto d = on_ticket_event(kSite, resolved, cleared, std::nullopt, later, Policy{});
        CHECK(d.action == Action::ignore);
        CHECK(d.result == cleared);
    }
    SUBCASE("the resolution of an older edge ticket does not clear the order") {
        auto old = ticket_event(TicketEventKind::resolved, Severity::minor, later, "inv1-np-older");
        auto d = on_ticket_event(kSite, old, created_order(), std::nullopt, later, Policy{});
        CHECK(d.action == Action::ignore);
    }
    SUBCASE("closed at the edge (resolved event lost) also clears") {
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::closed, Severity::minor, later),
                                 created_order(), std::nullopt, later, Policy{});
        CHECK(d.action == Action::close_cleared);
    }
}

TEST_CASE("reopen after an auto-close") {
    const Policy policy;
    auto closed = on_ticket_event(kSite, ticket_event(TicketEventKind::resolved, Severity::minor, t0 + 1h),
                                  created_order(), std::nullopt, t0 + 1h, policy);
    REQUIRE(closed.action == Action::close_cleared);
    const WorkOrder last = closed.result;
    const TimePoint closed_at = t0 + 1h;

    SUBCASE("within the window: the same order comes back") {
        const TimePoint now = closed_at + policy.reopen_window;  // boundary included
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, now),
                                 std::nullopt, last, now, policy);
        CHECK(d.action == Action::reopen);
        CHECK(d.result.id == 7);
        CHECK(d.result.state == WorkOrderState::new_order);
        CHECK(d.result.reopen_count == 1);
        CHECK_FALSE(d.result.closed_at.has_value());
        CHECK(d.result.close_reason.empty());
        CHECK_FALSE(d.result.condition_cleared);
        CHECK_FALSE(d.result.cleared_at.has_value());
        CHECK(d.result.due_at == last.due_at);  // never later
        CHECK(d.result.created_at == t0);
        CHECK(d.result.updated_at == now);
    }
    SUBCASE("reopened with a higher severity escalates") {
        const TimePoint now = closed_at + 2h;
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::critical, now),
                                 std::nullopt, last, now, policy);
        CHECK(d.action == Action::reopen);
        CHECK(d.result.priority == Priority::urgent);
        CHECK(d.result.due_at == now + 24h);
    }
    SUBCASE("after the window: a new order") {
        const TimePoint now = closed_at + policy.reopen_window + 1ms;
        auto d = on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, now),
                                 std::nullopt, last, now, policy);
        CHECK(d.action == Action::create);
        CHECK(d.result.id == 0);
        CHECK(d.result.created_at == now);
        CHECK(d.result.reopen_count == 0);
    }
    SUBCASE("an order closed after a technician's visit is not reopened") {
        WorkOrder completed = in_state(WorkOrderState::closed);
        completed.closed_at = closed_at;
        completed.close_reason = std::string(kCloseReasonCompleted);
        auto d =
            on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, closed_at + 1h),
                            std::nullopt, completed, closed_at + 1h, policy);
        CHECK(d.action == Action::create);
    }
    SUBCASE("an updated event without an order is treated as opened") {
        auto d =
            on_ticket_event(kSite, ticket_event(TicketEventKind::updated, Severity::minor, closed_at + 1h),
                            std::nullopt, last, closed_at + 1h, policy);
        CHECK(d.action == Action::reopen);
    }
}

TEST_CASE("preventive tickets from a gateway are ignored; wrong inputs are caller bugs") {
    auto e = ticket_event(TicketEventKind::opened, Severity::info, t0, "x", FaultKind::preventive);
    CHECK(on_ticket_event(kSite, e, std::nullopt, std::nullopt, t0, Policy{}).action == Action::ignore);

    const WorkOrder open = created_order();
    auto other_kind = ticket_event(TicketEventKind::opened, Severity::minor, t0, "y", FaultKind::comm_lost);
    CHECK_THROWS_AS(on_ticket_event(kSite, other_kind, open, std::nullopt, t0, Policy{}),
                    std::invalid_argument);
    CHECK_THROWS_AS(on_ticket_event("site-other", ticket_event(TicketEventKind::opened, Severity::minor, t0),
                                    open, std::nullopt, t0, Policy{}),
                    std::invalid_argument);
    WorkOrder not_open = open;
    not_open.state = WorkOrderState::closed;
    CHECK_THROWS_AS(on_ticket_event(kSite, ticket_event(TicketEventKind::opened, Severity::minor, t0),
                                    not_open, std::nullopt, t0, Policy{}),
                    std::invalid_argument);
}

TEST_CASE("per-input tickets: one order per (site, device, kind, input); another input's order is a caller bug") {
    auto on_input = [](int input, std::string id) {
        auto e = ticket_event(TicketEventKind::opened, Severity::major, t0, std::move(id), FaultKind::string_fault);
        e.ticket.input = input;
        e.ticket.summary = "MPPT " + std::to_string(input) + " open (no input)";
        return e;
    };
    auto two = on_ticket_event(kSite, on_input(2, "inv1-string_fault-mppt2-a"), std::nullopt, std::nullopt, t0,
                               Policy{});
    REQUIRE(two.action == Action::create);
    CHECK(two.result.input == 2);
    two.result.id = 8;
    // Input 1 has no open order of its own (storage looks it up by input): a new one.
    auto one = on_ticket_event(kSite, on_input(1, "inv1-string_fault-mppt1-b"), std::nullopt, std::nullopt, t0,
                               Policy{});
    REQUIRE(one.action == Action::create);
    CHECK(one.result.input == 1);
    // Handing input 2's order to an event of input 1 (or of the whole device) would merge two faults.
    CHECK_THROWS_AS(on_ticket_event(kSite, on_input(1, "inv1-string_fault-mppt1-b"), two.result, std::nullopt, t0,
                                    Policy{}),
                    std::invalid_argument);
    auto whole = ticket_event(TicketEventKind::opened, Severity::major, t0, "inv1-string_fault-c",
                              FaultKind::string_fault);
    CHECK_THROWS_AS(on_ticket_event(kSite, whole, two.result, std::nullopt, t0, Policy{}), std::invalid_argument);
    // The same input's next event updates it.
    auto again = on_input(2, "inv1-string_fault-mppt2-a");
    again.kind = TicketEventKind::updated;
    again.ticket.severity = Severity::critical;
    CHECK(on_ticket_event(kSite, again, two.result, std::nullopt, t0 + 1h, Policy{}).action == Action::update);
    // JSON keeps the input (null for whole-device orders).
    const nlohmann::json j = two.result;
    CHECK(j["input"] == 2);
    CHECK(work_order_from_json(j)->input == 2);
    CHECK(nlohmann::json(created_order())["input"].is_null());
}

TEST_CASE("transition table: every pair") {
    using S = WorkOrderState;
    const std::vector<S> all{S::new_order, S::assigned, S::in_progress, S::done, S::closed, S::cancelled};
    const std::vector<std::pair<S, S>> allowed{{S::new_order, S::assigned},    {S::new_order, S::cancelled},
                                               {S::assigned, S::in_progress},  {S::assigned, S::new_order},
                                               {S::assigned, S::cancelled},    {S::in_progress, S::done},
                                               {S::in_progress, S::cancelled}, {S::done, S::closed},
                                               {S::done, S::in_progress},      {S::done, S::cancelled}};
    const TimePoint now = t0 + 5h;
    for (S from : all) {
        for (S to : all) {
            CAPTURE(to_string(from));
            CAPTURE(to_string(to));
            const bool expected =
                std::find(allowed.begin(), allowed.end(), std::pair{from, to}) != allowed.end();
            CHECK(is_allowed_transition(from, to) == expected);
            for (const Actor& office : {kAdmin, kOffice}) {
                WorkOrder order = in_state(from);
                order.assignee = "tom";  // so new -> assigned has someone to send
                auto r = transition(order, to, office, now);
                REQUIRE(r.ok() == expected);
                if (expected) {
                    CHECK(r->state == to);
                    CHECK(r->updated_at == now);
                } else {
                    CHECK(r.error().kind == ErrorKind::invalid);
                    CHECK(r.error().message == "state: cannot go from '" + std::string(to_string(from)) +
                                                   "' to '" + std::string(to_string(to)) + "'");
                }
            }
        }
    }
}

TEST_CASE("transition side effects") {
    const TimePoint now = t0 + 5h;
    SUBCASE("assigned needs an assignee") {
        auto r = transition(in_state(WorkOrderState::new_order), WorkOrderState::assigned, kOffice, now);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ErrorKind::invalid);
        CHECK(r.error().message == "state: 'assigned' needs an assignee (assign a technician)");
    }
    SUBCASE("unassign clears the assignee") {
        auto r = transition(in_state(WorkOrderState::assigned), WorkOrderState::new_order, kOffice, now);
        REQUIRE(r.ok());
        CHECK_FALSE(r->assignee.has_value());
    }
    SUBCASE("close sets closed_at and reason") {
        auto r = transition(in_state(WorkOrderState::done), WorkOrderState::closed, kOffice, now);
        REQUIRE(r.ok());
        CHECK(r->closed_at == now);
        CHECK(r->close_reason == "completed");
        auto with_reason = transition(in_state(WorkOrderState::done), WorkOrderState::closed, kOffice, now,
                                      "inverter replaced");
        CHECK(with_reason->close_reason == "inverter replaced");
    }
    SUBCASE("cancel sets closed_at and who") {
        auto r = transition(in_state(WorkOrderState::in_progress), WorkOrderState::cancelled, kAdmin, now);
        REQUIRE(r.ok());
        CHECK(r->closed_at == now);
        CHECK(r->close_reason == "cancelled by ada");
    }
    SUBCASE("rework goes back to in progress") {
        auto r = transition(in_state(WorkOrderState::done), WorkOrderState::in_progress, kOffice, now);
        REQUIRE(r.ok());
        CHECK(r->assignee == "tom");
    }
}

TEST_CASE("technicians: only their own orders, only start and finish") {
    const TimePoint now = t0 + 5h;
    auto start =
        transition(in_state(WorkOrderState::assigned, "tom"), WorkOrderState::in_progress, kTech, now);
    REQUIRE(start.ok());
    CHECK(start->state == WorkOrderState::in_progress);
    auto finish = transition(*start, WorkOrderState::done, kTech, now);
    REQUIRE(finish.ok());
    CHECK(finish->state == WorkOrderState::done);

    auto others =
        transition(in_state(WorkOrderState::assigned, "tom"), WorkOrderState::in_progress, kOtherTech, now);
    REQUIRE_FALSE(others.ok());
    CHECK(others.error().kind == ErrorKind::rejected);
    CHECK(others.error().message ==
          "role: technician 'tina' may only change their own work orders; #7 is assigned to 'tom'");

    for (auto [from, to] : std::vector<std::pair<WorkOrderState, WorkOrderState>>{
             {WorkOrderState::done, WorkOrderState::closed},
             {WorkOrderState::assigned, WorkOrderState::cancelled},
             {WorkOrderState::assigned, WorkOrderState::new_order},
             {WorkOrderState::done, WorkOrderState::in_progress}}) {
        auto r = transition(in_state(from, "tom"), to, kTech, now);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().kind == ErrorKind::rejected);
    }
    // A move outside the table is invalid whoever asks.
    auto skip = transition(in_state(WorkOrderState::assigned, "tom"), WorkOrderState::done, kTech, now);
    CHECK(skip.error().kind == ErrorKind::invalid);

    auto self_assign = assign(in_state(WorkOrderState::new_order), "tom", kTech, now);
    REQUIRE_FALSE(self_assign.ok());
    CHECK(self_assign.error().kind == ErrorKind::rejected);
}

TEST_CASE("managers are read-only") {
    const TimePoint now = t0 + 5h;
    auto r = transition(in_state(WorkOrderState::done), WorkOrderState::closed, kManager, now);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().kind == ErrorKind::rejected);
    CHECK(r.error().message ==
          "role: user 'max' is a manager: managers have read-only access to work orders");
    CHECK(transition(in_state(WorkOrderState::new_order), WorkOrderState::cancelled, kManager, now)
              .error()
              .kind == ErrorKind::rejected);
    CHECK(assign(in_state(WorkOrderState::new_order), "tom", kManager, now).error().kind ==
          ErrorKind::rejected);
}

TEST_CASE("assign") {
    const TimePoint now = t0 + 5h;
    auto r = assign(in_state(WorkOrderState::new_order), "tom", kOffice, now);
    REQUIRE(r.ok());
    CHECK(r->state == WorkOrderState::assigned);
    CHECK(r->assignee == "tom");
    CHECK(r->updated_at == now);

    auto handover = assign(in_state(WorkOrderState::in_progress, "tom"), "tina", kAdmin, now);
    REQUIRE(handover.ok());
    CHECK(handover->state == WorkOrderState::in_progress);
    CHECK(handover->assignee == "tina");

    const WorkOrder same = in_state(WorkOrderState::assigned, "tom");
    CHECK(*assign(same, "tom", kOffice, now) == same);

    CHECK(assign(in_state(WorkOrderState::new_order), "", kOffice, now).error().message ==
          "assignee: must not be empty");
    for (auto s : {WorkOrderState::done, WorkOrderState::closed, WorkOrderState::cancelled}) {
        auto bad = assign(in_state(s), "tina", kOffice, now);
        REQUIRE_FALSE(bad.ok());
        CHECK(bad.error().kind == ErrorKind::invalid);
    }
}

TEST_CASE("SLA colours at the boundaries") {
    WorkOrder o = created_order(Severity::critical);  // created t0, due t0 + 24 h: yellow from 6 h left
    REQUIRE(o.due_at == t0 + 24h);
    CHECK(sla_state(o, t0) == SlaState::green);
    CHECK(sla_state(o, t0 + 18h) == SlaState::green);  // exactly 25 % left
    CHECK(sla_state(o, t0 + 18h + 1ms) == SlaState::yellow);
    CHECK(sla_state(o, t0 + 24h) == SlaState::yellow);  // due now, not yet past
    CHECK(sla_state(o, t0 + 24h + 1ms) == SlaState::red);

    SUBCASE("closed orders keep the colour of their closing time") {
        o.state = WorkOrderState::closed;
        o.closed_at = t0 + 2h;
        CHECK(sla_state(o, t0 + 100h) == SlaState::green);
        o.closed_at = t0 + 20h;
        CHECK(sla_state(o, t0 + 100h) == SlaState::yellow);
        o.closed_at = t0 + 25h;
        CHECK(sla_state(o, t0 + 1h) == SlaState::red);
        o.state = WorkOrderState::cancelled;
        CHECK(sla_state(o, t0 + 1h) == SlaState::red);
    }
    SUBCASE("done is still open: judged now") {
        o.state = WorkOrderState::done;
        CHECK(sla_state(o, t0 + 30h) == SlaState::red);
    }
    CHECK(parse_sla_state(to_string(SlaState::yellow)) == SlaState::yellow);
}

TEST_CASE("preventive schedule") {
    const TimePoint commissioned = at("2023-03-15T00:00:00Z");
    const auto year = std::chrono::days{365};
    CHECK(next_preventive_due(commissioned, std::nullopt, year) == commissioned + year);
    const TimePoint inspected = at("2024-02-01T09:00:00Z");
    CHECK(next_preventive_due(commissioned, inspected, year) == inspected + year);
    // An inspection recorded before commissioning counts from commissioning.
    CHECK(next_preventive_due(commissioned, commissioned - std::chrono::days{10}, year) ==
          commissioned + year);
    CHECK_FALSE(next_preventive_due(commissioned, std::nullopt, std::chrono::days{0}).has_value());

    const Policy policy;
    const TimePoint due = commissioned + year;
    CHECK_FALSE(preventive_order_due(due, due - std::chrono::days{31}, policy));
    CHECK(preventive_order_due(due, due - std::chrono::days{30}, policy));
    CHECK(preventive_order_due(due, due + std::chrono::days{3}, policy));

    const TimePoint now = due - std::chrono::days{30};
    WorkOrder o = make_preventive_work_order(kSite, due, now, policy);
    CHECK(o.site_id == kSite);
    CHECK(o.device_id == "site");
    CHECK(o.kind == FaultKind::preventive);
    CHECK(o.severity == Severity::info);
    CHECK(o.priority == Priority::low);
    CHECK(o.state == WorkOrderState::new_order);
    CHECK(o.created_at == now);
    CHECK(o.due_at == due);
    CHECK(o.ticket_id.empty());
    CHECK(o.summary == "Preventive inspection of the site, due 2024-03-14");
    CHECK(sla_state(o, now) == SlaState::green);
    CHECK(make_preventive_work_order(kSite, due, due + 1h, policy).priority == Priority::normal);
}

TEST_CASE("JSON round trip") {
    WorkOrder o = created_order(Severity::major);
    o.id = 123;
    o.state = WorkOrderState::closed;
    o.assignee = "tom";
    o.condition_cleared = true;
    o.cleared_at = t0 + 1h;
    o.closed_at = t0 + 2h + 250ms;
    o.close_reason = "inverter replaced";
    o.reopen_count = 2;
    o.evidence.push_back({"daily_energy_ratio", 0.4123456789, std::nullopt, "", t0 - 1h});

    const nlohmann::json j = o;
    CHECK(j["state"] == "closed");
    CHECK(j["fault_kind"] == "not_producing");
    CHECK(j["priority"] == "high");
    CHECK(j["created_at"] == "2024-05-01T10:00:00.000Z");
    CHECK(j["closed_at"] == "2024-05-01T12:00:00.250Z");
    CHECK(j["evidence"][1]["expected"].is_null());

    auto back = work_order_from_json(nlohmann::json::parse(j.dump()));
    REQUIRE(back.ok());
    CHECK(*back == o);
    CHECK(nlohmann::json::parse(j.dump()).get<WorkOrder>() == o);

    const WorkOrder fresh = created_order();
    CHECK(work_order_from_json(work_order_to_json(fresh)).value() == fresh);
    const nlohmann::json fresh_json = fresh;
    CHECK(fresh_json["assignee"].is_null());
    CHECK(fresh_json["cleared_at"].is_null());

    SUBCASE("errors name the field") {
        nlohmann::json bad = j;
        bad["state"] = "open";
        CHECK(work_order_from_json(bad).error().message == "state: unknown 'open'");
        bad = j;
        bad["due_at"] = "2024-05-01 10:00";
        CHECK(work_order_from_json(bad).error().message.rfind("due_at: ", 0) == 0);
        bad = j;
        bad["evidence"][1]["t"] = 5;
        CHECK(work_order_from_json(bad).error().message ==
              "evidence/1/t: expected ISO-8601 UTC string, got integer");
        bad = j;
        bad.erase("site_id");
        CHECK(work_order_from_json(bad).error().message == "site_id: missing");
        CHECK_THROWS_AS(bad.get<WorkOrder>(), nlohmann::json::other_error);
        CHECK(work_order_from_json(nlohmann::json::array()).error().message ==
              "(root): expected object, got array");
    }
}
