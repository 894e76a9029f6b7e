#pragma once
// Each configured device's rating, the scale of its plausibility bounds (acquisition/plausibility.hpp): an
// inverter's `ac_kw` and the `dc_kw` of the arrays on it. Meters and batteries have none (physical bounds only).
#include <map>
#include <string>

#include "pvfleet/acquisition/plausibility.hpp"
#include "pvfleet/agent/site_config.hpp"

namespace pvfleet::agent {

std::map<std::string, acquisition::Rating, std::less<>> device_ratings(const SiteConfig& config);

}  // namespace pvfleet::agent
