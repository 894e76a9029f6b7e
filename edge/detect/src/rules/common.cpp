#include <algorithm>
#include <sstream>

#include "pvfleet/domain/points.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

std::string fmt(double v, int decimals) {
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(decimals);
    os << v;
    return os.str();
}

domain::EvidenceItem evidence(std::string name, double observed, std::optional<double> expected, std::string unit,
                              TimePoint t) {
    return domain::EvidenceItem{std::move(name), observed, expected, std::move(unit), t};
}

void push(std::vector<domain::TicketEvent>& out, std::optional<domain::TicketEvent> e) {
    if (e) out.push_back(std::move(*e));
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

double near_zero(const DetectionConfig& cfg, const SunConditions& sun) {
    return std::max(cfg.not_producing.near_zero_min_w, cfg.not_producing.near_zero_fraction * sun.ac_rating_w);
}

bool judged_daylight(const DetectionConfig& cfg, const SunConditions& sun) {
    if (sun.elevation_deg < cfg.daylight.min_elevation_deg) return false;
    // Without a rating the elevation alone decides.
    if (sun.ac_rating_w <= 0) return true;
    return sun.expected_ac_w >= cfg.daylight.min_expected_fraction * sun.ac_rating_w;
}

std::optional<double> generation_energy(DeviceState& s, const domain::Sample& x) {
    if (auto pv = x.value(domain::points::pv_energy_total_wh)) {
        s.pv_counter = true;
        return pv;
    }
    if (s.pv_counter) return std::nullopt;
    return x.value(domain::points::energy_total_wh);
}

std::string generation_counter_name(const DeviceState& s) {
    return std::string(s.pv_counter ? domain::points::pv_energy_total_wh : domain::points::energy_total_wh);
}

}  // namespace pvfleet::detect::rules
