#pragma once
// Sites (one gateway each, keyed by the gateway's site id), their PV arrays, the parties with a role on them,
// and their devices with the history of serial numbers (inverter swaps). Ingest creates sites it has not seen
// before without a customer; the back office later fills them in and assigns them.
// Each public call that writes is one transaction: do not call these inside another one.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

struct PvArray {
    std::string name;
    double kwp = 0, tilt_deg = 0, azimuth_deg = 180;  // azimuth: 0 north, 90 east, 180 south
};

struct Site {
    std::string site_id;  // [a-z0-9][a-z0-9-]{0,62}, as configured on the gateway
    std::optional<std::int64_t> customer_id;
    std::string name, address;
    std::optional<double> latitude, longitude;
    std::string time_zone = "UTC";  // IANA name; local days of the daily aggregates are cut in it
    std::vector<PvArray> arrays;
    std::string roof_type;
    std::optional<std::string> installed_on, grid_connected_on, warranty_end;  // YYYY-MM-DD
    int inspection_interval_days = 365;
    std::optional<TimePoint> first_seen;  // set by ingest; ignored on writes
    // The day the plant was commissioned (its project's commissioning milestone, docs/projects.md
    // "Handover"); the preventive-inspection schedule counts from it. Set by the projects' handover only;
    // ignored on writes.
    std::optional<std::string> commissioned_on;
    std::int64_t version = 1;
};

struct Device {
    std::string site_id, device_id, vendor, model, serial, firmware;
    std::optional<std::int64_t> unit_id;
    std::optional<TimePoint> first_seen, last_seen;  // set by ingest; ignored on writes
    // Inverters: the MPPT inputs the gateway's site config wires an array to (from its status); set by
    // ingest, ignored on writes; none when the config does not say.
    std::optional<std::vector<int>> wired_inputs;
    std::int64_t version = 1;
};

struct SiteRole {
    std::string role;  // owner, installer, om_contractor
    std::string party;
};

// One serial change of a device (an inverter swapped, a meter replaced).
struct DeviceHistoryEntry {
    std::string site_id, device_id;
    TimePoint at;
    std::string old_serial, new_serial;
    std::optional<std::int64_t> work_order_id;
};

// Ordered by site id, keyset paging after `after_site_id`; limit 1..1000. customer_id and unassigned_only
// cannot be combined.
Result<std::vector<Site>> list_sites(storage::Db& db, std::optional<std::int64_t> customer_id,
                                     bool unassigned_only, const std::string& after_site_id, int limit);
Result<std::optional<Site>> get_site(storage::Db& db, const std::string& site_id);
// Creates the site or updates it. expected_version: nullopt writes without a check; otherwise
// ErrorKind::conflict when the stored version differs and ErrorKind::not_found when there is no such site.
// Validation errors name the field ("arrays/0/tilt_deg: must be between 0 and 90").
Result<Site> upsert_site(storage::Db& db, Site s, std::optional<std::int64_t> expected_version,
                         const std::string& actor, TimePoint now);
// A new site inside the caller's transaction (a lead's conversion): ErrorKind::conflict at "site_id" when the
// site exists already (a gateway seen before belongs to the back office's PUT), validation as upsert_site's.
Result<Site> create_site_in_transaction(storage::Db& db, Site s, const std::string& actor, TimePoint now);
std::vector<Error> validate_site(const Site& s);

// What a project's milestones decide about its site (docs/projects.md, "Handover to O&M"): the
// grid-connection day, the commissioning day and the warranty's end. Each given field is written (nullopt
// inside: cleared), the version bumped and the change audited, inside the caller's transaction. not_found
// without such a site.
struct SiteMilestoneDates {
    std::optional<std::optional<std::string>> grid_connected_on, commissioned_on, warranty_end;
};
Result<Site> set_site_milestone_dates_in_transaction(
    storage::Db& db, const std::string& site_id, const SiteMilestoneDates& change, const std::string& actor,
    TimePoint now);  // every field error, without database checks

Result<std::vector<Device>> list_devices(storage::Db& db, const std::string& site_id);
// Updates vendor, model, serial, firmware and unit id (creates the device when it is not on record and no
// version is expected). A changed serial appends to the device history, with the work order of the swap.
Result<Device> update_device(storage::Db& db, Device d, std::optional<std::int64_t> expected_version,
                             const std::string& actor, TimePoint now,
                             std::optional<std::int64_t> work_order_id = {});
Result<std::vector<DeviceHistoryEntry>> device_history(storage::Db& db, const std::string& site_id,
                                                       const std::string& device_id);

Result<std::vector<SiteRole>> site_roles(storage::Db& db, const std::string& site_id);
// Replaces all roles of the site.
Status set_site_roles(storage::Db& db, const std::string& site_id, const std::vector<SiteRole>& roles,
                      const std::string& actor, TimePoint now);

}  // namespace pvfleet::records
