#pragma once
// The handover to O&M from the plant itself (docs/projects.md, "Handover to O&M"): a pass that finds projects
// whose commissioning milestone is open and whose site has produced, and in one transaction per project marks
// the milestone done on the first production's local day, appends `site.first_production` to the event log,
// starts the site's warranty and inspection schedule from that day, and lets the stage follow (O&M). Run by
// the reminder scheduler on each of its passes.
#include <cstdint>
#include <optional>
#include <string>

#include "pvfleet/projects/settings.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::projects {

// The first reading of a site that counts as production: the earliest sample, at or after `since`, of any of
// its devices with ac_power_w ≥ the threshold (a 0 W heartbeat, a waiting inverter's reading, is none). Found
// through the daily aggregates (the first local day whose maximum reaches it), then that day's 5-minute
// aggregates, then the raw readings of that bucket (when retention has removed them: the bucket's start).
struct FirstProduction {
    TimePoint at;
    std::string device_id;
    double power_w = 0;
    std::optional<double> energy_total_wh;  // the inverter's counter at that reading, when it sent one
};
Result<std::optional<FirstProduction>> first_production(storage::Db& db, const std::string& site_id,
                                                        const std::string& time_zone, TimePoint since,
                                                        double min_power_w);

// The calendar day (YYYY-MM-DD) of an instant in an IANA time zone (UTC when the zone is unknown).
std::string local_date(TimePoint t, const std::string& time_zone);

// A project the plant handed over, as recorded (project_handovers).
struct Handover {
    std::int64_t project_id = 0, milestone_id = 0, event_id = 0;
    std::string site_id;
    FirstProduction first;
    std::string commissioned_on;
    TimePoint created_at;
};
Result<std::optional<Handover>> handover_of_project(storage::Db& db, std::int64_t project_id);

// The actor of the handover's milestone change, audit entries and site change.
inline constexpr const char* kHandoverActor = "system:handover";

struct HandoverReport {
    int checked = 0;      // active projects with a site and the commissioning milestone open
    int handed_over = 0;  // commissioned now
};
// One pass at `now`: each project handed over in a transaction of its own. Idempotent: a project commissioned
// meanwhile (by hand, or by another server's pass) is left alone.
Result<HandoverReport> run_handover_pass(storage::Db& db, const ProjectSettings& settings, TimePoint now);

}  // namespace pvfleet::projects
