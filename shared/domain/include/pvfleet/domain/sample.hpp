#pragma once
// One decoded reading of one device at one moment: what acquisition produces, detection consumes,
// the store keeps and the wire carries.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/domain/enums.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::domain {

struct Sample {
    std::string device_id;  // site-unique device id from the site config, e.g. "inv1"
    TimePoint t;
    // Scalars by canonical name (points.hpp), SI units. Absent = not read or not implemented; never 0.
    std::map<std::string, double, std::less<>> values;
    // per_mppt / per_phase arrays by canonical name; an absent entry inside an array is nullopt.
    std::map<std::string, std::vector<std::optional<double>>, std::less<>> arrays;
    std::optional<InverterState> state;
    std::vector<std::string> events;  // active named events, e.g. "ground_fault", "grid_overvoltage"
    // Values the edge's plausibility layer refused (acquisition/plausibility.hpp), by point ("battery_power_w",
    // "dc_current_a[1]"): outside what the device can physically report. Evidence for detection only: never a
    // reading, never stored, never sent.
    std::map<std::string, double, std::less<>> implausible;

    [[nodiscard]] std::optional<double> value(std::string_view name) const {
        auto it = values.find(name);
        return it == values.end() ? std::nullopt : std::optional<double>(it->second);
    }
    friend bool operator==(const Sample&, const Sample&) = default;
};

}  // namespace pvfleet::domain
