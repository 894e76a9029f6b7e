#pragma once
#include <nlohmann/json.hpp>

#include "pvfleet/sim/site.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::sim::test {

inline nlohmann::json site_json() {
    return nlohmann::json::parse(R"({
      "name": "unit-site", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
      "time_zone": "Europe/Berlin", "ambient_c": 18, "clouds": "none", "night": "sleep",
      "devices": [
        {"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2},
        {"name": "inv2", "unit": 2, "profile": "sunspec", "ac_kw": 3.0}
      ],
      "arrays": [
        {"id": "south", "device": "inv1", "mppt": 1, "dc_kwp": 5.6, "tilt_deg": 35, "azimuth_deg": 180},
        {"id": "west", "device": "inv1", "mppt": 2, "dc_kwp": 2.8, "tilt_deg": 35, "azimuth_deg": 270},
        {"id": "garage", "device": "inv2", "mppt": 1, "dc_kwp": 3.0, "tilt_deg": 15, "azimuth_deg": 160}
      ]})");
}

inline SiteSpec site(const nlohmann::json& doc = site_json()) {
    auto s = parse_site(doc);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return *s;
}

inline TimePoint at(const char* iso) { return parse_iso8601(iso).value(); }

}  // namespace pvfleet::sim::test
