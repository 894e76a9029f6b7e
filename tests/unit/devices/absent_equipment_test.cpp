// Equipment a device does not have (a hybrid without battery or meter): the simulator answers it the way the
// real device does, as the map declares (GoodWe ET: zeros and battery mode 0; SolaX G4: BMS and meter state 0),
// and the decoder reads it as absent. No shipped map, served by the simulator for an inverter without battery
// and meter, decodes a value at a type's extreme.
#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/register_codec.hpp"
#include "pvfleet/sim/profile.hpp"
#include "support/paths.hpp"

using namespace pvfleet;

namespace {

sim::RegisterKind to_sim(modbus::RegisterKind k) {
    return k == modbus::RegisterKind::holding ? sim::RegisterKind::holding : sim::RegisterKind::input;
}

// Every planned read of the fast and slow class answered from the image, decoded.
acquisition::Reading read_back(const devices::RegisterMap& map, const sim::RegisterImage& image) {
    devices::MapDeviceModel model(map);
    acquisition::Reading got;
    for (auto poll : {devices::PollClass::fast, devices::PollClass::slow}) {
        std::vector<modbus::Registers> answers;
        for (const auto& b : model.blocks(poll)) {
            REQUIRE(image.defined_range(to_sim(b.kind), b.address, b.count));
            modbus::Registers w;
            for (uint16_t k = 0; k < b.count; ++k) w.push_back(image.get(to_sim(b.kind), static_cast<uint16_t>(b.address + k)));
            answers.push_back(std::move(w));
        }
        auto d = model.decode(poll, answers);
        REQUIRE_MESSAGE(d.ok(), d.error().message);
        got.values.merge(d->values);
        got.arrays.merge(d->arrays);
    }
    return got;
}

sim::DeviceReading producing() {
    sim::DeviceReading r;
    r.state = domain::InverterState::producing;
    r.ac_power_w = 4321;
    r.mppt = {{412.3, 5.4, 2226}, {388.1, 5.9, 2290}};
    r.phase_voltage_v = {231.2, 229.8, 232.4};
    r.phase_current_a = {6.2, 6.3, 6.1};
    r.ac_frequency_hz = 50.02;
    r.temperature_c = 41.5;
    r.energy_total_wh = 12'345'000;
    r.energy_today_wh = 17'500;
    return r;
}

const devices::RegisterDef& reg_at(const devices::RegisterMap& map, uint16_t address) {
    for (const auto& r : map.registers) {
        if (r.address == address) return r;
    }
    FAIL("no register at " << address);
    return map.registers.front();
}

}  // namespace

TEST_CASE("goodwe-et without battery and meter: the simulator answers zeros, the decoder reads them as absent") {
    auto catalog = devices::Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    const auto& map = *catalog->find("goodwe-et");
    REQUIRE(map.equipment.size() == 2);
    sim::DeviceSpec spec{.name = "inv", .unit = 247, .profile = "goodwe-et", .variant = "", .ac_kw = 10, .phases = 3, .mppts = 2,
                         .manufacturer = "GoodWe", .model = "GW10K-ET", .serial = "9010KETU000W0001"};
    auto profile = sim::make_map_profile(map);
    sim::RegisterImage image;
    profile->build(image, spec);
    profile->update(image, spec, producing());

    // What a real ET without a battery answers (goodwe library samples): zeros and battery mode 0 — never the
    // type minimum (-2147483648 W, -3276.8 A) the simulator used to answer.
    for (uint16_t a : {35180, 35181, 35182, 35183, 35184, 36004, 36025, 36026, 37003, 37007})
        CHECK_MESSAGE(image.get(sim::RegisterKind::holding, a) == 0, "register " << a);

    const auto got = read_back(map, image);
    for (const char* point : {"battery_power_w", "battery_current_a", "battery_voltage_v", "battery_soc_pct",
                              "battery_temperature_c", "battery_charged_wh", "battery_discharged_wh",
                              "grid_power_w", "grid_import_wh", "grid_export_wh"}) {
        CHECK_MESSAGE(!got.value(point), point << " decoded as " << got.value(point).value_or(0));
    }
    REQUIRE(got.value("ac_power_w"));
    CHECK(*got.value("ac_power_w") == doctest::Approx(4321));

    // The same registers with a battery and a meter reporting: decoded as readings, 0 W included.
    image.set(sim::RegisterKind::holding, 35184, 3);  // charging
    image.set(sim::RegisterKind::holding, 36004, 1);  // meter OK
    const auto& power = reg_at(map, 35182);
    const auto words = devices::encode_value(power, -2512);
    image.set(sim::RegisterKind::holding, 35182, words[0]);
    image.set(sim::RegisterKind::holding, 35183, words[1]);
    const auto with = read_back(map, image);
    REQUIRE(with.value("battery_power_w"));
    CHECK(*with.value("battery_power_w") == -2512);
    REQUIRE(with.value("grid_power_w"));
    CHECK(*with.value("grid_power_w") == 0);
    REQUIRE(with.value("battery_soc_pct"));
    CHECK(*with.value("battery_soc_pct") == 0);
}

