#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "direct_bus.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/register_codec.hpp"

using namespace pvfleet;
using namespace pvfleet::devices;
using namespace std::chrono_literals;

namespace {

// Small model maps in the generated format: enough of models 1, 103 and 160 to exercise discovery.
Catalog small_catalog() {
    Catalog c;
    auto add = [&](const char* text) {
        auto m = parse_sunspec_model_map(nlohmann::json::parse(text), "model.json");
        REQUIRE_MESSAGE(m.ok(), m.error().message);
        c.add(std::move(*m));
    };
    add(R"({"format":1,"sunspec_model":1,"length":66,"device_kind":"inverter","source":"t","registers":[
        {"id":"Mn","offset":2,"type":"string","words":16,"point":"identity.vendor","poll":"once"},
        {"id":"Md","offset":18,"type":"string","words":16,"point":"identity.model","poll":"once"},
        {"id":"SN","offset":50,"type":"string","words":16,"point":"identity.serial","poll":"once"},
        {"id":"DA","offset":66,"type":"u16","poll":"once","absent":[65535]},
        {"id":"Pad","offset":67,"type":"u16","poll":"once"}]})");
    add(R"({"format":1,"sunspec_model":103,"length":50,"device_kind":"inverter","source":"t","registers":[
        {"id":"W","offset":14,"type":"s16","unit":"W","point":"ac_power_w","scale_register":"W_SF","absent":[32768]},
        {"id":"W_SF","offset":15,"type":"sunssf","absent":[32768]},
        {"id":"WH","offset":24,"type":"u32","unit":"Wh","point":"energy_total_wh","scale_register":"WH_SF","accumulator":true,"poll":"slow"},
        {"id":"WH_SF","offset":26,"type":"sunssf","absent":[32768]},
        {"id":"St","offset":38,"type":"enum16","point":"inverter_state","states":{"2":"sleeping","4":"producing"},"absent":[65535]}]})");
    add(R"({"format":1,"sunspec_model":160,"length":8,"device_kind":"inverter","source":"t","registers":[
        {"id":"DCA_SF","offset":2,"type":"sunssf","absent":[32768]},
        {"id":"DCV_SF","offset":3,"type":"sunssf","absent":[32768]}],
        "repeat":{"first_offset":10,"length":20,"registers":[
          {"id":"DCA","offset":9,"type":"u16","unit":"A","point":"dc_current_a","scale_register":"DCA_SF","absent":[65535]},
          {"id":"DCV","offset":10,"type":"u16","unit":"V","point":"dc_voltage_v","scale_register":"DCV_SF","absent":[65535]}]}})");
    return c;
}

void put_text(fakes::FakeModbusBus& bus, uint16_t address, uint16_t words, std::string_view text) {
    RegisterDef r;
    r.type = ValueType::string;
    r.words = words;
    bus.set_holding(1, address, encode_text(r, text));
}

// SunS at `base`, model 1 with the short L = 65, model 103, model 160 with `modules` modules, end marker.
void build_inverter(fakes::FakeModbusBus& bus, uint16_t base, int modules) {
    bus.set_holding(1, base, {0x5375, 0x6E53});
    uint16_t a = base + 2;
    bus.set_holding(1, a, {1, 65});
    put_text(bus, a + 2, 16, "Fronius");
    put_text(bus, a + 18, 16, "Primo 5.0-1");
    put_text(bus, a + 50, 16, "34119109");
    bus.set_holding(1, a + 66, {1});
    a += 67;
    std::vector<uint16_t> m103(52, 0xFFFF);
    m103[0] = 103;
    m103[1] = 50;
    m103[14] = 2512;   // W
    m103[15] = 0;      // W_SF
    m103[24] = 0x0001; // WH = 0x00010000 -> 65536 × 10
    m103[25] = 0x0000;
    m103[26] = 1;      // WH_SF
    m103[38] = 4;      // MPPT = producing
    bus.set_holding(1, a, m103);
    a += 52;
    std::vector<uint16_t> m160(static_cast<size_t>(10 + 20 * modules), 0);
    m160[0] = 160;
    m160[1] = static_cast<uint16_t>(8 + 20 * modules);
    m160[2] = static_cast<uint16_t>(-2);  // DCA_SF
    m160[3] = static_cast<uint16_t>(-1);  // DCV_SF
    for (int i = 0; i < modules; ++i) {
        m160[static_cast<size_t>(10 + 20 * i + 9)] = static_cast<uint16_t>(412 + i);   // 4.12 A ...
        m160[static_cast<size_t>(10 + 20 * i + 10)] = static_cast<uint16_t>(3551 + i); // 355.1 V ...
    }
    if (modules > 1) m160[10 + 20 + 10] = 0xFFFF;  // module 2's voltage not implemented
    bus.set_holding(1, a, m160);
    a = static_cast<uint16_t>(a + m160.size());
    bus.set_holding(1, a, {0xFFFF, 0});
}

}  // namespace

