#include "pvfleet/agent/ratings.hpp"

#include "pvfleet/detect/site.hpp"

namespace pvfleet::agent {

DeviceRatings device_ratings(const solar::SiteModel& site) {
    DeviceRatings out;
    for (const auto& inv : site.inverters) {
        if (inv.ac_kw > 0) out[inv.id].ac_w = inv.ac_kw * 1000.0;
    }
    for (const auto& a : site.arrays) {
        if (a.dc_kwp > 0) out[a.inverter_id].dc_w = out[a.inverter_id].dc_w.value_or(0.0) + a.dc_kwp * 1000.0;
    }
    return out;
}

DeviceRatings device_ratings(const SiteConfig& config) {
    auto site = detect::parse_site_detection(config.detection_site);  // checked when the config was parsed
    if (!site) return {};
    return device_ratings(site->model);
}

}  // namespace pvfleet::agent
