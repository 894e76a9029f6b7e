// Every shipped vendor map, served by the simulator's map profile and read back through the agent's planner
// and decoder, gives the physical values it was given: offsets, types, word order, scales and sentinels of each
// map agree between the two directions, and every planned read is answerable.
#include <doctest/doctest.h>

#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/sim/profile.hpp"
#include "support/paths.hpp"

using namespace pvfleet;

TEST_CASE("every vendor map round-trips a producing inverter through the simulator profile and the decoder") {
    auto catalog = devices::Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    REQUIRE(catalog->profiles().size() >= 7);
    // Every concrete map: a map with model variants once per variant.
    std::vector<devices::RegisterMap> maps;
    for (const auto& name : catalog->profiles()) {
        const auto& base = *catalog->find(name);
        if (!base.variants) {
            maps.push_back(base);
            continue;
        }
        for (const auto& c : base.variants->choices) {
            auto v = devices::variant_named(base, c.name);
            REQUIRE_MESSAGE(v.ok(), v.error().message);
            maps.push_back(std::move(*v));
        }
    }
    for (const auto& map : maps) {
        const auto& name = map.profile;
        CAPTURE(name);
        CAPTURE(map.variant);
        if (map.device_kind != devices::DeviceKind::inverter) continue;
        sim::DeviceSpec spec{.name = "inv", .unit = 1, .profile = name, .variant = map.variant, .ac_kw = 6, .phases = 3, .mppts = 2,
                             .manufacturer = map.vendor, .model = "M-6K", .serial = "SN123456"};
        auto profile = sim::make_map_profile(map);
        sim::RegisterImage image;
        profile->build(image, spec);
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
        profile->update(image, spec, r);

        devices::MapDeviceModel model(map);
        acquisition::Reading got;
        for (auto poll : {devices::PollClass::fast, devices::PollClass::slow}) {
            std::vector<modbus::Registers> answers;
            for (const auto& b : model.blocks(poll)) {
                const auto kind = b.kind == modbus::RegisterKind::holding ? sim::RegisterKind::holding : sim::RegisterKind::input;
                REQUIRE_MESSAGE(image.defined_range(kind, b.address, b.count), "read " << b.address << "+" << b.count);
                modbus::Registers w;
                for (uint16_t k = 0; k < b.count; ++k) w.push_back(image.get(kind, static_cast<uint16_t>(b.address + k)));
                answers.push_back(std::move(w));
                CHECK(b.count <= modbus::kMaxReadRegisters);
            }
            auto d = model.decode(poll, answers);
            REQUIRE_MESSAGE(d.ok(), d.error().message);
            got.values.merge(d->values);
            got.arrays.merge(d->arrays);
            if (d->state) got.state = d->state;
        }
        // What every inverter map must carry for the detectors, decoded to within the register's resolution.
        REQUIRE(got.value("ac_power_w"));
        CHECK(*got.value("ac_power_w") == doctest::Approx(4321).epsilon(0.01));
        REQUIRE(got.value("energy_total_wh"));
        CHECK(*got.value("energy_total_wh") == doctest::Approx(12'345'000).epsilon(0.001));
        if (got.value("energy_today_wh")) CHECK(*got.value("energy_today_wh") == doctest::Approx(17'500).epsilon(0.01));
        if (got.value("pv_energy_total_wh")) CHECK(*got.value("pv_energy_total_wh") == doctest::Approx(12'345'000).epsilon(0.001));
        if (got.value("pv_energy_today_wh")) CHECK(*got.value("pv_energy_today_wh") == doctest::Approx(17'500).epsilon(0.01));
        REQUIRE(got.arrays.contains("dc_voltage_v"));
        CHECK(got.arrays["dc_voltage_v"].at(0).value_or(0) == doctest::Approx(412.3).epsilon(0.01));
        CHECK(got.arrays["dc_voltage_v"].at(1).value_or(0) == doctest::Approx(388.1).epsilon(0.01));
        REQUIRE(got.arrays.contains("dc_current_a"));
        CHECK(got.arrays["dc_current_a"].at(1).value_or(0) == doctest::Approx(5.9).epsilon(0.02));
        REQUIRE(got.value("ac_frequency_hz"));
        CHECK(*got.value("ac_frequency_hz") == doctest::Approx(50.02).epsilon(0.001));
        REQUIRE(got.arrays.contains("ac_voltage_v"));
        CHECK(got.arrays["ac_voltage_v"].at(0).value_or(0) == doctest::Approx(231.2).epsilon(0.01));
        if (got.value("temperature_c")) CHECK(*got.value("temperature_c") == doctest::Approx(41.5).epsilon(0.02));
        CHECK(got.state == domain::InverterState::producing);
    }
}
