// Enrollment codes: generation, the forgiving reading of what people type, the check symbol, TTLs.
#include <doctest/doctest.h>

#include <set>

#include "pvfleet/enrollment/code.hpp"
#include "pvfleet/enrollment/qr.hpp"

using namespace pvfleet;
using namespace pvfleet::enrollment;

TEST_CASE("enrollment code: 16 Crockford symbols, shown as 4x4, read back exactly") {
    std::set<std::string> seen;
    for (int i = 0; i < 200; ++i) {
        const std::string code = generate_code();
        REQUIRE(code.size() == 16);
        for (const char c : code) CHECK(kCrockford.find(c) != std::string_view::npos);
        const std::string shown = display_code(code);
        CHECK(shown.size() == 19);
        CHECK(shown[4] == '-');
        CHECK(shown[9] == '-');
        CHECK(shown[14] == '-');
        const auto back = normalize_code(shown);
        REQUIRE(back);
        CHECK(*back == code);
        CHECK(code_hint(code) == code.substr(12));
        seen.insert(code);
    }
    CHECK(seen.size() == 200);
    CHECK(code_hash("0123456789ABCDEF").size() == 64);
    CHECK(code_hash("0123456789ABCDEF") != code_hash("0123456789ABCDEG"));
}

TEST_CASE("enrollment code: case, I/L for 1, O for 0, hyphens and blanks are forgiven") {
    // A code whose symbols include 0 and 1, so the look-alikes matter.
    std::string fifteen = "10A0B1C0D1E0F1G";
    const std::string code = fifteen + check_symbol(fifteen);
    std::string typed;
    for (std::size_t i = 0; i < code.size(); ++i) {
        char c = code[i];
        if (c == '1') c = (i % 2 == 0) ? 'l' : 'I';
        else if (c == '0') c = 'o';
        else c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        typed += c;
        if (i % 4 == 3 && i != 15) typed += (i == 7 ? " " : " - ");
    }
    const auto read = normalize_code(typed);
    REQUIRE_MESSAGE(read, typed);
    CHECK(*read == code);
}

TEST_CASE("enrollment code: refusals say why") {
    const std::string code = generate_code();
    CHECK(normalize_code(code.substr(0, 15)).error().message == "code: 15 symbols (expected 16, as XXXX-XXXX-XXXX-XXXX)");
    CHECK(normalize_code("U" + code.substr(1)).error().message ==
          "code: 'U' at position 1 is not a code symbol (0-9, A-Z without U)");
    CHECK(normalize_code(code + "0").error().message == "code: 17 symbols (expected 16, as XXXX-XXXX-XXXX-XXXX)");
    CHECK(normalize_code(std::string(70, 'A')).error().path == "code");
}

TEST_CASE("enrollment code: every single mistyped symbol is caught; neighbour swaps nearly always") {
    // Exhaustive over positions and replacement symbols for 200 random codes: the Luhn mod 32 check symbol
    // catches every single substitution. Swaps of two different neighbours: counted (Luhn mod N misses only the
    // pairs whose doubled digit sums coincide).
    long substitutions = 0;
    long caught = 0;
    long swaps = 0;
    long swaps_caught = 0;
    for (int n = 0; n < 200; ++n) {
        const std::string code = generate_code();
        for (std::size_t i = 0; i < code.size(); ++i) {
            for (const char s : kCrockford) {
                if (s == code[i]) continue;
                std::string typo = code;
                typo[i] = s;
                ++substitutions;
                if (!normalize_code(typo)) ++caught;
            }
            if (i + 1 < code.size() && code[i] != code[i + 1]) {
                std::string swapped = code;
                std::swap(swapped[i], swapped[i + 1]);
                ++swaps;
                if (!normalize_code(swapped)) ++swaps_caught;
            }
        }
    }
    CHECK(caught == substitutions);
    MESSAGE("neighbour swaps caught: " << swaps_caught << " of " << swaps << " ("
                                       << (100.0 * static_cast<double>(swaps_caught) / static_cast<double>(swaps)) << " %)");
    CHECK(static_cast<double>(swaps_caught) / static_cast<double>(swaps) > 0.9);
}

TEST_CASE("enrollment code: TTLs in s, m, h, d within the maximum") {
    const auto max = std::chrono::hours(720);
    CHECK(*parse_ttl("72h", max) == std::chrono::hours(72));
    CHECK(*parse_ttl("30m", max) == std::chrono::minutes(30));
    CHECK(*parse_ttl("3d", max) == std::chrono::hours(72));
    CHECK(*parse_ttl("90s", max) == std::chrono::seconds(90));
    CHECK(*parse_ttl("30d", max) == std::chrono::hours(720));
    for (const char* bad : {"", "h", "0h", "-1h", "72", "72x", "31d", "1.5h", "99999999999999h"})
        CHECK_MESSAGE(!parse_ttl(bad, max), bad);
    CHECK(parse_ttl("31d", max).error().message ==
          "ttl: '31d' (expected a whole number and a unit, e.g. 72h, 30m, 3d, at most 720h)");
}

TEST_CASE("enrollment code: the QR code as SVG") {
    const auto svg = qr_svg(display_code("7K3MQ9TX2HWDR4N0"));
    REQUIRE(svg);
    // 19 alphanumeric symbols fit version 1 (21 modules) at level M; 4 modules of quiet zone on each side.
    CHECK(svg->rfind("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 29 29\"", 0) == 0);
    CHECK(svg->find("<path d=\"M4 4h1v1h-1z") != std::string::npos);  // the finder pattern's corner
    CHECK(svg->size() < 8000);
    CHECK(!qr_svg(""));
    CHECK(!qr_svg(std::string(300, 'A')));
}
