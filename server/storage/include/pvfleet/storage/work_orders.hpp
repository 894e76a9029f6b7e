#pragma once
// Work orders in the database: the ticket → work-order hook run inside the ingest transaction (rules from
// pvfleet::workorders), and the reads and writes the API needs. Every change is written to the audit log.
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/workorders/policy.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::storage {

Result<std::optional<workorders::WorkOrder>> load_work_order(Db& db, std::int64_t id);
Result<std::optional<workorders::WorkOrder>> load_open_work_order(Db& db, const std::string& site_id,
                                                                  const std::string& device_id,
                                                                  domain::FaultKind kind);
// Inserts (id 0) or updates (id set) the order and appends an audit entry; returns the stored order.
Result<workorders::WorkOrder> save_work_order(Db& db, workorders::WorkOrder order,
                                              const std::optional<workorders::WorkOrder>& before,
                                              const std::string& actor, const std::string& action,
                                              TimePoint now);
Status append_audit(Db& db, TimePoint at, const std::string& actor, const std::string& action,
                    const std::string& entity, const std::string& entity_id,
                    const std::optional<std::string>& before_json,
                    const std::optional<std::string>& after_json);

// Preventive inspections on each site's schedule (sites.inspection_interval_days, counted from the last
// preventive visit, else from installed_on, else from when the gateway was first seen): creates the work order
// once it is within the policy's lead time, unless one is open already. Returns how many were created.
Result<int> create_due_preventive_orders(Db& db, TimePoint now, const workorders::Policy& policy);

// The ingest hook: applies workorders::on_ticket_event to the open (or last auto-closed) order of the
// ticket's (site, device, fault kind).
class WorkOrderSink final : public TicketEventSink {
public:
    explicit WorkOrderSink(workorders::Policy policy = {}) : policy_(policy) {}
    Status on_ticket_event(Db& db, const std::string& site_id, const domain::TicketEvent& event,
                           bool historical, TimePoint now, IngestOutcome& outcome) override;

private:
    workorders::Policy policy_;
};

}  // namespace pvfleet::storage