TEST_CASE("solax-x1-x3 without battery and meter: BMS and meter states answer 0, their points read as absent") {
    auto catalog = devices::Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    for (const char* variant : {"x1", "x3"}) {
        CAPTURE(variant);
        auto map = devices::variant_named(*catalog->find("solax-x1-x3"), variant);
        REQUIRE_MESSAGE(map.ok(), map.error().message);
        REQUIRE(map->equipment.size() == 2);
        sim::DeviceSpec spec{.name = "inv", .unit = 1, .profile = "solax-x1-x3", .variant = variant, .ac_kw = 6,
                             .phases = std::string(variant) == "x1" ? 1 : 3, .mppts = 2, .manufacturer = "SolaX",
                             .model = "X-Hybrid", .serial = std::string(variant) == "x1" ? "H43A0000000001" : "H34A0000000001"};
        auto profile = sim::make_map_profile(*map);
        sim::RegisterImage image;
        profile->build(image, spec);
        profile->update(image, spec, producing());
        // BMS_Connect_State 0x0017 and Meter1CommunicationSate 0x00B8: 0 = no battery / meter not talking.
        CHECK(image.get(sim::RegisterKind::input, 0x17) == 0);
        CHECK(image.get(sim::RegisterKind::input, 0xB8) == 0);
        const char* gated[] = {"battery_power_w", "battery_current_a", "battery_voltage_v", "battery_soc_pct",
                               "battery_temperature_c", "battery_charged_wh", "battery_discharged_wh",
                               "grid_power_w", "grid_import_wh", "grid_export_wh"};
        const auto got = read_back(*map, image);
        for (const char* point : gated) CHECK_MESSAGE(!got.value(point), point << " decoded as " << *got.value(point));
        REQUIRE(got.value("ac_power_w"));

        // Connected: the same zero words are readings (0 W, 0 %).
        image.set(sim::RegisterKind::input, 0x17, 1);
        image.set(sim::RegisterKind::input, 0xB8, 1);
        const auto with = read_back(*map, image);
        for (const char* point : gated) CHECK_MESSAGE(with.value(point), point << " absent with battery and meter");
        // Any other state (a GEN6 firmware's inverted 0x0017 would read 1 without battery) is not "connected".
        image.set(sim::RegisterKind::input, 0x17, 2);
        CHECK(!read_back(*map, image).value("battery_power_w"));
    }
}

TEST_CASE("every vendor map served without battery and meter decodes no value at a type's extreme") {
    auto catalog = devices::Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    for (const auto& name : catalog->profiles()) {
        CAPTURE(name);
        const auto& base = *catalog->find(name);
        if (base.device_kind != devices::DeviceKind::inverter) continue;
        std::vector<devices::RegisterMap> concrete{base};
        if (base.variants) {
            concrete.clear();
            for (const auto& c : base.variants->choices) {
                auto v = devices::variant_named(base, c.name);
                REQUIRE_MESSAGE(v.ok(), v.error().message);
                concrete.push_back(std::move(*v));
            }
        }
        for (const auto& map : concrete) {
        CAPTURE(map.variant);
        sim::DeviceSpec spec{.name = "inv", .unit = 1, .profile = name, .variant = map.variant, .ac_kw = 6, .phases = 3, .mppts = 2,
                             .manufacturer = map.vendor, .model = "M-6K", .serial = "SN123456"};
        auto profile = sim::make_map_profile(map);
        sim::RegisterImage image;
        profile->build(image, spec);
        profile->update(image, spec, producing());
        const auto got = read_back(map, image);
        // 32767 and up: an s16/u16 extreme (or a 32-bit one) that no 6 kW household inverter reports.
        for (const auto& [point, v] : got.values) {
            if (point.ends_with("_wh") || point == "insulation_resistance_ohm") continue;  // large by nature
            CHECK_MESSAGE(std::abs(v) < 32767, point << " = " << v);
        }
        for (const auto& [point, arr] : got.arrays) {
            for (const auto& v : arr) CHECK_MESSAGE(std::abs(v.value_or(0)) < 32767, point << " = " << *v);
        }
        }
    }
}

