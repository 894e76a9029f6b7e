#include <doctest/doctest.h>

#include <fstream>

#include <nlohmann/json.hpp>

#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/register_map.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::devices;

TEST_CASE("bad register maps: each gives its exact error naming the key path") {
    const auto cases = nlohmann::json::parse(test::read_file(test::source_dir() / "tests/golden/devices/bad-maps.json"));
    REQUIRE(cases["cases"].size() >= 20);
    for (const auto& c : cases["cases"]) {
        CAPTURE(c["name"].get<std::string>());
        auto m = parse_register_map(c["map"], "bad.json");
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().message == c["error"].get<std::string>());
    }
}

TEST_CASE("a vendor map loads into typed registers") {
    auto doc = nlohmann::json::parse(R"({
      "format": 1, "profile": "demo", "vendor": "Demo", "family": "D", "device_kind": "inverter", "source": "t",
      "default_unit": 247, "max_gap": 4,
      "identify": {"register": "model", "pattern": "^DM"},
      "registers": [
        {"id": "model", "address": 10, "type": "string", "words": 5, "point": "identity.model", "poll": "once"},
        {"address": 20, "kind": "input", "type": "u32", "word_order": "little", "scale": 100, "unit": "Wh",
         "point": "energy_total_wh", "poll": "slow", "absent": [4294967295]},
        {"address": 22, "type": "u16", "scale": 0.1, "unit": "V", "point": "dc_voltage_v", "index": 1},
        {"address": 23, "type": "enum16", "point": "inverter_state", "states": {"0": "standby", "0x2": "producing"}},
        {"address": 24, "type": "bitfield32", "point": "events", "bits": {"0": "ground_fault", "31": "arc_fault"}}
      ]})");
    auto m = parse_register_map(doc, "demo.json");
    REQUIRE_MESSAGE(m.ok(), m.error().message);
    CHECK(m->default_unit == 247);
    CHECK(m->max_gap == 4);
    REQUIRE(m->identify);
    CHECK(m->identify->register_index == 0);
    const auto& e = m->registers[1];
    CHECK(e.kind == RegisterKind::input);
    CHECK(e.words == 2);
    CHECK(e.word_order == WordOrder::little);
    CHECK(e.scale == 100);
    CHECK(e.poll == PollClass::slow);
    CHECK(e.absent == std::vector<uint64_t>{4294967295ULL});
    CHECK(m->registers[2].target.index == 1);
    CHECK(m->registers[3].states.at(2) == domain::InverterState::producing);
    CHECK(m->registers[4].bits.at(31) == "arc_fault");
}

TEST_CASE("the catalog loads the shipped maps and refuses a profile that differs from its file name") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    for (const auto& name : catalog->profiles()) {
        CAPTURE(name);
        CHECK(validate(*catalog->find(name)).ok());
    }

    test::TempDir dir;
    std::ofstream(dir.path() / "wrong-name.json") << R"({"format":1,"profile":"other","vendor":"V","source":"s",
        "registers":[{"address":1,"type":"s16","unit":"W","point":"ac_power_w"}]})";
    auto bad = Catalog::load(dir.path());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "wrong-name.json: profile: 'other' must equal the file name");

    std::ofstream(dir.path() / "wrong-name.json") << "{ not json";
    bad = Catalog::load(dir.path());
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message.rfind("wrong-name.json: not JSON:", 0) == 0);
}
