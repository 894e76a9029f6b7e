#pragma once
// A sun for tests: daylight 06:00-18:00 UTC at longitude 0, a sine-shaped clear-sky curve.
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

#include "pvfleet/detect/sun.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::test {

// Midnight UTC of day `day` after 2016-07-01, the summer the detector tests play in.
inline TimePoint day_start(int day) {
    return from_epoch_ms(1'467'331'200'000LL + day * 86'400'000LL);
}

class FakeSun final : public detect::SunModel {
public:
    explicit FakeSun(std::vector<std::string> inverters = {"inv1"}, double rating_w = 5000)
        : inverters_(std::move(inverters)), rating_w_(rating_w) {}
    [[nodiscard]] detect::SunConditions at(std::string_view /*device*/, TimePoint t) const override {
        const double h = hour_of_day(t);
        const double s = std::sin(std::numbers::pi * (h - 6.0) / 12.0);
        detect::SunConditions c;
        c.elevation_deg = 60.0 * s;
        c.expected_ac_w = s > 0 ? rating_w_ * s : 0.0;
        c.ac_rating_w = rating_w_;
        return c;
    }
    [[nodiscard]] std::vector<std::string> inverter_ids() const override { return inverters_; }
    [[nodiscard]] double longitude_deg() const override { return 0.0; }

    static double hour_of_day(TimePoint t) {
        const long long ms = to_epoch_ms(t) % 86400000LL;
        return static_cast<double>(ms) / 3600000.0;
    }

private:
    std::vector<std::string> inverters_;
    double rating_w_;
};

}  // namespace pvfleet::test
