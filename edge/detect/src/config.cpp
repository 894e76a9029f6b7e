#include "pvfleet/detect/config.hpp"

#include <functional>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace pvfleet::detect {
namespace {

struct Field {
    const char* section;
    const char* key;
    std::variant<double*, int*> target;
    double min;
    double max;
};

// One table drives parsing, printing and the documentation check in the tests.
std::vector<Field> fields_of(DetectionConfig& c) {
    constexpr double inf = 1e18;
    return {
        {"daylight", "min_elevation_deg", &c.daylight.min_elevation_deg, -5, 60},
        {"daylight", "min_expected_fraction", &c.daylight.min_expected_fraction, 0, 1},
        {"not_producing", "near_zero_fraction", &c.not_producing.near_zero_fraction, 0, 1},
        {"not_producing", "near_zero_min_w", &c.not_producing.near_zero_min_w, 0, inf},
        {"not_producing", "debounce_min", &c.not_producing.debounce_min, 0, inf},
        {"not_producing", "clear_min", &c.not_producing.clear_min, 0, inf},
        {"not_producing", "major_after_min", &c.not_producing.major_after_min, 0, inf},
        {"not_producing", "critical_after_min", &c.not_producing.critical_after_min, 0, inf},
        {"not_producing", "max_gap_min", &c.not_producing.max_gap_min, 0, inf},
        {"not_producing", "unlearned_expected_fraction", &c.not_producing.unlearned_expected_fraction, 0, 1},
        {"not_producing", "snow_max_ambient_c", &c.not_producing.snow_max_ambient_c, -100, 100},
        {"not_producing", "snow_day_fraction", &c.not_producing.snow_day_fraction, 0, 1},
        {"not_producing", "snow_start_fraction", &c.not_producing.snow_start_fraction, 0, 1},
        {"not_producing", "snow_start_min", &c.not_producing.snow_start_min, 0, inf},
        {"comm_lost", "debounce_min", &c.comm_lost.debounce_min, 0, inf},
        {"comm_lost", "outage_ratio", &c.comm_lost.outage_ratio, 0, 10},
        {"inverter_fault", "repeat_window_min", &c.inverter_fault.repeat_window_min, 0, inf},
        {"inverter_fault", "repeat_count", &c.inverter_fault.repeat_count, 1, 1000},
        {"inverter_fault", "persist_min", &c.inverter_fault.persist_min, 0, inf},
        {"inverter_fault", "clear_min", &c.inverter_fault.clear_min, 0, inf},
        {"string_fault", "min_expected_fraction", &c.string_fault.min_expected_fraction, 0, 1},
        {"string_fault", "low_ratio", &c.string_fault.low_ratio, 0, 1},
        {"string_fault", "open_ratio", &c.string_fault.open_ratio, 0, 1},
        {"string_fault", "min_ac_fraction", &c.string_fault.min_ac_fraction, 0, 1},
        {"string_fault", "debounce_min", &c.string_fault.debounce_min, 0, inf},
        {"string_fault", "open_debounce_min", &c.string_fault.open_debounce_min, 0, inf},
        {"string_fault", "clear_min", &c.string_fault.clear_min, 0, inf},
        {"string_fault", "day_drop_fraction", &c.string_fault.day_drop_fraction, 0, 1},
        {"string_fault", "shading_days", &c.string_fault.shading_days, 1, 7},
        {"underperformance", "clear_window_bins", &c.underperformance.clear_window_bins, 2, 96},
        {"underperformance", "clear_max_roughness", &c.underperformance.clear_max_roughness, 0, 1},
        {"underperformance", "clear_max_slope", &c.underperformance.clear_max_slope, 0, 1},
        {"underperformance", "max_interval_min", &c.underperformance.max_interval_min, 1, inf},
        {"underperformance", "min_elevation_deg", &c.underperformance.min_elevation_deg, 0, 90},
        {"underperformance", "min_bin_fraction", &c.underperformance.min_bin_fraction, 0, 1},
        {"underperformance", "clip_fraction", &c.underperformance.clip_fraction, 0, 2},
        {"underperformance", "counter_max_step_fraction", &c.underperformance.counter_max_step_fraction, 0, 1},
        {"underperformance", "usable_min_bins", &c.underperformance.usable_min_bins, 1, 96},
        {"underperformance", "dim_day_fraction", &c.underperformance.dim_day_fraction, 0, 1},
        {"underperformance", "snow_max_ambient_c", &c.underperformance.snow_max_ambient_c, -100, 100},
        {"string_fault", "unused_good_sun_fraction", &c.string_fault.unused_good_sun_fraction, 0, 1},
        {"string_fault", "unused_good_sun_min", &c.string_fault.unused_good_sun_min, 0, 1440},
        {"string_fault", "unused_after_days", &c.string_fault.unused_after_days, 1, 365},
        {"underperformance", "recent_days", &c.underperformance.recent_days, 1, 60},
        {"underperformance", "recent_span_days", &c.underperformance.recent_span_days, 1, 365},
        {"underperformance", "model_bias_prior", &c.underperformance.model_bias_prior, 0.05, 5},
        {"underperformance", "floor_pr", &c.underperformance.floor_pr, 0, 2},
        {"underperformance", "floor_clear_pr", &c.underperformance.floor_clear_pr, 0, 2},
        {"underperformance", "baseline_span_days", &c.underperformance.baseline_span_days, 1, 365},
        {"underperformance", "baseline_min_days", &c.underperformance.baseline_min_days, 1, 365},
        {"underperformance", "drop_fraction", &c.underperformance.drop_fraction, 0, 1},
        {"underperformance", "clear_fraction", &c.underperformance.clear_fraction, 0, 1},
        {"underperformance", "learn_fraction", &c.underperformance.learn_fraction, 0, 1},
        {"underperformance", "commissioning_days", &c.underperformance.commissioning_days, 1, 365},
        {"underperformance", "drift_fraction", &c.underperformance.drift_fraction, 0, 1},
        {"underperformance", "drift_days", &c.underperformance.drift_days, 1, 365},
        {"grid_outage", "max_ac_voltage_v", &c.grid_outage.max_ac_voltage_v, 0, 1000},
        {"grid_outage", "debounce_min", &c.grid_outage.debounce_min, 0, inf},
        {"grid_outage", "clear_min", &c.grid_outage.clear_min, 0, inf},
        {"data_quality", "counter_tolerance_wh", &c.data_quality.counter_tolerance_wh, 0, inf},
        {"data_quality", "counter_clear_min", &c.data_quality.counter_clear_min, 0, inf},
        {"data_quality", "frozen_min", &c.data_quality.frozen_min, 0, inf},
        {"data_quality", "frozen_samples", &c.data_quality.frozen_samples, 2, 100000},
        {"data_quality", "clock_drift_max_min", &c.data_quality.clock_drift_max_min, 1, 720},
        {"data_quality", "clock_drift_days", &c.data_quality.clock_drift_days, 1, 365},
        {"data_quality", "clock_drift_learn_days", &c.data_quality.clock_drift_learn_days, 1, 365},
        {"data_quality", "implausible_samples", &c.data_quality.implausible_samples, 1, 100000},
        {"data_quality", "implausible_min", &c.data_quality.implausible_min, 0, inf},
        {"data_quality", "implausible_clear_min", &c.data_quality.implausible_clear_min, 1, inf},
        {"tickets", "close_after_resolved_min", &c.tickets.close_after_resolved_min, 0, inf},
        {"tickets", "max_evidence", &c.tickets.max_evidence, 1, 1000},
    };
}

std::string num(double v) {
    std::string t = std::to_string(v);
    t.erase(t.find_last_not_of('0') + 1);
    if (!t.empty() && t.back() == '.') t.pop_back();
    return t;
}

std::string range_text(double lo, double hi, bool integer) {
    std::string s = integer ? "an integer" : "a number";
    s += " >= " + num(lo);
    if (hi < 1e17) s += " and <= " + num(hi);
    return s;
}

// Settings that only make sense together: a combination that could never be met would switch a check off
// silently, and a resolve threshold below its raise threshold would let a ticket flap.
Status check_combinations(const DetectionConfig& c) {
    const auto& u = c.underperformance;
    if (u.recent_days > u.recent_span_days)
        return Error::at("underperformance/recent_days",
                         std::to_string(u.recent_days) + " usable days cannot fall within recent_span_days " +
                             std::to_string(u.recent_span_days));
    if (u.baseline_min_days > u.baseline_span_days)
        return Error::at("underperformance/baseline_min_days",
                         std::to_string(u.baseline_min_days) + " learned days cannot fall within baseline_span_days " +
                             std::to_string(u.baseline_span_days));
    if (u.floor_clear_pr < u.floor_pr)
        return Error::at("underperformance/floor_clear_pr",
                         num(u.floor_clear_pr) + " is below floor_pr " + num(u.floor_pr) +
                             " (the ticket would resolve while the floor still holds)");
    return {};
}

}  // namespace