TEST_CASE("equipment gates the registers of a model variant too") {
    // The battery registers differ per model; the presence register is common.
    const auto doc = nlohmann::json::parse(R"({
      "format": 1, "profile": "demo", "vendor": "Demo", "device_kind": "inverter", "source": "test",
      "registers": [
        {"id": "model", "address": 0, "type": "string", "words": 4, "point": "identity.model", "poll": "once"},
        {"address": 10, "type": "s16", "unit": "W", "point": "ac_power_w"},
        {"id": "bat_mode", "address": 11, "type": "u16"}
      ],
      "variants": {"register": "model", "choices": [
        {"name": "a", "pattern": "^A", "example": "A1", "registers": [
          {"address": 20, "type": "s16", "unit": "W", "point": "battery_power_w"}]},
        {"name": "b", "pattern": "^B", "example": "B1", "registers": [
          {"address": 30, "type": "s32", "unit": "W", "point": "battery_power_w"},
          {"address": 32, "type": "u16", "unit": "%", "point": "battery_soc_pct"}]}
      ]},
      "equipment": [{"name": "battery", "register": "bat_mode", "absent_values": [0],
                     "points": ["battery_power_w", "battery_soc_pct"]}]
    })");
    auto base = devices::parse_register_map(doc, "demo.json");
    REQUIRE_MESSAGE(base.ok(), base.error().message);
    for (const char* name : {"a", "b"}) {
        CAPTURE(name);
        auto map = devices::variant_named(*base, name);
        REQUIRE_MESSAGE(map.ok(), map.error().message);
        for (const auto& r : map->registers) {
            if (r.target.kind == devices::PointTarget::Kind::point && r.target.point->name.starts_with("battery_"))
                CHECK_MESSAGE(r.equipment == 0, "register " << r.address);
        }
        sim::DeviceSpec spec{.name = "inv", .unit = 1, .profile = "demo", .variant = name, .ac_kw = 6, .phases = 1, .mppts = 1,
                             .manufacturer = "Demo", .model = std::string(name) + "1", .serial = "S1"};
        auto profile = sim::make_map_profile(*map);
        sim::RegisterImage image;
        profile->build(image, spec);
        auto reading = producing();
        profile->update(image, spec, reading);
        // No battery: the variant's battery registers read as absent, whatever their words.
        const auto& power = reg_at(*map, std::string(name) == "a" ? 20 : 30);
        const auto words = devices::encode_value(power, 0);
        for (size_t k = 0; k < words.size(); ++k) image.set(sim::RegisterKind::holding, static_cast<uint16_t>(power.address + k), words[k]);
        auto got = read_back(*map, image);
        CHECK(!got.value("battery_power_w"));
        CHECK(got.value("ac_power_w"));
        // With a battery the same zero words are a reading.
        image.set(sim::RegisterKind::holding, 11, 2);
        got = read_back(*map, image);
        REQUIRE(got.value("battery_power_w"));
        CHECK(*got.value("battery_power_w") == 0);
    }
}

TEST_CASE("equipment with when_absent: sentinel is checked against every variant's registers") {
    const auto doc = nlohmann::json::parse(R"({
      "format": 1, "profile": "demo", "vendor": "Demo", "device_kind": "inverter", "source": "test",
      "registers": [
        {"id": "model", "address": 0, "type": "string", "words": 4, "point": "identity.model", "poll": "once"},
        {"id": "bat_mode", "address": 11, "type": "u16"}
      ],
      "variants": {"register": "model", "choices": [
        {"name": "a", "pattern": "^A", "example": "A1", "registers": [
          {"address": 20, "type": "s16", "unit": "W", "point": "battery_power_w", "absent": [32767]}]},
        {"name": "b", "pattern": "^B", "example": "B1", "registers": [
          {"address": 30, "type": "s16", "unit": "W", "point": "battery_power_w"}]}
      ]},
      "equipment": [{"name": "battery", "register": "bat_mode", "absent_values": [0], "when_absent": "sentinel",
                     "points": ["battery_power_w"]}]
    })");
    auto map = devices::parse_register_map(doc, "demo.json");
    REQUIRE(!map.ok());
    CHECK(map.error().message ==
          "demo.json: equipment/0/points/0: 'battery_power_w' at 30 (variants/choices/1) declares no sentinel "
          "(when_absent: sentinel needs one)");
}
