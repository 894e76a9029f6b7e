#pragma once
// Golden bad-config cases: tests/golden/config/<file>.json holds a valid document and cases, each a JSON
// merge patch (RFC 7386) onto it and the exact error text the parser must give (null: it must parse).
// PVFLEET_GOLDEN_UPDATE=1 rewrites the expected texts from what the parser gives now (review the diff).
#include <doctest/doctest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "support/paths.hpp"

namespace pvfleet::test {

// The error text of parsing `doc`, nullopt when it parses.
using ParseError = std::function<std::optional<std::string>(const nlohmann::json& doc)>;

inline void check_golden_configs(const std::string& file, const ParseError& parse) {
    const auto path = source_dir() / "tests/golden/config" / file;
    auto golden = nlohmann::json::parse(read_file(path));
    const bool update = std::getenv("PVFLEET_GOLDEN_UPDATE") != nullptr;
    REQUIRE_FALSE(parse(golden.at("valid")).has_value());
    for (auto& c : golden.at("cases")) {
        auto doc = golden.at("valid");
        doc.merge_patch(c.at("patch"));
        const auto error = parse(doc);
        const nlohmann::json got = error ? nlohmann::json(*error) : nlohmann::json(nullptr);
        if (update) {
            c["error"] = got;
            continue;
        }
        INFO(file << ": " << c.at("name").get<std::string>());
        CHECK(got == c.at("error"));
    }
    if (update) std::ofstream(path) << golden.dump(1) << "\n";
}

}  // namespace pvfleet::test