TEST_CASE("SunSpec: marker at 40000, chain walked by (ID, L), short common model, repeating groups from L") {
    ManualClock clock;
    fakes::FakeModbusBus link(clock);
    build_inverter(link, 40000, 3);
    test::DirectBus bus(link);
    auto chain = walk_sunspec(bus, 1);
    REQUIRE_MESSAGE(chain.ok(), chain.error().message);
    CHECK(chain->base == 40000);
    REQUIRE(chain->models.size() == 3);
    CHECK(chain->models[0].address == 40002);
    CHECK(chain->models[0].length == 65);
    CHECK(chain->models[1].address == 40069);  // not 40070: never assume addresses
    CHECK(chain->models[2].id == 160);

    auto catalog = small_catalog();
    auto found = identify(bus, 1, catalog, "auto");
    REQUIRE_MESSAGE(found.ok(), found.error().message);
    CHECK(found->identity.vendor == "Fronius");
    CHECK(found->identity.model == "Primo 5.0-1");
    CHECK(found->identity.serial == "34119109");
    CHECK(found->identity.profile == "sunspec");
    CHECK(found->how == "SunSpec at 40000: models 1 103 160");
    // Pad (offset 67) lies beyond L = 65: dropped, never read past the model
    bool has_da = false;
    for (const auto& r : found->map.registers) {
        CHECK(r.id != "Pad");
        has_da = has_da || r.id == "DA";
    }
    CHECK(has_da);

    MapDeviceModel model(found->map);
    auto fast = model.read(bus, 1, PollClass::fast);
    REQUIRE_MESSAGE(fast.ok(), fast.error().message);
    const auto& r = fast->reading;
    CHECK(r.value("ac_power_w") == 2512);
    CHECK(r.state == domain::InverterState::producing);
    REQUIRE(r.arrays.at("dc_current_a").size() == 3);
    CHECK(r.arrays.at("dc_current_a")[2] == doctest::Approx(4.14));
    const auto& v = r.arrays.at("dc_voltage_v");
    REQUIRE(v.size() == 3);
    CHECK(v[0] == doctest::Approx(355.1));
    CHECK_FALSE(v[1]);  // not implemented: absent, never 0
    CHECK(v[2] == doctest::Approx(355.3));
    auto slow = model.read(bus, 1, PollClass::slow);
    REQUIRE(slow.ok());
    CHECK(slow->reading.value("energy_total_wh") == 655360);
    // each value is read in the same request as its scale factor
    for (const auto& b : plan_blocks(found->map, PollClass::fast)) {
        for (int idx : b.registers) {
            const int sf = found->map.registers[static_cast<size_t>(idx)].scale_register;
            if (sf >= 0) CHECK(std::find(b.registers.begin(), b.registers.end(), sf) != b.registers.end());
        }
    }
}

TEST_CASE("SunSpec: marker at 0 or 50000, chain ended by an illegal address, several devices in one chain") {
    ManualClock clock;
    fakes::FakeModbusBus link(clock);
    link.set_holding(1, 50000, {0x5375, 0x6E53, 1, 65});
    put_text(link, 50004, 16, "Acme");
    link.set_holding(1, 50020, std::vector<uint16_t>(51, 0));
    link.set_holding(1, 50069, {1, 65});  // a second device (e.g. its meter) starts with another model 1
    link.set_holding(1, 50071, std::vector<uint16_t>(65, 0x2020));
    // nothing after 50135: the walk ends on the illegal-address reply
    test::DirectBus bus(link);
    auto chain = walk_sunspec(bus, 1);
    REQUIRE_MESSAGE(chain.ok(), chain.error().message);
    CHECK(chain->base == 50000);
    CHECK(chain->models.size() == 2);
    CHECK(split_devices(*chain).size() == 2);
    auto catalog = small_catalog();
    auto second = identify(bus, 1, catalog, "sunspec", 5);
    REQUIRE_FALSE(second.ok());
    CHECK(second.error().message == "unit 1 on fake: SunSpec chain at 50000 has 2 device(s); sunspec_device 5 does not exist");
}

TEST_CASE("identify: nothing fits -> an error that says what was tried") {
    ManualClock clock;
    fakes::FakeModbusBus link(clock, "tcp 10.0.0.9:502");
    link.set_holding(1, 35000, std::vector<uint16_t>(10, 0x4142));
    test::DirectBus bus(link);
    auto catalog = small_catalog();
    auto demo = parse_register_map(nlohmann::json::parse(R"({"format":1,"profile":"demo","vendor":"Demo","source":"s",
        "identify":{"register":"model","pattern":"^GW"},
        "registers":[{"id":"model","address":35000,"type":"string","words":5,"point":"identity.model","poll":"once"},
                     {"address":35100,"type":"s16","unit":"W","point":"ac_power_w"}]})"), "demo.json");
    REQUIRE(demo.ok());
    catalog.add(std::move(*demo));
    auto r = identify(bus, 1, catalog, "auto");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message ==
          "unit 1 on tcp 10.0.0.9:502: no profile fits; tried SunSpec: no SunSpec marker at 40000 (illegal address), "
          "0 (illegal address), 50000 (illegal address); demo ('ABABABABAB' does not match)");
    auto unknown = identify(bus, 1, catalog, "huawei");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().message == "unit 1 on tcp 10.0.0.9:502: unknown profile 'huawei' (expected auto, sunspec or one of: demo)");
}
