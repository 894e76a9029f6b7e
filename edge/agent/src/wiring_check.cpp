#include "pvfleet/agent/wiring_check.hpp"

#include <nlohmann/json.hpp>

namespace pvfleet::agent {

namespace {

// "register map 'solax-x1-x3' (variant x1) reads 2 MPPT inputs"
std::string map_reads(const devices::RegisterMap& map, int inputs) {
    std::string s = "register map '" + map.profile + "'";
    if (!map.variant.empty()) s += " (variant " + map.variant + ")";
    return s + " reads " + std::to_string(inputs) + (inputs == 1 ? " MPPT input" : " MPPT inputs");
}

}  // namespace

std::vector<WiringMisfit> wiring_misfits(const SiteConfig& config, std::string_view inverter_id,
                                         const devices::RegisterMap& map) {
    std::vector<WiringMisfit> out;
    const int inputs = devices::mppt_input_count(map);
    const auto& site = config.detection_site;
    const std::string inv(inverter_id);
    if (site.contains("inverters") && site["inverters"].is_array()) {
        const auto& list = site["inverters"];
        for (size_t i = 0; i < list.size(); ++i) {
            const auto& j = list[i];
            if (!j.is_object() || j.value("id", std::string()) != inv || !j.contains("mppt_inputs")) continue;
            const int n = j["mppt_inputs"].is_number_integer() ? j["mppt_inputs"].get<int>() : 0;
            if (n > inputs)
                out.push_back({Error::at("inverters/" + std::to_string(i) + "/mppt_inputs",
                                         std::to_string(n) + " inputs on inverter '" + inv + "', but " +
                                             map_reads(map, inputs) + ": inputs above " + std::to_string(inputs) +
                                             " are not watched"),
                               false});
        }
    }
    if (site.contains("arrays") && site["arrays"].is_array()) {
        const auto& list = site["arrays"];
        for (size_t i = 0; i < list.size(); ++i) {
            const auto& j = list[i];
            if (!j.is_object() || j.value("inverter", std::string()) != inv || !j.contains("mppt")) continue;
            const int n = j["mppt"].is_number_integer() ? j["mppt"].get<int>() : 0;
            if (n > inputs)
                out.push_back({Error::at("arrays/" + std::to_string(i) + "/mppt",
                                         "input " + std::to_string(n) + " of inverter '" + inv + "', but " +
                                             map_reads(map, inputs) +
                                             " (an input it cannot read would look open from day one)"),
                               true});
        }
    }
    return out;
}

}  // namespace pvfleet::agent
