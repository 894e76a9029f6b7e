#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "pvfleet/sim/encode.hpp"
#include "pvfleet/sim/profile.hpp"
#include "support/paths.hpp"

using namespace pvfleet::sim;
using W = std::vector<uint16_t>;

TEST_CASE("values encode with scale, sign, word order and sentinels") {
    CHECK(encode_value(230.4, WordType::u16, -1) == W{2304});
    CHECK(encode_value(-12.5, WordType::s16, -1) == W{static_cast<uint16_t>(-125)});
    CHECK(encode_value(123456789.0, WordType::u32) == W{0x075B, 0xCD15});
    CHECK(encode_value(123456789.0, WordType::u32, 0, WordOrder::little_endian) == W{0xCD15, 0x075B});
    CHECK(encode_value(-2.0, WordType::s32) == W{0xFFFF, 0xFFFE});
    CHECK(encode_value(-2, WordType::sunssf) == W{0xFFFE});
    CHECK(encode_value(1.0, WordType::u64) == W{0, 0, 0, 1});
    // Saturation never produces the "not implemented" value.
    CHECK(encode_value(1e9, WordType::u16) == W{0xFFFE});
    CHECK(encode_value(-1e9, WordType::s16) == W{0x8001});
    CHECK(encode_value(-5.0, WordType::u16) == W{0});
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(encode_value(nan, WordType::u16) == W{0xFFFF});
    CHECK(encode_value(nan, WordType::s16) == W{0x8000});
    CHECK(encode_value(nan, WordType::acc32) == W{0, 0});
    CHECK(encode_value(nan, WordType::s32, 0, WordOrder::little_endian) == W{0x0000, 0x8000});
    CHECK(encode_string("SunS", 2) == W{0x5375, 0x6E53});
    CHECK(encode_string("abc", 3) == W{0x6162, 0x6300, 0});
}

// The SunSpec profile's offsets must agree with the official model definitions in the reference data.
namespace {
void check_offsets(const std::string& file, std::span<const sunspec::PointOffset> ours, int group_index, uint16_t total) {
    const auto path = pvfleet::test::reference_dir() / "reference" / "sunspec-models" / file;
    if (!std::filesystem::exists(path)) {
        MESSAGE("skipped: " << path << " not found");
        return;
    }
    const auto model = nlohmann::json::parse(std::ifstream(path));
    const auto& group = group_index < 0 ? model.at("group") : model.at("group").at("groups").at(group_index);
    std::map<std::string, int> official;
    int offset = 0;
    bool skip_header = group_index < 0;
    for (const auto& p : group.at("points")) {
        const auto name = p.at("name").get<std::string>();
        if (skip_header && (name == "ID" || name == "L")) continue;
        official[name] = offset;
        offset += p.at("size").get<int>();
    }
    CHECK(offset == total);
    for (const auto& o : ours) {
        INFO(file << " " << o.name);
        REQUIRE(official.count(std::string(o.name)) == 1);
        CHECK(official.at(std::string(o.name)) == o.offset);
    }
}
}  // namespace

TEST_CASE("SunSpec profile offsets agree with the official models 1, 101, 103, 120 and 160") {
    check_offsets("model_1.json", sunspec::common_offsets(), -1, sunspec::common_length);
    check_offsets("model_103.json", sunspec::inverter_offsets(), -1, sunspec::inverter_length);
    check_offsets("model_101.json", sunspec::inverter_offsets(), -1, sunspec::inverter_length);
    check_offsets("model_160.json", sunspec::mppt_offsets(), -1, sunspec::mppt_header_length);
    check_offsets("model_160.json", sunspec::mppt_module_offsets(), 0, sunspec::mppt_module_length);
    check_offsets("model_120.json", sunspec::nameplate_offsets(), -1, sunspec::nameplate_length);
}

TEST_CASE("SunSpec Evt1 bits follow the official symbol table") {
    const auto path = pvfleet::test::reference_dir() / "reference" / "sunspec-models" / "model_103.json";
    if (!std::filesystem::exists(path)) return;
    const auto model = nlohmann::json::parse(std::ifstream(path));
    for (const auto& p : model.at("group").at("points")) {
        if (p.at("name") != "Evt1") continue;
        std::map<std::string, int> symbols;
        for (const auto& s : p.at("symbols")) symbols[s.at("name").get<std::string>()] = s.at("value").get<int>();
        CHECK(symbols.at("GROUND_FAULT") == sunspec::evt1_bit("ground_fault"));
        CHECK(symbols.at("OVER_TEMP") == sunspec::evt1_bit("over_temperature"));
        CHECK(symbols.at("GRID_DISCONNECT") == sunspec::evt1_bit("grid_disconnect"));
        CHECK(symbols.at("BLOWN_STRING_FUSE") == sunspec::evt1_bit("blown_string_fuse"));
        CHECK(symbols.at("AC_UNDER_VOLT") == sunspec::evt1_bit("ac_under_voltage"));
    }
}
