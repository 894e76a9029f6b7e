#pragma once
// Read queries of the fleet dashboard and of the clear-sky expectation: counts over sites, their status and
// the work orders, daily energy, and the location and PV arrays a site's expected-power model is built from.
// Each figure is its own query, so a caller can show what it has when one fails.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::storage {

Result<std::int64_t> count_sites(Db& db);
Result<std::int64_t> count_unassigned_sites(Db& db);
// Sites whose retained status says online and whose last status arrived at or after `since_ms`.
Result<std::int64_t> count_sites_online(Db& db, std::int64_t since_ms);
Result<std::int64_t> count_open_work_orders_of_severity(Db& db, const std::string& severity);
// Open work orders created in [from_ms, to_ms) (either bound may be absent).
Result<std::int64_t> count_open_work_orders_created(Db& db, std::optional<std::int64_t> from_ms,
                                                    std::optional<std::int64_t> to_ms);

struct OpenOrderDates {
    std::int64_t created_at_ms = 0;
    std::int64_t due_at_ms = 0;
};
Result<std::vector<OpenOrderDates>> open_work_order_dates(Db& db);

// Mean time from creation to closing of the orders closed (with an assignee) since `since_ms`; nullopt when
// none was.
Result<std::optional<double>> mean_repair_ms(Db& db, std::int64_t since_ms);

// The fleet's energy of one day (YYYY-MM-DD): the sum over devices of last − first of the energy counter.
Result<double> fleet_energy_of_day_wh(Db& db, const std::string& day);

// The PV arrays (JSON text) of every site.
Result<std::vector<std::string>> site_arrays_json(Db& db);

// A site's location, arrays (JSON text), time zone and record version: what its clear-sky model needs.
struct SiteModelInputs {
    std::string site_id;
    std::optional<double> latitude, longitude;
    std::string arrays_json;
    std::string time_zone;
    std::int64_t version = 0;
};
Result<std::optional<SiteModelInputs>> site_model_inputs(Db& db, const std::string& site_id);
// The sites with a location and at least one array (site id, version and time zone only).
Result<std::vector<SiteModelInputs>> sites_with_model(Db& db);
// The record version of a site; nullopt when there is no such site.
Result<std::optional<std::int64_t>> site_version(Db& db, const std::string& site_id);

// A new gateway at the site (replacement, docs/fleet-enrollment.md): its outbox numbers from seq 1 again, so the
// site's sequence bookkeeping starts over — the idempotency keys (`received`) and the `site_seq` row. Telemetry,
// tickets and work orders stay where they are, attached to the site.
Status restart_site_sequence(Db& db, const std::string& site_id);

}  // namespace pvfleet::storage
