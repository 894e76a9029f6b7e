#include "ratings.hpp"

#include "pvfleet/detect/site.hpp"

namespace pvfleet::agent {

std::map<std::string, acquisition::Rating, std::less<>> device_ratings(const SiteConfig& config) {
    std::map<std::string, acquisition::Rating, std::less<>> out;
    auto site = detect::parse_site_detection(config.detection_site);  // checked when the config was parsed
    if (!site) return out;
    for (const auto& inv : site->model.inverters) {
        if (inv.ac_kw > 0) out[inv.id].ac_w = inv.ac_kw * 1000.0;
    }
    for (const auto& a : site->model.arrays) {
        if (a.dc_kwp > 0) out[a.inverter_id].dc_w = out[a.inverter_id].dc_w.value_or(0.0) + a.dc_kwp * 1000.0;
    }
    return out;
}

}  // namespace pvfleet::agent
