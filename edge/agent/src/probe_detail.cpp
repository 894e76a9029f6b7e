#include "pvfleet/agent/probe_detail.hpp"

#include <nlohmann/json.hpp>

#include "pvfleet/util/time.hpp"

namespace pvfleet::agent {

std::string probe_detail(const domain::Sample& reading, const devices::DeviceIdentity& identity,
                         std::size_t max_bytes) {
    auto j = devices::to_probe_json(identity, reading);
    j["device_id"] = reading.device_id;
    j["t"] = format_iso8601(reading.t);
    auto text = j.dump();
    if (text.size() <= max_bytes) return text;
    // Scalars say most about a device (power, state, energy): the arrays go first.
    auto& points = j["points"];
    for (const auto& [name, values] : reading.arrays) points.erase(name);
    j.erase("mppt_inputs");
    j["truncated"] = true;
    text = j.dump();
    if (text.size() <= max_bytes) return text;
    j.erase("points");
    return j.dump();
}

}  // namespace pvfleet::agent
