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

TEST_CASE("server config: the documents folder — beside the SQLite file by default, else as configured") {
    using pvfleet::server_app::parse_server_config;
    auto sqlite =
        parse_server_config({{"database", {{"kind", "sqlite"}, {"path", "data/server.db"}}}}, "/etc/pv");
    REQUIRE(sqlite);
    CHECK(sqlite->documents.dir == "/etc/pv/data/documents");
    CHECK_FALSE(sqlite->documents_configured);
    CHECK(sqlite->documents.max_bytes == 25u * 1024 * 1024);
    auto postgres = parse_server_config(
        {{"database", {{"kind", "postgres"}, {"uri", "postgresql://x@h/db"}}}}, "/etc/pv");
    REQUIRE(postgres);
    CHECK(postgres->documents.dir == "/var/lib/pvfleet/documents");
    auto set = parse_server_config({{"database", {{"kind", "sqlite"}, {"path", "server.db"}}},
                                    {"documents", {{"dir", "docs"}, {"max_mb", 5}, {"max_megapixels", 20}}}},
                                   "/srv/pv");
    REQUIRE(set);
    CHECK(set->documents_configured);
    CHECK(set->documents.dir == "/srv/pv/docs");
    CHECK(set->documents.max_bytes == 5u * 1024 * 1024);
    CHECK(set->documents.max_pixels == 20'000'000u);
}
