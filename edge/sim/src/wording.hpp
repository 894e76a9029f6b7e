#pragma once
// How the simulator's files (site, fault scenario) word a bad key: they stop at the first error and say
// "missing", "expected a string", "5 out of range [1, 3]" (tests and users know these texts).
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::sim {

const config::Wording& sim_wording();

}  // namespace pvfleet::sim
