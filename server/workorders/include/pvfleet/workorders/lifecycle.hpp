#pragma once
// State changes by people: assignment and the new -> assigned -> in_progress -> done -> closed flow, with
// who may do what (docs/workorders.md has the table).
#include <string>
#include <string_view>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::workorders {

// Whether `from -> to` is in the transition table at all (regardless of who asks).
bool is_allowed_transition(WorkOrderState from, WorkOrderState to);

// Moves `order` to `to` on behalf of `actor`. Errors:
//  ErrorKind::invalid  "state: cannot go from 'new' to 'done'", or a precondition (assigned needs an
//  assignee) ErrorKind::rejected the actor's role may not do it ("role: ...")
// `reason` goes into close_reason on closed/cancelled (default "completed" / "cancelled by <user>").
Result<WorkOrder> transition(const WorkOrder& order, WorkOrderState to, const Actor& actor, TimePoint now,
                             std::string_view reason = {});

// Assigns (new -> assigned) or reassigns (assigned, in_progress: state kept) to `technician`. Admin and back
// office only. Assigning to the current assignee changes nothing.
Result<WorkOrder> assign(const WorkOrder& order, std::string technician, const Actor& actor, TimePoint now);

}  // namespace pvfleet::workorders
