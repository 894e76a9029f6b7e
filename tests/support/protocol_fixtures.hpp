#pragma once
// Realistic protocol messages and a measured site-day, for the protocol and sync tests.
#include <string>
#include <vector>

#include "pvfleet/protocol/messages.hpp"

namespace pvfleet::protocol::test {

// 2016-07-19 08:00:00 UTC.
TimePoint base_time();
// One sample of a producing single-phase inverter with 2 MPPTs at time t.
domain::Sample inverter_sample(const std::string& device_id, TimePoint t, double ac_power_w);
TelemetryBatch telemetry_batch();
TicketEventMessage ticket_event();
StatusMessage status_online();
std::vector<Command> commands();
CommandAck command_ack();

// A whole day of two inverters at 10-second resolution, shaped by a real measured day (2016-07-19, a
// thunderstorm day at NREL SERF) when the reference data is present, by a synthetic cloudy day otherwise.
struct SiteDay {
    std::vector<domain::Sample> samples;  // time order, both devices interleaved
    std::string source;                   // what shaped it
};
SiteDay site_day();

}  // namespace pvfleet::protocol::test
