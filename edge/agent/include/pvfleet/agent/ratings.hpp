#pragma once
// Each configured device's rating, the scale of its plausibility bounds (acquisition/plausibility.hpp): an
// inverter's `ac_kw` and the `dc_kw` of the arrays on it. Meters and batteries have none (physical bounds only).
// The live agent and `pvfleet-edge replay` both take their bounds from here.
#include <map>
#include <string>

#include "pvfleet/acquisition/plausibility.hpp"
#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/solar/expected_power.hpp"

namespace pvfleet::agent {

using DeviceRatings = std::map<std::string, acquisition::Rating, std::less<>>;

DeviceRatings device_ratings(const solar::SiteModel& site);
DeviceRatings device_ratings(const SiteConfig& config);

}  // namespace pvfleet::agent
