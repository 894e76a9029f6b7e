// The gateway's site config refuses bad documents with the same texts as ever (golden cases in
// tests/golden/config).
#include <doctest/doctest.h>

#include "golden_cases.hpp"
#include "pvfleet/agent/site_config.hpp"

using pvfleet::test::check_golden_configs;

TEST_CASE("site config: every bad document gets its golden error") {
    check_golden_configs("site-config.json", [](const nlohmann::json& doc) -> std::optional<std::string> {
        auto c = pvfleet::agent::parse_site_config(doc, "/nonexistent-base");
        if (c) return std::nullopt;
        return c.error().message;
    });
}
