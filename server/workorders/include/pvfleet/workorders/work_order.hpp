#pragma once
// The work order: what the back office dispatches to a technician. One per (site, device, fault kind, input)
// while open, raised from edge tickets (docs/workorders.md); input is the MPPT input of per-input tickets.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/domain/enums.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::workorders {

// Text names: "new", "assigned", "in_progress", "done", "closed", "cancelled". `new` is a keyword, hence
// `new_order`.
enum class WorkOrderState { new_order, assigned, in_progress, done, closed, cancelled };

// Ordered: a comparison says which is more pressing (urgent > high > normal > low).
enum class Priority { low, normal, high, urgent };

// Who acts on a work order. Managers only read.
enum class Role { admin, back_office, technician, manager };

std::string_view to_string(WorkOrderState v);
std::string_view to_string(Priority v);
std::string_view to_string(Role v);
std::optional<WorkOrderState> parse_work_order_state(std::string_view s);
std::optional<Priority> parse_priority(std::string_view s);
std::optional<Role> parse_role(std::string_view s);

// Open = still needs someone: new, assigned, in_progress, and done (the technician finished, the back office
// has not closed it yet). Only closed and cancelled are final.
constexpr bool is_open(WorkOrderState s) {
    return s != WorkOrderState::closed && s != WorkOrderState::cancelled;
}

// A technician has been sent: assigned or later in the normal flow (assigned, in_progress, done, closed).
// A cancelled order may or may not have been dispatched; it counts as not dispatched because nobody will go.
constexpr bool is_dispatched(WorkOrderState s) {
    return s == WorkOrderState::assigned || s == WorkOrderState::in_progress || s == WorkOrderState::done ||
           s == WorkOrderState::closed;
}

// Close reason set when an edge ticket resolved before anybody was dispatched. Only orders closed for this
// reason are reopened by a recurrence (Policy::reopen_window).
inline constexpr std::string_view kCloseReasonConditionCleared =
    "condition cleared at the edge before dispatch";
// Close reason of done -> closed when the caller gives none.
inline constexpr std::string_view kCloseReasonCompleted = "completed";

// Device id of whole-site work orders (grid outage, preventive inspection), as on the edge.
inline constexpr std::string_view kSiteDeviceId = "site";

// A value type, as stored. All times are server time (UTC); the edge's own times stay in the evidence.
struct WorkOrder {
    std::int64_t id = 0;  // assigned by storage; 0 until stored
    std::string site_id;
    std::string device_id;  // site-unique device id; "site" for whole-site orders
    domain::FaultKind kind = domain::FaultKind::not_producing;
    std::optional<int> input;  // the device's input (MPPT, 1-based) of a per-input ticket; none: whole device
    domain::Severity severity = domain::Severity::minor;
    Priority priority = Priority::normal;
    WorkOrderState state = WorkOrderState::new_order;
    TimePoint created_at;
    TimePoint updated_at;
    TimePoint due_at;
    std::string ticket_id;  // edge ticket that raised or last updated it; empty for preventive orders
    std::string summary;
    std::vector<domain::EvidenceItem> evidence;  // the latest ticket snapshot's evidence
    bool condition_cleared = false;              // the edge says the fault condition is gone
    std::optional<TimePoint> cleared_at;
    std::optional<std::string> assignee;  // technician user name
    std::optional<TimePoint> closed_at;   // set on closed and cancelled
    std::string close_reason;
    int reopen_count = 0;
    friend bool operator==(const WorkOrder&, const WorkOrder&) = default;
};

// Someone acting on a work order (from the API session).
struct Actor {
    std::string user;
    Role role = Role::manager;
    friend bool operator==(const Actor&, const Actor&) = default;
};

}  // namespace pvfleet::workorders
