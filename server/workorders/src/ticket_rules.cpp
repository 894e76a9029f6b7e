// Edge ticket events -> work orders; the rules table is in docs/workorders.md.
#include "pvfleet/workorders/ticket_rules.hpp"
#include "quoted.hpp"

#include <algorithm>
#include <stdexcept>

#include "pvfleet/util/time.hpp"

namespace pvfleet::workorders {
namespace {

using domain::TicketEventKind;
using Action = Decision::Action;

using detail::quoted;

std::string order_label(const WorkOrder& o) {
    return "work order #" + std::to_string(o.id) + " (" + std::string(to_string(o.state)) + ")";
}

// A caller passing orders of another key would merge unrelated faults: a programming error, not input.
std::string input_text(std::optional<int> input) {
    return input ? ", input " + std::to_string(*input) : std::string();
}

void check_order_key(const char* which, const WorkOrder& o, const std::string& site_id,
                     const domain::Ticket& t) {
    if (o.site_id != site_id || o.device_id != t.device_id || o.kind != t.kind || o.input != t.input) {
        throw std::invalid_argument(std::string("on_ticket_event: ") + which + " " + order_label(o) +
                                    " is for (" + o.site_id + ", " + o.device_id + ", " +
                                    std::string(domain::to_string(o.kind)) + input_text(o.input) +
                                    "), the event for (" + site_id + ", " + t.device_id + ", " +
                                    std::string(domain::to_string(t.kind)) + input_text(t.input) + ")");
    }
}

void check_inputs(const std::string& site_id, const domain::Ticket& t,
                  const std::optional<WorkOrder>& open_order, const std::optional<WorkOrder>& last_closed) {
    if (open_order) {
        check_order_key("open_order", *open_order, site_id, t);
        if (!is_open(open_order->state)) {
            throw std::invalid_argument("on_ticket_event: open_order " + order_label(*open_order) +
                                        " is not open");
        }
    }
    if (last_closed) {
        check_order_key("last_closed", *last_closed, site_id, t);
        if (is_open(last_closed->state)) {
            throw std::invalid_argument("on_ticket_event: last_closed " + order_label(*last_closed) +
                                        " is open");
        }
    }
}

std::string describe_event(const domain::TicketEvent& e) {
    return "edge ticket " + quoted(e.ticket.id) + " " + std::string(domain::to_string(e.kind)) + " at " +
           format_iso8601(e.at);
}

std::string priority_and_due(const WorkOrder& o) {
    return "priority " + std::string(to_string(o.priority)) + ", due " + format_iso8601(o.due_at);
}

Decision ignore(const std::optional<WorkOrder>& open_order, std::string note) {
    return Decision{Action::ignore, open_order.value_or(WorkOrder{}), std::move(note)};
}

// Severity only goes up automatically; a rise recomputes priority and due date, which only move towards more
// pressing (a back-office raise of priority or an earlier due date is kept).
std::string escalate(WorkOrder& o, domain::Severity reported, TimePoint now, const Policy& policy) {
    if (reported < o.severity) {
        return "; reported severity " + std::string(domain::to_string(reported)) + " is below " +
               std::string(domain::to_string(o.severity)) + ", kept (never lowered automatically)";
    }
    if (reported == o.severity) return {};
    const SeverityRule& rule = policy.rule_for(reported);
    const std::string before = std::string(domain::to_string(o.severity));
    o.severity = reported;
    o.priority = std::max(o.priority, rule.priority);
    o.due_at = std::min(o.due_at, now + rule.response_time);
    return "; severity " + before + " -> " + std::string(domain::to_string(reported)) + ": " +
           priority_and_due(o);
}

// The fault is (still or again) active: take the latest snapshot's text and evidence.
std::string apply_active_snapshot(WorkOrder& o, const domain::Ticket& t, TimePoint now,
                                  const Policy& policy) {
    std::string note;
    if (o.ticket_id != t.id) {
        note += "; now follows edge ticket " + quoted(t.id) + " (was " + quoted(o.ticket_id) + ")";
        o.ticket_id = t.id;
    }
    o.summary = t.summary;
    o.evidence = t.evidence;
    note += "; evidence replaced (" + std::to_string(t.evidence.size()) + " items)";
    note += escalate(o, t.severity, now, policy);
    if (o.condition_cleared) {
        o.condition_cleared = false;
        o.cleared_at.reset();
        note += "; condition active again";
    }
    o.updated_at = now;
    return note;
}

WorkOrder new_order(const std::string& site_id, const domain::Ticket& t, TimePoint now,
                    const Policy& policy) {
    const SeverityRule& rule = policy.rule_for(t.severity);
    WorkOrder o;
    o.site_id = site_id;
    o.device_id = t.device_id;
    o.kind = t.kind;
    o.input = t.input;
    o.severity = t.severity;
    o.priority = rule.priority;
    o.state = WorkOrderState::new_order;
    o.created_at = now;
    o.updated_at = now;
    o.due_at = now + rule.response_time;
    o.ticket_id = t.id;
    o.summary = t.summary;
    o.evidence = t.evidence;
    return o;
}

// Only an order closed because its condition cleared before anyone was sent comes back: a fault that
// returns after a technician's visit is a new job, with its own history.
bool reopens(const WorkOrder& last, TimePoint now, const Policy& policy) {
    return last.state == WorkOrderState::closed && last.close_reason == kCloseReasonConditionCleared &&
           last.closed_at && now - *last.closed_at <= policy.reopen_window;
}

Decision on_fault_active(const std::string& site_id, const domain::TicketEvent& event,
                         const std::optional<WorkOrder>& open_order,
                         const std::optional<WorkOrder>& last_closed, TimePoint now, const Policy& policy) {
    const domain::Ticket& t = event.ticket;
    if (open_order) {
        WorkOrder o = *open_order;
        std::string note = describe_event(event) + ": updated " + order_label(o);
        note += apply_active_snapshot(o, t, now, policy);
        if (o.state == WorkOrderState::done) {
            note += "; fault reported again after the technician marked the work done (rework?)";
        }
        return Decision{Action::update, std::move(o), std::move(note)};
    }
    if (last_closed && reopens(*last_closed, now, policy)) {
        WorkOrder o = *last_closed;
        std::string note = describe_event(event) + ": reopened " + order_label(o) + " closed at " +
                           format_iso8601(*o.closed_at) + " (within the reopen window)";
        o.state = WorkOrderState::new_order;
        o.closed_at.reset();
        o.close_reason.clear();
        ++o.reopen_count;
        note += apply_active_snapshot(o, t, now, policy);
        note += "; reopen #" + std::to_string(o.reopen_count) + ", " + priority_and_due(o);
        return Decision{Action::reopen, std::move(o), std::move(note)};
    }
    WorkOrder o = new_order(site_id, t, now, policy);
    std::string note = describe_event(event) + ": created work order, severity " +
                       std::string(domain::to_string(o.severity)) + ", " + priority_and_due(o);
    if (last_closed) note += "; previous " + order_label(*last_closed) + " is not reopened";
    return Decision{Action::create, std::move(o), std::move(note)};
}

Decision on_acknowledged(const domain::TicketEvent& event, const std::optional<WorkOrder>& open_order,
                         TimePoint now) {
    const domain::Ticket& t = event.ticket;
    // An acknowledgement says someone saw the ticket, nothing about the fault: never a reason for an order.
    if (!open_order)
        return ignore(open_order, describe_event(event) + ": no open work order, nothing to update");
    if (open_order->ticket_id != t.id) {
        return ignore(open_order, describe_event(event) + ": " + order_label(*open_order) +
                                      " follows edge ticket " + quoted(open_order->ticket_id) +
                                      ", not updated");
    }
    WorkOrder o = *open_order;
    o.updated_at = now;
    std::string note = describe_event(event) + ": acknowledged at the edge";
    if (!t.acknowledged_by.empty()) note += " by " + quoted(t.acknowledged_by);
    if (!t.acknowledge_note.empty()) note += ": " + t.acknowledge_note;
    return Decision{Action::update, std::move(o), std::move(note)};
}

// `resolved`, and `closed` (the edge closes a ticket only after it resolved; handled alike in case the
// resolved event never reached us).
Decision on_condition_cleared(const domain::TicketEvent& event, const std::optional<WorkOrder>& open_order,
                              TimePoint now) {
    const domain::Ticket& t = event.ticket;
    if (!open_order)
        return ignore(open_order, describe_event(event) + ": no open work order, nothing to clear");
    // A late or repeated resolution of an earlier ticket must not clear an order a newer ticket reopened.
    if (open_order->ticket_id != t.id) {
        return ignore(open_order, describe_event(event) + ": " + order_label(*open_order) +
                                      " follows edge ticket " + quoted(open_order->ticket_id) +
                                      ", not cleared");
    }
    if (open_order->condition_cleared) {
        return ignore(open_order,
                      describe_event(event) + ": " + order_label(*open_order) + " already cleared");
    }
    WorkOrder o = *open_order;
    o.condition_cleared = true;
    o.cleared_at = now;
    o.updated_at = now;
    std::string note = describe_event(event);
    if (!t.resolved_by.empty()) note += " (resolved by " + quoted(t.resolved_by) + ")";
    if (o.state == WorkOrderState::new_order) {
        o.state = WorkOrderState::closed;
        o.closed_at = now;
        o.close_reason = std::string(kCloseReasonConditionCleared);
        note += ": condition cleared before dispatch, closed work order #" + std::to_string(o.id);
        return Decision{Action::close_cleared, std::move(o), std::move(note)};
    }
    note += ": condition cleared, " + order_label(o) + " left to ";
    note += o.assignee ? "technician " + quoted(*o.assignee) : std::string("the back office");
    return Decision{Action::mark_cleared, std::move(o), std::move(note)};
}

}  // namespace

std::string_view to_string(Decision::Action a) {
    switch (a) {
        case Action::create:
            return "create";
        case Action::update:
            return "update";
        case Action::mark_cleared:
            return "mark_cleared";
        case Action::close_cleared:
            return "close_cleared";
        case Action::reopen:
            return "reopen";
        case Action::ignore:
            return "ignore";
    }
    return "?";
}

Decision on_ticket_event(const std::string& site_id, const domain::TicketEvent& event,
                         const std::optional<WorkOrder>& open_order,
                         const std::optional<WorkOrder>& last_closed, TimePoint now, const Policy& policy) {
    check_inputs(site_id, event.ticket, open_order, last_closed);
    if (event.ticket.kind == domain::FaultKind::preventive) {
        return ignore(open_order, describe_event(event) +
                                      ": preventive work orders are made by the server, not "
                                      "from gateway tickets");
    }
    switch (event.kind) {
        case TicketEventKind::opened:
        case TicketEventKind::updated:
            // `updated` without an order is treated as `opened`: the opened event may have been lost, and
            // an active fault must not go without an order.
            return on_fault_active(site_id, event, open_order, last_closed, now, policy);
        case TicketEventKind::acknowledged:
            return on_acknowledged(event, open_order, now);
        case TicketEventKind::resolved:
        case TicketEventKind::closed:
            return on_condition_cleared(event, open_order, now);
    }
    return ignore(open_order, describe_event(event) + ": unknown event kind");
}

}  // namespace pvfleet::workorders
