// The vendor-map corrections checked against images built from the documents (tests/golden/devices/
// document-images.json): a register dump of a given model must decode to the points the documents give, through
// identification (model variants included), the planner and the decoder. Also: the simulator serves a chosen
// model variant at that model's addresses, and the agent identifies it back.
#include <doctest/doctest.h>

#include <algorithm>
#include <optional>

#include <nlohmann/json.hpp>

#include "direct_bus.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/sim/profile.hpp"
#include "pvfleet/util/number.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::devices;

namespace {

uint16_t address_of(const std::string& key) {
    const bool hex = key.rfind("0x", 0) == 0 || key.rfind("0X", 0) == 0;
    auto v = parse_number<uint16_t>(std::string_view(key).substr(hex ? 2 : 0), hex ? 16 : 10);
    REQUIRE_MESSAGE(v.has_value(), "bad address " << key);
    return *v;
}

std::vector<uint16_t> words_of(const nlohmann::json& v) {
    std::vector<uint16_t> out;
    if (v.is_string()) {
        const auto s = v.get<std::string>();
        for (size_t i = 0; i < s.size(); i += 2) {
            const auto hi = static_cast<uint8_t>(s[i]);
            const auto lo = i + 1 < s.size() ? static_cast<uint8_t>(s[i + 1]) : uint8_t{0};
            out.push_back(static_cast<uint16_t>(hi << 8 | lo));
        }
        return out;
    }
    for (const auto& w : v) out.push_back(w.get<uint16_t>());
    return out;
}

void zero_fill(fakes::FakeModbusBus& link, const RegisterMap& map) {
    for (auto poll : {PollClass::once, PollClass::fast, PollClass::slow}) {
        for (const auto& b : plan_blocks(map, poll)) {
            const std::vector<uint16_t> zeros(b.read.count, 0);
            if (b.read.kind == modbus::RegisterKind::holding) link.set_holding(1, b.read.address, zeros);
            else link.set_input(1, b.read.address, zeros);
        }
    }
}

// Every read the base map or any of its variants plans answers (0 where the dump says nothing).
void load_image(fakes::FakeModbusBus& link, const RegisterMap& base, const nlohmann::json& registers) {
    zero_fill(link, base);
    if (base.variants) {
        for (const auto& c : base.variants->choices) {
            auto v = variant_named(base, c.name);
            REQUIRE_MESSAGE(v.ok(), v.error().message);
            zero_fill(link, *v);
        }
    }
    for (const auto& [kind, regs] : registers.items()) {
        for (const auto& [key, value] : regs.items()) {
            if (kind == "holding") link.set_holding(1, address_of(key), words_of(value));
            else link.set_input(1, address_of(key), words_of(value));
        }
    }
}

acquisition::Reading read_all(modbus::ModbusBus& bus, const RegisterMap& map) {
    MapDeviceModel model(map);
    acquisition::Reading reading;
    for (auto poll : {PollClass::once, PollClass::fast, PollClass::slow}) {
        auto d = model.read(bus, 1, poll);
        REQUIRE_MESSAGE(d.ok(), d.error().message);
        reading.values.merge(d->reading.values);
        reading.arrays.merge(d->reading.arrays);
        if (d->reading.state) reading.state = d->reading.state;
        reading.events.insert(reading.events.end(), d->reading.events.begin(), d->reading.events.end());
    }
    return reading;
}

void compare_point(const nlohmann::json& got, const nlohmann::json& want, const std::string& name) {
    CAPTURE(name);
    if (want.is_number()) {
        REQUIRE(got.is_number());
        CHECK(got.get<double>() == doctest::Approx(want.get<double>()).epsilon(1e-9));
    } else if (want.is_array() && !want.empty() && want[0].is_number()) {
        REQUIRE(got.is_array());
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) CHECK(got[i].get<double>() == doctest::Approx(want[i].get<double>()).epsilon(1e-9));
    } else {
        CHECK(got == want);
    }
}

}  // namespace

