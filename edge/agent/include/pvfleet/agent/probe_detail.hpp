#pragma once
// The ack detail of the downlink command `probe` (docs/protocol.md), built without a running agent.
#include <cstddef>
#include <string>

#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/domain/sample.hpp"

namespace pvfleet::agent {

// The probe ack's `detail`: compact JSON {"device_id", "t", "device": {profile, vendor, ...}, "points":
// {...}} (the points in `pvfleet-edge probe --json`'s shape). Above `max_bytes` the per-MPPT/per-phase arrays
// go first, then the points ("truncated": true says so), so the ack stays small whatever the map reads.
inline constexpr std::size_t kMaxProbeDetailBytes = 16 * 1024;
std::string probe_detail(const domain::Sample& reading, const devices::DeviceIdentity& identity,
                         std::size_t max_bytes = kMaxProbeDetailBytes);

}  // namespace pvfleet::agent
