#pragma once
// Read queries over what the gateways sent: telemetry at its three resolutions, each site's last status, the
// tickets and the commands sent down. The API's charts, site pages and ticket list read through these; ingest
// writes the tables.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::storage {

// One row of telemetry_raw: one device's readings from one batch (a JSON array, each reading with "t").
struct RawTelemetryRow {
    std::string device_id;
    std::int64_t t_first_ms = 0;
    std::string samples_json;
};

// Rows holding a reading in [from_ms, to_ms], in start order, at most `limit`. A row spans less than
// kRawRowSpanMs, so every such row starts in [from_ms - span, to_ms].
Result<std::vector<RawTelemetryRow>> raw_telemetry(Db& db, const std::string& site_id, std::int64_t from_ms,
                                                   std::int64_t to_ms,
                                                   const std::optional<std::string>& device_id,
                                                   std::int64_t limit);

// One point of one device in one 5-minute bucket (starting at `bucket_ms`)
// or one local day (`day` YYYY-MM-DD, with the first and last value of the day).
struct AggregateRow {
    std::string device_id;
    std::int64_t bucket_ms = 0;  // 5-minute rows
    std::string day;             // daily rows
    std::string point;
    std::int64_t n = 0;
    double sum = 0, min = 0, max = 0;
    double first = 0, last = 0;  // daily rows
};

struct AggregateFilter {
    std::optional<std::string> device_id;
    std::optional<std::string> point;
};

// 5-minute buckets starting in [from_ms, to_ms], ordered by bucket, device, point; at most 50 000.
Result<std::vector<AggregateRow>> five_minute_telemetry(Db& db, const std::string& site_id,
                                                        std::int64_t from_ms, std::int64_t to_ms,
                                                        const AggregateFilter& filter);
// Local days in [from_day, to_day] (YYYY-MM-DD), ordered by day, device, point; at most 50 000.
Result<std::vector<AggregateRow>> daily_telemetry(Db& db, const std::string& site_id,
                                                  const std::string& from_day, const std::string& to_day,
                                                  const AggregateFilter& filter);

// The gateway's last status message as received (JSON text) and when it arrived.
struct SiteStatusRow {
    std::string body_json;
    std::int64_t received_at_ms = 0;
};
Result<std::optional<SiteStatusRow>> site_status(Db& db, const std::string& site_id);

// Gateway tickets as last reported (body: {"ticket": …, "event": …}), newest change first.
struct TicketRow {
    std::string site_id;
    std::string ticket_id;
    std::string body_json;
};
struct TicketFilter {
    std::optional<std::string> site_id;
    std::optional<std::string> state;
    std::int64_t limit = 100;
};
Result<std::vector<TicketRow>> list_tickets(Db& db, const TicketFilter& filter);
Result<bool> ticket_exists(Db& db, const std::string& site_id, const std::string& ticket_id);

// Commands sent to a gateway and their acknowledgements, newest first, at most 200.
struct CommandRow {
    std::string command_id, command;
    std::int64_t issued_at_ms = 0;
    std::string issued_by, status, detail;
    std::optional<std::int64_t> acked_at_ms;
};
Result<std::vector<CommandRow>> list_commands(Db& db, const std::string& site_id);

}  // namespace pvfleet::storage
