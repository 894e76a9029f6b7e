// The compact raw-row encoding (store/sample_row.hpp): lossless for every kind of number a sample carries, and
// rows written as JSON before it still read back.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>

#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/sample_row.hpp"
#include "support/paths.hpp"

using namespace pvfleet;

namespace {
const TimePoint kRowT = from_epoch_ms(1'717'243'210'000LL);

domain::Sample with_value(double v) {
    domain::Sample s;
    s.device_id = "inv1";
    s.t = kRowT;
    s.values["ac_power_w"] = v;
    return s;
}
}  // namespace

TEST_CASE("sample rows: every number decodes to the same double, bit for bit") {
    // Whole numbers, decimals, register scaling as acquisition computes it (raw * 0.1), computed values, signs,
    // extremes and values no shortcut fits.
    const double cases[] = {0.0, -0.0, 1.0, -1.0, 4600.0, 1.2e7, 98'765'432'101.0, 50.01, 230.1, 0.001, -273.15,
                            2301 * 0.1, 5001 * 0.01, 12345 * 0.001, -417 * 0.1, 4600.0 / 2 / 410.2, 1.0 / 3.0,
                            1e-300, 1e300, 9.2e18, -9.2e18, 4.9e-324, INFINITY, -INFINITY, 123456789.123};
    for (double v : cases) {
        CAPTURE(v);
        const auto body = store::encode_sample_row(with_value(v));
        auto back = store::decode_sample_row(body, "inv1", kRowT);
        REQUIRE(back);
        REQUIRE(back->values.count("ac_power_w") == 1);
        CHECK(std::bit_cast<std::uint64_t>(back->values.at("ac_power_w")) == std::bit_cast<std::uint64_t>(v));
    }
    const auto nan = store::decode_sample_row(store::encode_sample_row(with_value(NAN)), "inv1", kRowT);
    REQUIRE(nan);
    CHECK(std::isnan(nan->values.at("ac_power_w")));
}

TEST_CASE("sample rows: a whole sample round-trips and is a fraction of its JSON") {
    domain::Sample s;
    s.device_id = "inv2";
    s.t = kRowT;
    s.values["ac_power_w"] = 4600;
    s.values["energy_total_wh"] = 12'345'678;
    s.values["ac_frequency_hz"] = 5001 * 0.01;
    s.values["temperature_c"] = 415 * 0.1;
    s.values["vendor_specific_x"] = 17.25;  // a name outside the table
    s.arrays["dc_voltage_v"] = {4102 * 0.1, std::nullopt, 3987 * 0.1};
    s.arrays["dc_current_a"] = {4600.0 / 2 / 410.2, 4600.0 / 2 / 398.7};
    s.arrays["ac_voltage_v"] = {2301 * 0.1, 2314 * 0.1, 2298 * 0.1};
    s.state = domain::InverterState::throttled;
    s.events = {"ground_fault", "vendor_fault_0x17"};
    const auto body = store::encode_sample_row(s);
    auto back = store::decode_sample_row(body, "inv2", kRowT);
    REQUIRE(back);
    CHECK(*back == s);
    const auto json = store::sample_to_json(s).dump();
    MESSAGE("compact " << body.size() << " B, JSON " << json.size() << " B");
    CHECK(body.size() * 3 < json.size());

    // Damaged rows are an error naming the row, never a crash or a half sample.
    for (std::size_t cut = 0; cut < body.size(); ++cut) {
        auto r = store::decode_sample_row(std::string_view(body).substr(0, cut), "inv2", kRowT);
        CHECK_FALSE(r);
    }
    auto wrong = store::decode_sample_row("\x07", "inv2", kRowT);
    REQUIRE_FALSE(wrong);
    CHECK(wrong.error().message.find("stored sample of inv2") == 0);
}

TEST_CASE("sample rows: JSON rows of an older store and compact rows read back together") {
    test::TempDir dir;
    const auto path = (dir / "edge.db").string();
    domain::Sample a = with_value(1234.5);
    domain::Sample b = with_value(2301 * 0.1);
    b.t = kRowT + std::chrono::seconds(10);
    {
        auto old_store = store::GatewayStore::open(path, {.compact_rows = false});
        REQUIRE(old_store);
        REQUIRE((**old_store).insert_samples({a}));
    }
    auto db = store::GatewayStore::open(path);
    REQUIRE(db);
    REQUIRE((**db).insert_samples({b}, false));
    auto rows = (**db).samples("inv1", kRowT, kRowT + std::chrono::minutes(1));
    REQUIRE(rows);
    REQUIRE(rows->size() == 2);
    CHECK((*rows)[0] == a);
    CHECK((*rows)[1] == b);
}
