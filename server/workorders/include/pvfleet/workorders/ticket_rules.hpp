#pragma once
// Edge ticket events -> work orders. Pure: the storage layer looks up the orders, calls on_ticket_event and
// writes Decision::result (and the audit note) in the same transaction.
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/workorders/policy.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::workorders {

struct Decision {
    enum class Action {
        create,         // insert result (id 0)
        update,         // store result over the open order
        mark_cleared,   // store result: condition cleared, left to the technician
        close_cleared,  // store result: closed because the condition cleared before dispatch
        reopen,         // store result over last_closed: back to new
        ignore,         // write nothing (result is the open order unchanged, or an empty order); log the note
    };
    Action action = Action::ignore;
    WorkOrder result;
    std::string audit_note;  // one line for the order's history: what happened and why
};

std::string_view to_string(Decision::Action a);

// What one ticket event from site `site_id` does.
//  open_order:  the open work order (is_open) for (site_id, event.ticket.device_id, event.ticket.kind,
//               event.ticket.input), if any: a fault on another input of the device is another order.
//  last_closed: the most recently closed or cancelled order for the same key, if any (for reopening).
//  now:         server time; all work-order times and due dates count from it (gateway clocks may drift and
//               events may arrive late from the gateway's outbox).
// Passing an order for another key, or an open_order that is not open, is a caller bug:
// std::invalid_argument.
Decision on_ticket_event(const std::string& site_id, const domain::TicketEvent& event,
                         const std::optional<WorkOrder>& open_order,
                         const std::optional<WorkOrder>& last_closed, TimePoint now, const Policy& policy);

}  // namespace pvfleet::workorders
