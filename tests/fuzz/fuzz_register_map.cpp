// libFuzzer target for the register-map loader of edge/devices: JSON text → parse_register_map (vendor maps)
// and parse_sunspec_model_map (SunSpec model maps) → validate. Properties:
//  - no crash, leak, hang or undefined behaviour on any bytes (sanitizers);
//  - every rejection carries a message that starts with the map's name (errors name the file);
//  - a vendor map that loads also validates, and every register lies within the 16-bit address space.
// Inputs whose identify pattern is long or deeply parenthesised are skipped: the pattern goes to std::regex, whose
// libstdc++ compiler recurses per group (maps are trusted files; see docs/security.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "pvfleet/devices/register_map.hpp"

using namespace pvfleet::devices;

namespace {
[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_register_map: %s: %s\n", what, detail.c_str());
    std::abort();
}

constexpr const char* kName = "fuzz.json";

template <class R>
void expect_named(const R& r) {
    if (!r.ok() && r.error().message.rfind(kName, 0) != 0) fail("error does not name the map", r.error().message);
}

bool regex_is_tame(const nlohmann::json& doc) {
    if (!doc.is_object()) return true;
    auto id = doc.find("identify");
    if (id == doc.end() || !id->is_object()) return true;
    auto p = id->find("pattern");
    if (p == id->end() || !p->is_string()) return true;
    const auto& s = p->get_ref<const std::string&>();
    int depth = 0;
    int deepest = 0;
    for (char c : s) {
        if (c == '(') deepest = std::max(deepest, ++depth);
        if (c == ')') --depth;
    }
    return s.size() <= 128 && deepest <= 8 && s.find('{') == std::string::npos;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const auto doc = nlohmann::json::parse(text, nullptr, false);
    if (doc.is_discarded() || !regex_is_tame(doc)) return 0;
    auto map = parse_register_map(doc, kName);
    expect_named(map);
    if (map.ok()) {
        if (auto v = validate(*map); !v.ok()) fail("loaded map does not validate", v.error().message);
        for (const auto& r : map->registers)
            if (static_cast<std::uint32_t>(r.address) + r.words > 0x10000u)
                fail("register beyond 0xFFFF", r.id + " at " + std::to_string(r.address));
    }
    auto model = parse_sunspec_model_map(doc, kName);
    expect_named(model);
    return 0;
}
