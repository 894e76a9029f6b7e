// Golden test on real inverter captures: register words captured from GoodWe ET and DT inverters, decoded
// with our maps, must give the expected JSON (tests/golden/devices/goodwe). The expected files were written by
// an independent decoder (scripts/check-maps-against-captures, Python) from the same maps.
#include <doctest/doctest.h>

#include <cmath>

#include <nlohmann/json.hpp>

#include "direct_bus.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::devices;

namespace {

struct Capture {
    const char* file;
    const char* profile;
    uint16_t first;
    uint16_t count;
};
constexpr Capture kCaptures[] = {
    {"GW10K-ET_running_data", "goodwe-et", 35100, 125},
    {"GW10K-ET_device_info_fw1023", "goodwe-et", 35000, 33},
    {"GW10K-ET_meter_data", "goodwe-et", 36000, 45},
    {"GW8K-DT_running_data", "goodwe-dt", 30100, 73},
    {"GW8K-DT_device_info", "goodwe-dt", 30001, 40},
};

// "aa55" + unit + function + byte count + big-endian words + CRC, possibly after blanks.
std::vector<uint16_t> parse_frame(std::string text, uint16_t count) {
    std::string hex;
    for (char c : text) {
        if (std::isxdigit(static_cast<unsigned char>(c)) != 0) hex.push_back(c);
    }
    const auto start = hex.find("aa55");
    REQUIRE(start != std::string::npos);
    auto byte = [&](size_t i) { return static_cast<uint8_t>(std::stoi(hex.substr(start + 2 * i, 2), nullptr, 16)); };
    REQUIRE(byte(3) == 0x03);
    REQUIRE(byte(4) == count * 2);
    std::vector<uint16_t> words;
    for (size_t i = 0; i < count; ++i) words.push_back(static_cast<uint16_t>(byte(5 + 2 * i) << 8 | byte(6 + 2 * i)));
    return words;
}

// The registers of `map` that lie wholly inside the captured range (with their scale factors), and the
// equipment whose presence register is among them (register indices renumbered).
RegisterMap inside(const RegisterMap& map, uint16_t first, uint16_t count) {
    RegisterMap out = map;
    out.registers.clear();
    out.identify.reset();
    out.equipment.clear();
    std::vector<int> moved_to(map.registers.size(), -1);
    for (size_t i = 0; i < map.registers.size(); ++i) {
        const auto& r = map.registers[i];
        const bool in = r.address >= first && r.address + r.words <= first + count && r.scale_register < 0;
        if (!in) continue;
        moved_to[i] = static_cast<int>(out.registers.size());
        out.registers.push_back(r);
        out.registers.back().equipment = -1;
    }
    for (size_t e = 0; e < map.equipment.size(); ++e) {
        auto q = map.equipment[e];
        q.present_register = moved_to[static_cast<size_t>(q.present_register)];
        if (q.present_register < 0) continue;
        for (size_t i = 0; i < map.registers.size(); ++i) {
            if (moved_to[i] >= 0 && map.registers[i].equipment == static_cast<int>(e))
                out.registers[static_cast<size_t>(moved_to[i])].equipment = static_cast<int>(out.equipment.size());
        }
        out.equipment.push_back(std::move(q));
    }
    return out;
}

void compare(const nlohmann::json& got, const nlohmann::json& want, const std::string& path) {
    CAPTURE(path);
    if (want.is_number() && got.is_number()) {
        CHECK(got.get<double>() == doctest::Approx(want.get<double>()).epsilon(1e-9));
        return;
    }
    if (want.is_object() && got.is_object()) {
        for (const auto& [k, v] : want.items()) {
            if (k == "events" && v.empty()) {
                CHECK_FALSE(got.contains(k));  // we omit an empty event list
                continue;
            }
            CHECK_MESSAGE(got.contains(k), "missing " << path << "/" << k);
            if (got.contains(k)) compare(got[k], v, path + "/" + k);
        }
        for (const auto& [k, v] : got.items()) CHECK_MESSAGE(want.contains(k), "unexpected " << path << "/" << k);
        return;
    }
    if (want.is_array() && got.is_array()) {
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < want.size(); ++i) compare(got[i], want[i], path + "/" + std::to_string(i));
        return;
    }
    CHECK(got == want);
}

}  // namespace

TEST_CASE("GoodWe ET and DT maps decode the real captures to the golden JSON") {
    auto catalog = Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    for (const auto& c : kCaptures) {
        const std::string capture_name = c.file;
        CAPTURE(capture_name);
        const auto* map = catalog->find(c.profile);
        REQUIRE(map != nullptr);
        const auto words =
            parse_frame(test::read_file(test::reference_dir() / "data/captures/goodwe" / (std::string(c.file) + ".hex")), c.count);
        ManualClock clock;
        fakes::FakeModbusBus link(clock);
        link.set_holding(1, c.first, words);
        test::DirectBus bus(link);
        MapDeviceModel model(inside(*map, c.first, c.count));
        DeviceIdentity identity;
        acquisition::Reading reading;
        for (auto poll : {PollClass::once, PollClass::fast, PollClass::slow}) {
            auto d = model.read(bus, 1, poll);
            REQUIRE_MESSAGE(d.ok(), d.error().message);
            if (poll == PollClass::once) identity = d->identity;
            reading.values.merge(d->reading.values);
            reading.arrays.merge(d->reading.arrays);
            if (d->reading.state) reading.state = d->reading.state;
            reading.events.insert(reading.events.end(), d->reading.events.begin(), d->reading.events.end());
        }
        auto got = to_probe_json(identity, reading);
        // The per-input table is a view of the dc_* arrays for the installer (compared with the golden below, as
        // points): it must repeat them exactly, then it is left out of the comparison with the independent decoder.
        if (got.contains("mppt_inputs")) {
            const auto& points = got.at("points");
            for (const auto& row : got.at("mppt_inputs")) {
                const auto i = row.at("input").get<size_t>() - 1;
                for (const auto& [field, point] : {std::pair{"voltage_v", "dc_voltage_v"}, std::pair{"current_a", "dc_current_a"},
                                                   std::pair{"power_w", "dc_power_w"}}) {
                    const auto& arr = points.contains(point) ? points.at(point) : nlohmann::json();
                    const auto expected = arr.is_array() && i < arr.size() ? arr.at(i) : nlohmann::json();
                    CHECK_MESSAGE(row.at(field) == expected, "mppt_inputs/" << i << "/" << field);
                }
            }
            got.erase("mppt_inputs");
        }
        const auto want = nlohmann::json::parse(
            test::read_file(test::source_dir() / "tests/golden/devices/goodwe" / (std::string(c.file) + ".expected.json")));
        compare(got, want, "");
    }
}
