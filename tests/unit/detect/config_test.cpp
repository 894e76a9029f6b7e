#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "pvfleet/detect/config.hpp"
#include "pvfleet/detect/site.hpp"

using namespace pvfleet;

TEST_CASE("detection config: defaults, overrides, errors naming the key path") {
    auto d = detect::parse_detection_config(nlohmann::json::object());
    REQUIRE(d.ok());
    CHECK(d->not_producing.debounce_min == 30);
    auto o = detect::parse_detection_config(
        nlohmann::json::parse(R"({"not_producing": {"debounce_min": 45}, "inverter_fault": {"repeat_count": 5}})"));
    REQUIRE(o.ok());
    CHECK(o->not_producing.debounce_min == 45);
    CHECK(o->inverter_fault.repeat_count == 5);
    CHECK(o->comm_lost.debounce_min == 30);
    CHECK(detect::parse_detection_config(nlohmann::json::parse(R"({"not_producing": {"debounce_min": -1}})"))
              .error()
              .message.starts_with("not_producing/debounce_min: expected a number >= 0"));
    CHECK(detect::parse_detection_config(nlohmann::json::parse(R"({"not_producing": {"debounce": 1}})"))
              .error()
              .message == "not_producing/debounce: unknown setting");
    CHECK(detect::parse_detection_config(nlohmann::json::parse(R"({"inverter_fault": {"repeat_count": 2.5}})"))
              .error()
              .message.starts_with("inverter_fault/repeat_count: expected an integer"));
    CHECK(detect::parse_detection_config(nlohmann::json::parse(R"({"nope": {}})")).error().message ==
          "nope: unknown detector section");
    // to_json lists every setting and parses back to the same values
    auto j = detect::to_json(*o);
    auto back = detect::parse_detection_config(j);
    REQUIRE(back.ok());
    CHECK(detect::to_json(*back) == j);
}

TEST_CASE("site file: arrays, inverters, detection; errors with key paths") {
    auto site = nlohmann::json::parse(R"({"latitude": 39.742, "longitude": -105.1727, "elevation_m": 1800,
        "inverters": [{"id": "inv1", "ac_kw": 5.4}],
        "arrays": [{"id": "a1", "inverter": "inv1", "dc_kw": 5.6, "tilt": 45, "azimuth": 158}],
        "detection": {"comm_lost": {"debounce_min": 60}}})");
    auto s = detect::parse_site_detection(site);
    REQUIRE(s.ok());
    CHECK(s->model.arrays.size() == 1);
    CHECK(s->config.comm_lost.debounce_min == 60);
    auto sun = detect::SolarSunModel::create(s->model);
    REQUIRE(sun.ok());
    // 2016-07-01 12:30 MDT = 18:30 UTC: high sun, a real expectation; 02:00 local: night.
    auto noon = (*sun)->at("inv1", from_epoch_ms(1'467'397'800'000LL));
    CHECK(noon.elevation_deg > 50);
    CHECK(noon.expected_ac_w > 2500);
    CHECK(noon.ac_rating_w == 5400);
    CHECK((*sun)->at("inv1", from_epoch_ms(1'467'360'000'000LL)).expected_ac_w == 0);

    site["arrays"][0]["tilt"] = 120;
    CHECK(detect::parse_site_detection(site).error().message.starts_with("arrays/0/tilt: expected a number"));
    site["arrays"][0]["tilt"] = 45;
    site["detection"]["comm_lost"]["debounce_min"] = "x";
    CHECK(detect::parse_site_detection(site).error().message.starts_with("detection/comm_lost/debounce_min"));
}
