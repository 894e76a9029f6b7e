#pragma once
// The site description detection needs, and its JSON form (docs/detection.md, "Site file"):
//   {"latitude": 39.742, "longitude": -105.1727, "elevation_m": 1800,
//    "inverters": [{"id": "inv1", "ac_kw": 5.4, "mppt_inputs": 4}],
//    "arrays": [{"id": "a1", "inverter": "inv1", "mppt": 1, "dc_kw": 5.6, "tilt": 45, "azimuth": 158,
//                "losses": 0.14}],
//    "detection": {"not_producing": {"debounce_min": 30}}}
// Other sections of the site config (devices, sync, ...) are ignored here.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pvfleet/detect/config.hpp"
#include "pvfleet/detect/sun.hpp"
#include "pvfleet/solar/expected_power.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::detect {

struct SiteDetection {
    solar::SiteModel model;
    DetectionConfig config;
    InputWiring wiring;  // inverters whose arrays name their MPPT input ("mppt"): the wired inputs, sorted
    std::map<std::string, int, std::less<>> mppt_inputs;  // inverters' input counts, where the config gives them
};

Result<SiteDetection> parse_site_detection(const nlohmann::json& site);

// SunModel on top of the solar module's clear-sky expected power.
class SolarSunModel final : public SunModel {
public:
    static Result<std::unique_ptr<SolarSunModel>> create(solar::SiteModel site);
    [[nodiscard]] SunConditions at(std::string_view device_id, TimePoint t) const override;
    [[nodiscard]] std::vector<std::string> inverter_ids() const override;
    [[nodiscard]] double longitude_deg() const override;

private:
    explicit SolarSunModel(solar::ExpectedPowerModel model) : model_(std::move(model)) {}
    solar::ExpectedPowerModel model_;
    // Several devices are judged at the same instant: compute the sun once per instant.
    mutable TimePoint cached_t_{};
    mutable bool cached_ = false;
    mutable solar::ExpectedPower cached_power_;
};

}  // namespace pvfleet::detect
