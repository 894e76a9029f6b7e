#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "pvfleet/devices/register_codec.hpp"
#include "pvfleet/devices/map_model.hpp"

using namespace pvfleet;
using namespace pvfleet::devices;

namespace {

RegisterDef reg(ValueType type, std::vector<uint64_t> absent = {}) {
    RegisterDef r;
    r.type = type;
    r.words = fixed_words(type);
    r.absent = std::move(absent);
    return r;
}

RegisterMap map_of(const std::string& registers_json, const std::string& extra = "") {
    auto doc = nlohmann::json::parse(R"({"format":1,"profile":"t","vendor":"T","source":"s",)" + extra +
                                     R"("registers":)" + registers_json + "}");
    auto m = parse_register_map(doc, "t.json");
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    return std::move(*m);
}

}  // namespace

TEST_CASE("codec: integer types, word order and two's complement") {
    const std::vector<uint16_t> w{0xFFFE, 0x0001};
    CHECK(raw_number(reg(ValueType::u16), w) == 65534);
    CHECK(raw_number(reg(ValueType::s16), w) == -2);
    CHECK(raw_number(reg(ValueType::u32), w) == 0xFFFE0001U);
    CHECK(raw_number(reg(ValueType::s32), w) == static_cast<double>(static_cast<int32_t>(0xFFFE0001U)));
    auto little = reg(ValueType::u32);
    little.word_order = WordOrder::little;
    CHECK(raw_number(little, w) == 0x0001FFFEU);
    CHECK(raw_number(reg(ValueType::u64), std::vector<uint16_t>{0, 1, 0, 2}) == static_cast<double>((1ULL << 32) + 2));
    // 230.5f = 0x43668000
    CHECK(raw_number(reg(ValueType::f32), std::vector<uint16_t>{0x4366, 0x8000}) == doctest::Approx(230.5));
    // too few words: absent, never a number
    CHECK_FALSE(raw_number(reg(ValueType::u32), std::vector<uint16_t>{1}));
}

TEST_CASE("codec: sentinels mean absent, never zero") {
    CHECK_FALSE(raw_number(reg(ValueType::u16, {0xFFFF}), std::vector<uint16_t>{0xFFFF}));
    CHECK_FALSE(raw_number(reg(ValueType::s16, {0x8000}), std::vector<uint16_t>{0x8000}));
    CHECK_FALSE(raw_number(reg(ValueType::s32, {0x80000000}), std::vector<uint16_t>{0x8000, 0}));
    CHECK_FALSE(raw_number(reg(ValueType::f32), std::vector<uint16_t>{0x7FC0, 0}));  // NaN
    auto acc = reg(ValueType::u32);
    acc.accumulator = true;
    CHECK_FALSE(raw_number(acc, std::vector<uint16_t>{0, 0}));
    CHECK(raw_number(acc, std::vector<uint16_t>{0, 5}) == 5);
    CHECK(raw_number(reg(ValueType::u16), std::vector<uint16_t>{0xFFFF}) == 65535);  // not declared absent
}

TEST_CASE("codec: scale, scale factor, and absent scale factor") {
    auto r = reg(ValueType::u16);
    r.scale = 0.1;
    CHECK(scaled_value(r, std::vector<uint16_t>{2305}) == doctest::Approx(230.5));
    r.scale = 1;
    r.scale_register = 0;
    CHECK(scaled_value(r, std::vector<uint16_t>{2305}, -1) == doctest::Approx(230.5));
    CHECK(scaled_value(r, std::vector<uint16_t>{23}, 2) == doctest::Approx(2300));
    CHECK_FALSE(scaled_value(r, std::vector<uint16_t>{23}, std::nullopt));  // factor absent: value absent
    CHECK_FALSE(scaled_value(r, std::vector<uint16_t>{23}, 99));           // factor out of SunSpec's range
}

