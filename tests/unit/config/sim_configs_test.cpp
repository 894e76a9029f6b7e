// The simulator's site and scenario files refuse bad documents with the same texts as ever (golden cases in
// tests/golden/config).
#include <doctest/doctest.h>

#include "golden_cases.hpp"
#include "pvfleet/sim/faults.hpp"
#include "pvfleet/sim/site.hpp"

using pvfleet::test::check_golden_configs;

TEST_CASE("simulator site: every bad document gets its golden error") {
    check_golden_configs("sim-site.json", [](const nlohmann::json& doc) -> std::optional<std::string> {
        auto s = pvfleet::sim::parse_site(doc);
        if (s) return std::nullopt;
        return s.error().message;
    });
}

TEST_CASE("simulator scenario: every bad document gets its golden error") {
    check_golden_configs("sim-scenario.json", [](const nlohmann::json& doc) -> std::optional<std::string> {
        auto s = pvfleet::sim::parse_scenario(doc.dump());
        if (s) return std::nullopt;
        return s.error().message;
    });
}
