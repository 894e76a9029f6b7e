#include "pvfleet/records/field_work.hpp"

#include <nlohmann/json.hpp>

#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::records {

Result<bool> is_active_technician(storage::Db& db, const std::string& name) {
    auto u = db.run("SELECT role FROM users WHERE name = $1 AND disabled = 0", {name});
    if (!u) return u.error();
    return !u->rows.empty() && u->rows[0].text(0) == "technician";
}

Status swap_serial_on_visit(storage::Db& db, const SerialSwap& swap, const std::string& actor,
                            TimePoint now) {
    auto old = db.run("SELECT serial FROM devices WHERE site_id = $1 AND device_id = $2",
                      {swap.site_id, swap.device_id});
    if (!old) return old.error();
    if (old->rows.empty())
        return Error{"no device '" + swap.device_id + "' at site " + swap.site_id, ErrorKind::not_found};
    const std::string old_serial = old->rows[0].text(0);
    if (auto r = db.run("INSERT INTO device_history (site_id, device_id, at_ms, old_serial, new_serial, "
                        "work_order_id, note) "
                        "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                        {swap.site_id, swap.device_id, to_epoch_ms(now), old_serial, swap.new_serial,
                         swap.work_order_id, swap.part});
        !r)
        return r.error();
    if (auto r = db.run(
            "UPDATE devices SET serial = $3, version = version + 1 WHERE site_id = $1 AND device_id = $2",
            {swap.site_id, swap.device_id, swap.new_serial});
        !r)
        return r.error();
    return storage::append_audit(
        db, now, actor, "serial swapped", "device", swap.site_id + "/" + swap.device_id,
        nlohmann::json{{"serial", old_serial}}.dump(), nlohmann::json{{"serial", swap.new_serial}}.dump());
}

}  // namespace pvfleet::records