TEST_CASE("codec: encode is the inverse of decode") {
    for (auto type : {ValueType::u16, ValueType::s16, ValueType::u32, ValueType::s32, ValueType::f32, ValueType::u64}) {
        auto r = reg(type);
        r.scale = 0.1;
        CAPTURE(to_string(type));
        const double v = type == ValueType::s16 || type == ValueType::s32 || type == ValueType::f32 ? -123.4 : 123.4;
        CHECK(scaled_value(r, encode_value(r, v)) == doctest::Approx(v).epsilon(1e-6));
        r.word_order = WordOrder::little;
        CHECK(scaled_value(r, encode_value(r, v)) == doctest::Approx(v).epsilon(1e-6));
    }
    auto s = reg(ValueType::string);
    s.words = 4;
    CHECK(text_value(s, encode_text(s, "GW10K")) == "GW10K");
    CHECK(text_value(s, std::vector<uint16_t>{0x4757, 0x2020, 0x2020, 0x2020}) == "GW");
    auto absent = reg(ValueType::s16, {0x8000});
    CHECK(is_absent(absent, encode_absent(absent)));
}

TEST_CASE("planner: merges neighbours, bridges small gaps, splits at 125 and around no_read") {
    auto m = map_of(R"([
      {"address": 100, "type": "s16", "unit": "W", "point": "ac_power_w"},
      {"address": 101, "type": "u16", "scale": 0.1, "unit": "V", "point": "dc_voltage_v", "index": 0},
      {"address": 110, "type": "u16", "scale": 0.1, "unit": "V", "point": "dc_voltage_v", "index": 1},
      {"address": 200, "type": "u16", "scale": 0.01, "unit": "Hz", "point": "ac_frequency_hz"},
      {"address": 300, "type": "u16", "scale": 0.1, "unit": "V", "point": "ac_voltage_v", "index": 0},
      {"address": 420, "type": "u16", "scale": 0.1, "unit": "V", "point": "ac_voltage_v", "index": 1},
      {"address": 500, "type": "u16", "unit": "V", "point": "ac_voltage_v", "index": 2},
      {"address": 504, "type": "u16", "scale": 0.1, "unit": "A", "point": "ac_current_a", "index": 0},
      {"address": 100, "kind": "input", "type": "u32", "unit": "Wh", "point": "energy_total_wh", "poll": "slow"}
    ])", R"("max_gap": 10, "no_read": [{"first": 502, "last": 502}],)");
    auto fast = plan_blocks(m, PollClass::fast);
    std::vector<acquisition::ReadBlock> reads;
    for (const auto& b : fast) reads.push_back(b.read);
    using acquisition::ReadBlock;
    const std::vector<ReadBlock> expected{
        {RegisterKind::holding, 100, 11},   // 100..110, gap of 8 bridged
        {RegisterKind::holding, 200, 1},    // gap of 89: a new read
        {RegisterKind::holding, 300, 1},    // 300..420 would be 121 registers but the gap is too wide
        {RegisterKind::holding, 420, 1},
        {RegisterKind::holding, 500, 1},    // 501..503 would cross the no_read register 502
        {RegisterKind::holding, 504, 1},
    };
    CHECK(reads == expected);
    auto slow = plan_blocks(m, PollClass::slow);
    REQUIRE(slow.size() == 1);
    CHECK(slow[0].read == ReadBlock{RegisterKind::input, 100, 2});

    // A contiguous run longer than 125 registers is read in parts of at most 125.
    std::string many = "[";
    for (int i = 0; i < 300; ++i) many += std::string(i ? "," : "") + R"({"address": )" + std::to_string(1000 + i) + R"(, "type": "u16", "scale": 0.1, "unit": "V", "point": "dc_voltage_v", "index": )" + std::to_string(i % 60) + "}";
    auto big = plan_blocks(map_of(many + "]"), PollClass::fast);
    REQUIRE(big.size() == 3);
    CHECK(big[0].read.count == 125);
    CHECK(big[1].read.address == 1125);
    CHECK(big[2].read.count == 50);
}

TEST_CASE("planner: a value and its scale factor share one read; factors are read in every class that needs them") {
    auto m = map_of(R"([
      {"id": "W_SF", "address": 10, "type": "sunssf", "poll": "once"},
      {"address": 60, "type": "s16", "unit": "W", "point": "ac_power_w", "scale_register": "W_SF"},
      {"address": 70, "type": "u32", "unit": "Wh", "point": "energy_total_wh", "scale_register": "W_SF", "poll": "slow"}
    ])");
    auto fast = plan_blocks(m, PollClass::fast);
    REQUIRE(fast.size() == 1);  // gap of 49 > max_gap, but the factor joins the value's read
    CHECK(fast[0].read.address == 10);
    CHECK(fast[0].read.count == 51);
    auto slow = plan_blocks(m, PollClass::slow);
    REQUIRE(slow.size() == 1);
    CHECK(slow[0].read.address == 10);
    CHECK(slow[0].read.count == 62);
}

