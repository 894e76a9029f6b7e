#pragma once
// Priority, due date and reopen rules; the defaults are documented in docs/workorders.md.
#include <chrono>

#include "pvfleet/domain/enums.hpp"
#include "pvfleet/util/result.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::workorders {

// What one severity means for the back office: how pressing, and how long until a technician must be done.
struct SeverityRule {
    Priority priority = Priority::normal;
    std::chrono::hours response_time{24};
    friend bool operator==(const SeverityRule&, const SeverityRule&) = default;
};

struct Policy {
    // (Not named major/minor: glibc's <sys/sysmacros.h> defines macros of those names.)
    SeverityRule for_critical{Priority::urgent, std::chrono::hours{24}};
    SeverityRule for_major{Priority::high, std::chrono::hours{3 * 24}};
    SeverityRule for_minor{Priority::normal, std::chrono::hours{14 * 24}};
    SeverityRule for_info{Priority::low, std::chrono::hours{30 * 24}};

    // A fault coming back within this time after its order was closed because the condition cleared before
    // dispatch reopens that order (a flapping fault stays one order); later, it is a new order.
    std::chrono::hours reopen_window{72};

    // Preventive inspections: the order is created this long before it is due, with the first priority;
    // one created when the inspection is already overdue gets the second.
    std::chrono::days preventive_lead{30};
    Priority preventive_priority = Priority::low;
    Priority preventive_overdue_priority = Priority::normal;

    [[nodiscard]] const SeverityRule& rule_for(domain::Severity s) const;
    friend bool operator==(const Policy&, const Policy&) = default;
};

// Checks what would make the rules misbehave: non-positive times, a less severe fault answered faster or
// with a higher priority than a more severe one (escalation must never lower priority or move due later).
Status validate(const Policy& policy);

}  // namespace pvfleet::workorders
