// Every detector setting refuses a value outside its range with its golden error, and combinations that could
// never be met are refused too (golden cases in tests/golden/config/detection-settings.json).
#include <doctest/doctest.h>

#include <set>

#include "golden_cases.hpp"
#include "pvfleet/detect/config.hpp"

TEST_CASE("detection settings: every bad value gets its golden error") {
    pvfleet::test::check_golden_configs("detection-settings.json", [](const nlohmann::json& doc) -> std::optional<std::string> {
        auto c = pvfleet::detect::parse_detection_config(doc);
        if (c) return std::nullopt;
        return c.error().message;
    });
}

TEST_CASE("detection settings: every setting has a golden out-of-range case") {
    const auto golden = nlohmann::json::parse(
        pvfleet::test::read_file(pvfleet::test::source_dir() / "tests/golden/config/detection-settings.json"));
    std::set<std::string> covered;
    for (const auto& c : golden.at("cases")) {
        if (!c.at("error").is_string()) continue;
        for (const auto& [section, body] : c.at("patch").items())
            for (const auto& [key, value] : body.items()) covered.insert(section + "/" + key);
    }
    const auto all = pvfleet::detect::to_json(pvfleet::detect::DetectionConfig{});
    for (const auto& [section, body] : all.items()) {
        for (const auto& [key, value] : body.items()) CHECK_MESSAGE(covered.count(section + "/" + key), section << "/" << key);
    }
}
