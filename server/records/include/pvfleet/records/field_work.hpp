#pragma once
// What work orders need from the records: who may be assigned an order, and a device's serial changed on a
// visit (a part replaced). Kept apart from sites.hpp because these run inside the caller's transaction: a
// visit writes its note, its serial swaps and their audit entries all at once.
#include <cstdint>
#include <string>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

// Whether `name` is an enabled user with the technician role.
Result<bool> is_active_technician(storage::Db& db, const std::string& name);

// A serial swapped on a visit: the device's serial becomes `new_serial` (its version goes up), the device
// history records the old and new serial with the work order and the part, and the audit log the change.
// ErrorKind::not_found when the site has no such device. Inside the caller's transaction.
struct SerialSwap {
    std::string site_id, device_id, new_serial;
    std::int64_t work_order_id = 0;
    std::string part;
};
Status swap_serial_on_visit(storage::Db& db, const SerialSwap& swap, const std::string& actor, TimePoint now);

}  // namespace pvfleet::records