TEST_CASE("register images built from the vendor documents decode to the documented points") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    const auto golden =
        nlohmann::json::parse(test::read_file(test::source_dir() / "tests/golden/devices/document-images.json"));
    REQUIRE(golden["cases"].size() >= 9);
    for (const auto& c : golden["cases"]) {
        const auto name = c["name"].get<std::string>();
        CAPTURE(name);
        const auto profile = c["profile"].get<std::string>();
        const auto* base = catalog->find(profile);
        REQUIRE(base != nullptr);
        ManualClock clock;
        fakes::FakeModbusBus link(clock);
        load_image(link, *base, c["registers"]);
        test::DirectBus bus(link);
        auto found = identify(bus, 1, *catalog, profile);
        REQUIRE_MESSAGE(found.ok(), found.error().message);
        CHECK(found->map.variant == c.value("variant", std::string()));
        const auto got = to_probe_json(found->identity, read_all(bus, found->map))["points"];
        for (const auto& [point, want] : c["expected"].items()) {
            if (want.is_null()) {  // the device says "not available" (a sentinel, missing equipment)
                CHECK_MESSAGE(!got.contains(point), point << " decoded as " << got.value(point, nlohmann::json()).dump());
                continue;
            }
            if (point == "events" && want.empty()) {
                CHECK_FALSE(got.contains("events"));
                continue;
            }
            REQUIRE_MESSAGE(got.contains(point), "missing " << point);
            compare_point(got[point], want, point);
        }
        if (!c["expected"].contains("events")) CHECK_FALSE(got.contains("events"));
    }
}

TEST_CASE("a serial that fits no SolaX variant is refused, not guessed") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    ManualClock clock;
    fakes::FakeModbusBus link(clock);
    load_image(link, *catalog->find("solax-x1-x3"),
               nlohmann::json::parse(R"({"holding": {"0": "XB3A00ABCDEFGH"}})"));
    test::DirectBus bus(link);
    auto found = identify(bus, 1, *catalog, "solax-x1-x3");
    REQUIRE_FALSE(found.ok());
    CHECK(found.error().message ==
          "unit 1 on " + bus.describe() + ": solax-x1-x3: serial 'XB3A00ABCDEFGH' matches no variant (x1: ^H4[3-7], x3: ^H3[14])");
}

TEST_CASE("the simulator serves the SolaX X3 variant at the X3 addresses and the agent identifies it") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    sim::DeviceSpec spec{.name = "inv", .unit = 1, .profile = "solax-x1-x3", .variant = "x3", .ac_kw = 10, .phases = 3,
                         .mppts = 2, .manufacturer = "SolaX", .model = "X3-Hybrid-10.0-D", .serial = "SN123456"};
    auto profile = sim::make_device_profile(spec, &*catalog);
    REQUIRE_MESSAGE(profile.ok(), profile.error().message);
    sim::RegisterImage image;
    (*profile)->build(image, spec);
    sim::DeviceReading r;
    r.state = domain::InverterState::producing;
    r.ac_power_w = 6000;
    r.mppt = {{412.3, 7.4, 3051}, {388.1, 8.0, 3105}};
    r.phase_voltage_v = {231.2, 229.8, 232.4};
    r.phase_current_a = {8.7, 8.7, 8.6};
    r.ac_frequency_hz = 50.0;
    r.energy_total_wh = 1'000'000;
    (*profile)->update(image, spec, r);
    using sim::RegisterKind;
    CHECK(image.get(RegisterKind::input, 0x6A) == 2312);
    CHECK(image.get(RegisterKind::input, 0x6E) == 2298);
    CHECK(image.get(RegisterKind::input, 0x72) == 2324);
    for (uint16_t a : {0x6C, 0x70, 0x74}) CHECK(image.get(RegisterKind::input, a) == 2000);  // a third of the total each

    ManualClock clock;
    fakes::FakeModbusBus link(clock);
    for (auto kind : {RegisterKind::holding, RegisterKind::input}) {
        for (uint32_t a = 0; a <= 0xFFFF; ++a) {
            if (!image.defined(kind, static_cast<uint16_t>(a))) continue;
            const std::vector<uint16_t> w{image.get(kind, static_cast<uint16_t>(a))};
            if (kind == RegisterKind::holding) link.set_holding(1, static_cast<uint16_t>(a), w);
            else link.set_input(1, static_cast<uint16_t>(a), w);
        }
    }
    test::DirectBus bus(link);
    auto found = identify(bus, 1, *catalog, "auto");
    REQUIRE_MESSAGE(found.ok(), found.error().message);
    CHECK(found->map.profile == "solax-x1-x3");
    CHECK(found->map.variant == "x3");
    CHECK(found->how.find("variant x3") != std::string::npos);
    const auto got = read_all(bus, found->map);
    REQUIRE(got.value("ac_power_w"));
    CHECK(*got.value("ac_power_w") == doctest::Approx(6000));
    CHECK(got.arrays.at("ac_voltage_v").size() == 3);
}

