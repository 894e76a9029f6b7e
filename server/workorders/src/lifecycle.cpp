// Who may move a work order where; the table is in docs/workorders.md.
#include "pvfleet/workorders/lifecycle.hpp"
#include "quoted.hpp"

#include <utility>

namespace pvfleet::workorders {
namespace {

using S = WorkOrderState;

using detail::quoted;

bool is_office(Role r) {
    return r == Role::admin || r == Role::back_office;
}

// The technician's part of the flow: start and finish their own job. Everything else is the office's.
bool is_technician_step(S from, S to) {
    return (from == S::assigned && to == S::in_progress) || (from == S::in_progress && to == S::done);
}

Error read_only(const Actor& actor) {
    return Error::at(
        "role", "user " + quoted(actor.user) + " is a manager: managers have read-only access to work orders",
        ErrorKind::rejected);
}

// Checked after the table, so "no such move" wins over "not yours".
Status check_permission(const WorkOrder& order, S to, const Actor& actor) {
    switch (actor.role) {
        case Role::admin:
        case Role::back_office:
            return {};
        case Role::manager:
            return read_only(actor);
        case Role::technician:
            if (!is_technician_step(order.state, to)) {
                return Error::at("role",
                                 "technician " + quoted(actor.user) +
                                     " may only start (assigned -> in_progress) and "
                                     "finish (in_progress -> done) work; " +
                                     quoted(to_string(order.state)) + " -> " + quoted(to_string(to)) +
                                     " is for the back office",
                                 ErrorKind::rejected);
            }
            if (order.assignee != actor.user) {
                return Error::at("role",
                                 "technician " + quoted(actor.user) +
                                     " may only change their own work orders; #" + std::to_string(order.id) +
                                     " is assigned to " +
                                     (order.assignee ? quoted(*order.assignee) : std::string("nobody")),
                                 ErrorKind::rejected);
            }
            return {};
    }
    return Error::at("role", "unknown role", ErrorKind::rejected);
}

}  // namespace

bool is_allowed_transition(S from, S to) {
    switch (from) {
        case S::new_order:
            return to == S::assigned || to == S::cancelled;
        case S::assigned:
            return to == S::in_progress || to == S::new_order || to == S::cancelled;
        case S::in_progress:
            return to == S::done || to == S::cancelled;
        case S::done:
            return to == S::closed || to == S::in_progress || to == S::cancelled;
        case S::closed:
        case S::cancelled:
            return false;  // final: a recurrence reopens (ticket rules) or makes a new order
    }
    return false;
}

Result<WorkOrder> transition(const WorkOrder& order, S to, const Actor& actor, TimePoint now,
                             std::string_view reason) {
    if (!is_allowed_transition(order.state, to)) {
        return Error::at("state",
                         "cannot go from " + quoted(to_string(order.state)) + " to " + quoted(to_string(to)));
    }
    if (auto permitted = check_permission(order, to, actor); !permitted) return permitted.error();

    WorkOrder next = order;
    switch (to) {
        case S::assigned:
            // Only new -> assigned gets here; who is chosen is assign()'s business.
            if (!next.assignee || next.assignee->empty()) {
                return Error::at("state", "'assigned' needs an assignee (assign a technician)");
            }
            break;
        case S::new_order:
            next.assignee.reset();
            break;  // unassign: back in the queue
        case S::closed:
            next.closed_at = now;
            next.close_reason = reason.empty() ? std::string(kCloseReasonCompleted) : std::string(reason);
            break;
        case S::cancelled:
            next.closed_at = now;
            next.close_reason = reason.empty() ? "cancelled by " + actor.user : std::string(reason);
            break;
        case S::in_progress:
        case S::done:
            break;
    }
    next.state = to;
    next.updated_at = now;
    return next;
}

Result<WorkOrder> assign(const WorkOrder& order, std::string technician, const Actor& actor, TimePoint now) {
    if (actor.role == Role::manager) return read_only(actor);
    if (!is_office(actor.role)) {
        return Error::at("role",
                         "user " + quoted(actor.user) + " (" + std::string(to_string(actor.role)) +
                             ") may not assign work orders: the back office dispatches",
                         ErrorKind::rejected);
    }
    if (technician.empty()) return Error::at("assignee", "must not be empty");
    const bool reassignable = order.state == S::assigned || order.state == S::in_progress;
    if (order.state != S::new_order && !reassignable) {
        return Error::at("state", "cannot assign a work order that is " + quoted(to_string(order.state)));
    }
    if (order.assignee == technician) return order;
    WorkOrder next = order;
    next.assignee = std::move(technician);
    if (next.state == S::new_order) next.state = S::assigned;
    next.updated_at = now;
    return next;
}

}  // namespace pvfleet::workorders
