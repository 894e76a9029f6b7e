// The server's config file refuses bad documents with the same texts as ever (golden cases in
// tests/golden/config).
#include <doctest/doctest.h>

#include "golden_cases.hpp"
#include "pvfleet/server_app/config.hpp"

TEST_CASE("server config: every bad document gets its golden error") {
    pvfleet::test::check_golden_configs("server-config.json", [](const nlohmann::json& doc) -> std::optional<std::string> {
        auto c = pvfleet::server_app::parse_server_config(doc, "/nonexistent-base");
        if (c) return std::nullopt;
        return c.error().message;
    });
}
