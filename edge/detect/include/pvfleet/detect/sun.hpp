#pragma once
// What detection needs to know about the sun and the plant: a narrow seam so detectors stay testable with a
// fake sun, and the solar model (pvfleet::solar) is wired in by the app (see solar_sun.hpp).
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::detect {

struct SunConditions {
    double elevation_deg = -90;  // apparent solar elevation at the site
    double expected_ac_w = 0;    // clear-sky expected AC power of this device (0 when unknown)
    double ac_rating_w = 0;      // nameplate AC power of this device (0 when unknown)
};

class SunModel {
public:
    virtual ~SunModel() = default;
    [[nodiscard]] virtual SunConditions at(std::string_view device_id, TimePoint t) const = 0;
    // Inverters of the site (the grid-outage rule needs to know "all of them").
    [[nodiscard]] virtual std::vector<std::string> inverter_ids() const = 0;
    // Site longitude: local solar days (midnight to midnight in mean solar time) need no time zone.
    [[nodiscard]] virtual double longitude_deg() const = 0;
};

}  // namespace pvfleet::detect
