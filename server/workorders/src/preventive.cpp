#include "pvfleet/workorders/preventive.hpp"

#include <algorithm>

#include "pvfleet/util/time.hpp"

namespace pvfleet::workorders {

std::optional<TimePoint> next_preventive_due(TimePoint commissioned_at,
                                             std::optional<TimePoint> last_inspection,
                                             std::chrono::days interval) {
    if (interval.count() <= 0) return std::nullopt;
    const TimePoint from = last_inspection ? std::max(*last_inspection, commissioned_at) : commissioned_at;
    return from + interval;
}

bool preventive_order_due(TimePoint due_at, TimePoint now, const Policy& policy) {
    return now + policy.preventive_lead >= due_at;
}

WorkOrder make_preventive_work_order(const std::string& site_id, TimePoint due_at, TimePoint now,
                                     const Policy& policy) {
    WorkOrder o;
    o.site_id = site_id;
    o.device_id = std::string(kSiteDeviceId);
    o.kind = domain::FaultKind::preventive;
    o.severity = domain::Severity::info;
    o.priority = now > due_at ? policy.preventive_overdue_priority : policy.preventive_priority;
    o.state = WorkOrderState::new_order;
    o.created_at = now;
    o.updated_at = now;
    o.due_at = due_at;
    // Calendar date in UTC: the inspection is planned by day, not by minute.
    o.summary = "Preventive inspection of the site, due " + format_iso8601(due_at).substr(0, 10);
    return o;
}

}  // namespace pvfleet::workorders