TEST_CASE("the simulator refuses a variant the map does not have, and serves a signed Growatt AC power") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    sim::DeviceSpec spec{.name = "inv", .unit = 1, .profile = "solax-x1-x3", .variant = "x4", .ac_kw = 5, .phases = 1,
                         .mppts = 2, .manufacturer = "SolaX", .model = "X1", .serial = "H43A0000000000"};
    auto bad = sim::make_device_profile(spec, &*catalog);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "variant: unknown 'x4' for profile solax-x1-x3 (expected x1, x3)");
    spec.profile = "growatt";
    bad = sim::make_device_profile(spec, &*catalog);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "variant: profile growatt has no model variants");

    // Night-time draw: the signed 32-bit AC power keeps its sign through the simulator and the decoder.
    spec.variant.clear();
    auto growatt = sim::make_device_profile(spec, &*catalog);
    REQUIRE_MESSAGE(growatt.ok(), growatt.error().message);
    sim::RegisterImage image;
    (*growatt)->build(image, spec);
    sim::DeviceReading r;
    r.state = domain::InverterState::standby;
    r.ac_power_w = -12.3;
    r.mppt = {{0, 0, 0}, {0, 0, 0}};
    r.phase_voltage_v = {230.0};
    r.phase_current_a = {0.1};
    (*growatt)->update(image, spec, r);
    CHECK(image.get(sim::RegisterKind::input, 35) == 0xFFFF);
    CHECK(image.get(sim::RegisterKind::input, 36) == 0xFF85);  // -123 x 0.1 W
    const auto& map = *catalog->find("growatt");
    MapDeviceModel model(map);
    std::vector<modbus::Registers> answers;
    for (const auto& b : model.blocks(PollClass::fast)) {
        const auto kind = b.kind == modbus::RegisterKind::holding ? sim::RegisterKind::holding : sim::RegisterKind::input;
        modbus::Registers w;
        for (uint16_t k = 0; k < b.count; ++k) w.push_back(image.get(kind, static_cast<uint16_t>(b.address + k)));
        answers.push_back(std::move(w));
    }
    auto d = model.decode(PollClass::fast, answers);
    REQUIRE_MESSAGE(d.ok(), d.error().message);
    REQUIRE(d->value("ac_power_w"));
    CHECK(*d->value("ac_power_w") == doctest::Approx(-12.3));
}

// Huawei and Sungrow answer "not available" with the type's maximum in every numeric register (the research
// behind docs/register-maps.md, "Not available"). The maps declare it per register rather than through a
// map-wide default; this keeps a register added later (or one overlooked, as Sungrow's daily yield 5002 was)
// from decoding 0xFFFF as 6553.5 kWh.
TEST_CASE("huawei and sungrow maps: every numeric reading declares the type's maximum as absent") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    auto type_max = [](ValueType t) -> std::optional<uint64_t> {
        switch (t) {
            case ValueType::u16: return 0xFFFF;
            case ValueType::s16: return 0x7FFF;
            case ValueType::u32: return 0xFFFFFFFF;
            case ValueType::s32: return 0x7FFFFFFF;
            default: return std::nullopt;  // states, events, strings: decoded by their tables
        }
    };
    for (const char* profile : {"huawei-sun2000", "sungrow-sg", "sungrow-sh"}) {
        const auto& base = *catalog->find(profile);
        std::vector<RegisterDef> regs = base.registers;
        if (base.variants)
            for (const auto& c : base.variants->choices) regs.insert(regs.end(), c.registers.begin(), c.registers.end());
        for (const auto& r : regs) {
            const auto max = type_max(r.type);
            if (!max || r.target.kind != PointTarget::Kind::point) continue;  // identity, helper registers
            CHECK_MESSAGE(std::find(r.absent.begin(), r.absent.end(), *max) != r.absent.end(),
                          profile << " register " << r.address << " (" << r.target.point->name << ") declares no "
                                  << *max << " sentinel");
        }
    }
}
