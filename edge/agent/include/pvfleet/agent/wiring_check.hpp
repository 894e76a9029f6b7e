#pragma once
// The wired MPPT inputs of a site config (`inverters[].mppt_inputs`, `arrays[].mppt`) against the inputs the
// inverter's register map reads (devices::mppt_input_count). An array wired to an input the map cannot read
// would look open from its first sunny hour; an `mppt_inputs` above the map's count leaves inputs unwatched.
// Checked when the agent starts (named profiles: start refused on an array beyond the map) and again when a
// device is identified (auto, sunspec, model variants: logged, the device still polls).
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/devices/register_map.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::agent {

struct WiringMisfit {
    Error error;         // key path and text, e.g. "arrays/1/mppt: input 3 of inverter 'inv1', but ..."
    bool array = false;  // an array is wired beyond the map (a false open-string ticket); else mppt_inputs
};

// Every misfit of inverter `inverter_id`'s wiring against `map` (concrete or not); empty when it fits or the
// config names no wiring for it.
std::vector<WiringMisfit> wiring_misfits(const SiteConfig& config, std::string_view inverter_id,
                                         const devices::RegisterMap& map);

}  // namespace pvfleet::agent
