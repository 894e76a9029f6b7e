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
                                                                  domain::FaultKind kind,
                                                                  std::optional<int> input = std::nullopt);
// Inserts (id 0) or updates (id set) the order and appends an audit entry; returns the stored order.
Result<workorders::WorkOrder> save_work_order(Db& db, workorders::WorkOrder order,
                                              const std::optional<workorders::WorkOrder>& before,
                                              const std::string& actor, const std::string& action,
                                              TimePoint now);
// An order with its row version (the ETag of the API).
struct VersionedWorkOrder {
    workorders::WorkOrder order;
    std::int64_t version = 0;
};
Result<std::optional<VersionedWorkOrder>> load_versioned_work_order(Db& db, std::int64_t id);

// A list of work orders: filters (all optional, combined with AND), the order and the page.
struct WorkOrderQuery {
    std::optional<std::string> state, priority, site_id, assignee;
    std::optional<bool> open;
    std::optional<std::int64_t> customer_id;
    // Only the orders of this technician (their own view), on top of any assignee filter.
    std::optional<std::string> technician;
    bool unassigned_site = false;
    bool by_urgency = false;  // open first, then priority, due date, id; else newest (highest id) first
    std::int64_t after_id = 0;  // newest first only: the page starts below this id (0: from the top)
    std::int64_t limit = 50;
};
struct WorkOrderPage {
    std::vector<VersionedWorkOrder> items;
    std::optional<std::int64_t> next_cursor;  // newest first only: the last id of a full page
};
Result<WorkOrderPage> list_work_orders(Db& db, const WorkOrderQuery& query);

// Whether `technician` is assigned a work order at the site (any state, or open ones only).
Result<bool> has_work_order_at_site(Db& db, const std::string& site_id, const std::string& technician,
                                    bool open_only);

// save_work_order in its own transaction, provided the stored row is still at `expected_version`
// (ErrorKind::conflict otherwise: another edit landed since it was read).
Result<workorders::WorkOrder> save_work_order_at_version(Db& db, const workorders::WorkOrder& next,
                                                         const workorders::WorkOrder& before,
                                                         std::int64_t expected_version, const std::string& actor,
                                                         const std::string& action, TimePoint now);

// Visit notes of an order, oldest first; `parts_json` as recorded (a JSON array).
struct WorkOrderNote {
    TimePoint at;
    std::string author, text, parts_json;
};
Result<std::vector<WorkOrderNote>> list_work_order_notes(Db& db, std::int64_t work_order_id);
// Appends a note and its audit entry; runs inside the caller's transaction (a visit also swaps serials).
Status add_work_order_note(Db& db, std::int64_t work_order_id, const WorkOrderNote& note);

// The audit trail of an order, oldest first.
struct AuditEntry {
    TimePoint at;
    std::string actor, action;
};
Result<std::vector<AuditEntry>> work_order_history(Db& db, std::int64_t work_order_id);

Status append_audit(Db& db, TimePoint at, const std::string& actor, const std::string& action,
                    const std::string& entity, const std::string& entity_id,
                    const std::optional<std::string>& before_json,
                    const std::optional<std::string>& after_json);

// Preventive inspections on each site's schedule (sites.inspection_interval_days, counted from the last
// preventive visit, else from the day the site was commissioned (commissioned_on, set by its project's handover),
// else from installed_on, else from when the gateway was first seen): creates the work order
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
