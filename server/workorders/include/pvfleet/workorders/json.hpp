#pragma once
// The one JSON form of a work order, shared by the API and storage. Times are ISO-8601 UTC strings
// ("2024-05-01T10:15:00.000Z"); absent optionals are null (and may be missing when reading).
#include <nlohmann/json.hpp>

#include "pvfleet/util/result.hpp"
#include "pvfleet/workorders/work_order.hpp"

namespace pvfleet::workorders {

nlohmann::json work_order_to_json(const WorkOrder& order);
// Checks every field; errors name the JSON path ("evidence/2/t: ...").
Result<WorkOrder> work_order_from_json(const nlohmann::json& j);

// nlohmann ADL hooks (json j = order; order = j.get<WorkOrder>()). from_json throws
// nlohmann::json::other_error with the message of work_order_from_json; use that directly for untrusted
// input.
void to_json(nlohmann::json& j, const WorkOrder& order);
void from_json(const nlohmann::json& j, WorkOrder& order);

}  // namespace pvfleet::workorders