Result<DetectionConfig> parse_detection_config(const nlohmann::json& j) {
    DetectionConfig c;
    if (j.is_null()) return c;
    if (!j.is_object()) return Error{"expected an object of detector sections"};
    auto fields = fields_of(c);
    for (const auto& [section, body] : j.items()) {
        bool known_section = false;
        for (const auto& f : fields) known_section = known_section || section == f.section;
        if (!known_section) return Error::at(section, "unknown detector section");
        if (!body.is_object()) return Error::at(section, "expected an object");
        for (const auto& [key, value] : body.items()) {
            const Field* field = nullptr;
            for (const auto& f : fields) {
                if (section == f.section && key == f.key) field = &f;
            }
            const std::string path = section + "/" + key;
            if (field == nullptr) return Error::at(path, "unknown setting");
            const bool integer = std::holds_alternative<int*>(field->target);
            const bool ok_type = integer ? value.is_number_integer() : value.is_number();
            if (!ok_type || value.get<double>() < field->min || value.get<double>() > field->max) {
                return Error::at(path, "expected " + range_text(field->min, field->max, integer) + ", got " +
                                           value.dump());
            }
            if (integer) {
                *std::get<int*>(field->target) = value.get<int>();
            } else {
                *std::get<double*>(field->target) = value.get<double>();
            }
        }
    }
    PVF_CHECK(check_combinations(c));
    return c;
}

nlohmann::json to_json(const DetectionConfig& config) {
    DetectionConfig c = config;
    nlohmann::json j = nlohmann::json::object();
    for (const auto& f : fields_of(c)) {
        if (std::holds_alternative<int*>(f.target)) {
            j[f.section][f.key] = *std::get<int*>(f.target);
        } else {
            j[f.section][f.key] = *std::get<double*>(f.target);
        }
    }
    return j;
}

}  // namespace pvfleet::detect
