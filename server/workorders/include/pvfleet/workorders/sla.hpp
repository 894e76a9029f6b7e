#pragma once
// Service-level colour of a work order, for lists and dashboards.
#include <optional>
#include <string_view>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::workorders {

enum class SlaState { green, yellow, red };

std::string_view to_string(SlaState v);
std::optional<SlaState> parse_sla_state(std::string_view s);

// Open orders are judged at `now`, closed and cancelled ones at closed_at:
//  red    past due (judged time after due_at)
//  yellow less than 25 % of the allowed time (due_at - created_at) left
//  green  otherwise
SlaState sla_state(const WorkOrder& order, TimePoint now);

}  // namespace pvfleet::workorders