TEST_CASE("decoder: points, arrays, state, events; absent values omitted; vendor codes named") {
    auto m = map_of(R"([
      {"id": "serial", "address": 0, "type": "string", "words": 4, "point": "identity.serial", "poll": "once"},
      {"address": 10, "type": "s16", "unit": "W", "point": "ac_power_w"},
      {"address": 11, "type": "u16", "scale": 0.1, "unit": "V", "point": "dc_voltage_v", "index": 0},
      {"address": 12, "type": "u16", "scale": 0.1, "unit": "V", "point": "dc_voltage_v", "index": 2, "absent": [65535]},
      {"address": 13, "type": "enum16", "point": "inverter_state", "states": {"1": "producing", "3": "fault"}},
      {"address": 14, "type": "bitfield16", "point": "events", "bits": {"0": "ground_fault", "4": "grid_overvoltage"},
       "unknown_bits": "vendor_fault", "id": "err"},
      {"address": 15, "type": "enum16", "point": "events", "codes": {"7": "isolation_fault"}},
      {"address": 16, "type": "u16", "scale": 0.01, "unit": "Hz", "point": "ac_frequency_hz", "absent": [65535]}
    ])");
    MapDeviceModel model(m);
    auto blocks = model.blocks(PollClass::fast);
    REQUIRE(blocks.size() == 1);
    CHECK(blocks[0].address == 10);
    modbus::Registers words{static_cast<uint16_t>(-1500 & 0xFFFF), 3501, 0xFFFF, 1, 0b1'0001 | (1 << 9), 42, 0xFFFF};
    auto r = model.decode(PollClass::fast, {words});
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->value("ac_power_w") == -1500);
    REQUIRE(r->arrays.at("dc_voltage_v").size() == 1);  // index 2 absent: nothing beyond index 0
    CHECK(r->arrays.at("dc_voltage_v")[0] == doctest::Approx(350.1));
    CHECK_FALSE(r->value("ac_frequency_hz"));
    CHECK(r->state == domain::InverterState::producing);
    CHECK(r->events == std::vector<std::string>{"grid_overvoltage", "ground_fault", "vendor_fault_42", "vendor_fault_err_9"});
    // a state code not in the table is "unknown", not a guess
    words[3] = 9;
    CHECK(model.decode(PollClass::fast, {words})->state == domain::InverterState::unknown);
    // a short answer is an error, never a partial decode
    CHECK_FALSE(model.decode(PollClass::fast, {modbus::Registers{1, 2}}).ok());

    auto once = model.decode_all(PollClass::once, {encode_text(m.registers[0], "SN1234")});
    REQUIRE(once.ok());
    CHECK(once->identity.serial == "SN1234");
    CHECK(once->identity.vendor == "T");
    CHECK(once->identity.profile == "t");
    const auto j = to_probe_json(once->identity, *r);
    CHECK(j["points"]["ac_power_w"] == -1500);
    CHECK(j["points"].contains("ac_frequency_hz") == false);
}

TEST_CASE("a negative sentinel of a signed register means its two's complement") {
    auto doc = nlohmann::json::parse(R"({"format":1,"profile":"t","vendor":"T","source":"s","registers":[
        {"address": 1, "type": "s16", "scale": 0.1, "unit": "°C", "point": "temperature_c", "absent": [-1, 32767]}]})");
    auto m = parse_register_map(doc, "t.json");
    REQUIRE(m.ok());
    CHECK(m->registers[0].absent == std::vector<uint64_t>{0xFFFF, 0x7FFF});
    CHECK_FALSE(raw_number(m->registers[0], std::vector<uint16_t>{0xFFFF}));
    CHECK(raw_number(m->registers[0], std::vector<uint16_t>{0xFFFE}) == -2);
}
