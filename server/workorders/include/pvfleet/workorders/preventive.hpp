#pragma once
// Scheduled preventive inspections of a whole site (server-generated; never from the edge).
#include <chrono>
#include <optional>
#include <string>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/workorders/policy.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::workorders {

// When the next inspection is due: `interval` after the last inspection, or after commissioning when there
// was none (an inspection dated before commissioning counts from commissioning). No inspections
// (std::nullopt) when the interval is not positive.
std::optional<TimePoint> next_preventive_due(TimePoint commissioned_at,
                                             std::optional<TimePoint> last_inspection,
                                             std::chrono::days interval);

// Whether the scheduler should create the order now: within Policy::preventive_lead of the due date.
bool preventive_order_due(TimePoint due_at, TimePoint now, const Policy& policy);

// The preventive order for a site: device "site", kind preventive, severity info, due at `due_at`, priority
// policy.preventive_priority (preventive_overdue_priority when `now` is already past `due_at`).
WorkOrder make_preventive_work_order(const std::string& site_id, TimePoint due_at, TimePoint now,
                                     const Policy& policy);

}  // namespace pvfleet::workorders
