// Wired MPPT inputs against the register map's inputs: an array on an input the inverter's map cannot read is
// refused when the agent starts with that named map (it would look open from day one); an `mppt_inputs` above
// the map's count is a warning; maps with model variants are judged per identified variant.
#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "pvfleet/agent/agent.hpp"
#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/agent/wiring_check.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/util/time_system.hpp"
#include "support/paths.hpp"

using namespace pvfleet;

namespace {

nlohmann::json site(const std::string& profile, int mppt_inputs, int second_array_input) {
    auto j = nlohmann::json::parse(R"({
      "format": 1, "site_id": "wiring-site", "config_version": "w1", "latitude": 47.99, "longitude": 7.85,
      "endpoints": [{"id": "lan", "tcp": "127.0.0.1:1"}],
      "inverters": [{"id": "inv0", "endpoint": "lan", "unit": 2, "profile": "goodwe-dt", "ac_kw": 5},
                    {"id": "inv1", "endpoint": "lan", "unit": 1, "ac_kw": 8}],
      "arrays": [{"inverter": "inv0", "dc_kw": 5, "tilt": 30, "azimuth": 180},
                 {"inverter": "inv1", "mppt": 1, "dc_kw": 5.6, "tilt": 35, "azimuth": 180},
                 {"inverter": "inv1", "mppt": 2, "dc_kw": 2.8, "tilt": 35, "azimuth": 270}],
      "store": {"path": "edge.db"}})");
    j["inverters"][1]["profile"] = profile;
    j["inverters"][1]["mppt_inputs"] = mppt_inputs;
    j["arrays"][2]["mppt"] = second_array_input;
    j["maps_dir"] = (test::source_dir() / "firmware-config/devices").string();
    return j;
}

agent::SiteConfig parsed(const nlohmann::json& j, const std::filesystem::path& dir) {
    auto c = agent::parse_site_config(j, dir);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    return *c;
}

std::vector<std::string> texts(const std::vector<agent::WiringMisfit>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) out.push_back(std::string(m.array ? "array " : "inputs ") + m.error.message);
    return out;
}

}  // namespace

TEST_CASE("register maps: MPPT inputs read, per map and per variant") {
    auto catalog = devices::Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    CHECK(devices::mppt_input_count(*catalog->find("goodwe-et")) == 4);
    CHECK(devices::mppt_input_count(*catalog->find("sungrow-sg")) == 2);
    const auto& solax = *catalog->find("solax-x1-x3");
    CHECK(devices::mppt_input_count(solax) == 2);
    auto x3 = devices::variant_named(solax, "x3");
    REQUIRE(x3.ok());
    CHECK(devices::mppt_input_count(*x3) == 2);
}

TEST_CASE("wiring against the map: fits, arrays beyond it, mppt_inputs beyond it") {
    test::TempDir dir;
    auto catalog = devices::Catalog::load(test::source_dir() / "firmware-config/devices");
    REQUIRE_MESSAGE(catalog.ok(), catalog.error().message);
    const auto& sg = *catalog->find("sungrow-sg");  // reads MPPT 1 and 2

    CHECK(agent::wiring_misfits(parsed(site("sungrow-sg", 2, 2), dir.path()), "inv1", sg).empty());
    // Without wiring (inv0) nothing is judged.
    CHECK(agent::wiring_misfits(parsed(site("sungrow-sg", 2, 2), dir.path()), "inv0", sg).empty());

    const auto misfits = texts(agent::wiring_misfits(parsed(site("sungrow-sg", 4, 3), dir.path()), "inv1", sg));
    REQUIRE(misfits.size() == 2);
    CHECK(misfits[0] == "inputs inverters/1/mppt_inputs: 4 inputs on inverter 'inv1', but register map 'sungrow-sg' "
                        "reads 2 MPPT inputs: inputs above 2 are not watched");
    CHECK(misfits[1] == "array arrays/2/mppt: input 3 of inverter 'inv1', but register map 'sungrow-sg' reads 2 MPPT "
                        "inputs (an input it cannot read would look open from day one)");

    // A model variant names itself.
    auto x1 = devices::variant_named(*catalog->find("solax-x1-x3"), "x1");
    REQUIRE(x1.ok());
    const auto v = texts(agent::wiring_misfits(parsed(site("solax-x1-x3", 3, 3), dir.path()), "inv1", *x1));
    REQUIRE(v.size() == 2);
    CHECK(v[1] == "array arrays/2/mppt: input 3 of inverter 'inv1', but register map 'solax-x1-x3' (variant x1) "
                  "reads 2 MPPT inputs (an input it cannot read would look open from day one)");
}

TEST_CASE("agent start: an array wired beyond the named map's inputs is refused; mppt_inputs beyond is not") {
    test::TempDir dir;
    SimulatedTimeSystem time(from_epoch_ms(1'782'036'000'000));
    boost::asio::io_context io;
    auto refused = agent::Agent::create(parsed(site("sungrow-sg", 3, 3), dir.path()), io.get_executor(), time);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().message ==
          "arrays/2/mppt: input 3 of inverter 'inv1', but register map 'sungrow-sg' reads 2 MPPT inputs (an input "
          "it cannot read would look open from day one)");

    auto warned = agent::Agent::create(parsed(site("sungrow-sg", 4, 2), dir.path()), io.get_executor(), time);
    CHECK_MESSAGE(warned.ok(), (warned.ok() ? "" : warned.error().message));
    // auto: judged once the device is identified, not at start.
    auto later = agent::Agent::create(parsed(site("auto", 3, 3), dir.path()), io.get_executor(), time);
    CHECK_MESSAGE(later.ok(), (later.ok() ? "" : later.error().message));
}
