#pragma once
// Aggregation of raw samples into fixed windows (the quota policy's 5-minute aggregates, docs/protocol.md):
// powers, voltages, currents, frequency, temperatures and other scalars: the mean over the window; energy
// counters (names ending in "_wh"): the last value; per-MPPT/per-phase arrays: the element-wise mean;
// inverter state: the last; events: the union. Each aggregate is stamped with the start of its window (UTC
// aligned). Output is grouped by device (first appearance order) and in time order within a device.
#include <chrono>
#include <vector>

#include "pvfleet/domain/sample.hpp"

namespace pvfleet::store {

std::vector<domain::Sample> downsample(const std::vector<domain::Sample>& raw, std::chrono::seconds window);

}  // namespace pvfleet::store
