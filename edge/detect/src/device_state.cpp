#include "device_state.hpp"

#include "pvfleet/util/number.hpp"

namespace pvfleet::detect {

void to_json(nlohmann::json& j, const DeviceState& s) {
    j = nlohmann::json::object();
    auto opt = [&](const char* k, const auto& v) {
        if (v) j[k] = *v;
    };
    opt("last_ms", s.last_ms);
    opt("last_energy_wh", s.last_energy_wh);
    opt("last_power_w", s.last_power_w);
    j["np"] = s.np;
    j["slots"] = s.slots;
    opt("ambient_c", s.ambient_c);
    opt("gap_start_ms", s.gap_start_ms);
    opt("gap_last_ms", s.gap_last_ms);
    opt("gap_energy_before_wh", s.gap_energy_before_wh);
    j["gap_daylight_ms"] = s.gap_daylight_ms;
    j["gap_expected_wh"] = s.gap_expected_wh;
    j["active_since_ms"] = s.active_since_ms;
    j["grid_trips_ms"] = s.grid_trips_ms;
    opt("last_fault_ms", s.last_fault_ms);
    opt("last_backwards_ms", s.last_backwards_ms);
    opt("frozen_value", s.frozen_value);
    opt("frozen_since_ms", s.frozen_since_ms);
    j["frozen_count"] = s.frozen_count;
    j["frozen"] = s.frozen;
    opt("counter_still_value", s.counter_still_value);
    opt("counter_still_since_ms", s.counter_still_since_ms);
    j["implausible"] = s.implausible;
    j["implausible_raised"] = s.implausible_raised;
    j["drift_days"] = s.drift_days;
    nlohmann::json inputs = nlohmann::json::object();
    for (const auto& [k, v] : s.inputs) inputs[std::to_string(k)] = v;
    j["inputs"] = std::move(inputs);
    j["good_sun_ms_today"] = s.good_sun_ms_today;
    opt("good_sun_last_ms", s.good_sun_last_ms);
    j["drift_learn"] = s.drift_learn;
    opt("drift_rise_ref", s.drift_rise_ref);
    opt("drift_fall_ref", s.drift_fall_ref);
    j["shading_bits"] = s.shading_bits;
    j["today_low"] = s.today_low;
    nlohmann::json good = nlohmann::json::object();
    for (const auto& [k, v] : s.today_good_hours) good[std::to_string(k)] = v;
    j["today_good_hours"] = good;
    j["today"] = s.today;
    j["perf"] = s.perf;
    j["down_without_grid"] = s.down_without_grid;
}

void from_json(const nlohmann::json& j, DeviceState& s) {
    auto opt = [&](const char* k, auto& v) {
        using T = typename std::remove_reference_t<decltype(v)>::value_type;
        if (j.contains(k)) v = j.at(k).get<T>();
    };
    opt("last_ms", s.last_ms);
    opt("last_energy_wh", s.last_energy_wh);
    opt("last_power_w", s.last_power_w);
    s.np = j.at("np").get<Hold>();
    s.slots = j.at("slots").get<std::vector<int>>();
    if (s.slots.size() != 96) s.slots.assign(96, 0);
    opt("ambient_c", s.ambient_c);
    opt("gap_start_ms", s.gap_start_ms);
    opt("gap_last_ms", s.gap_last_ms);
    opt("gap_energy_before_wh", s.gap_energy_before_wh);
    s.gap_daylight_ms = j.at("gap_daylight_ms").get<double>();
    s.gap_expected_wh = j.at("gap_expected_wh").get<double>();
    s.active_since_ms = j.at("active_since_ms").get<std::map<std::string, long long>>();
    s.grid_trips_ms = j.at("grid_trips_ms").get<std::vector<long long>>();
    opt("last_fault_ms", s.last_fault_ms);
    opt("last_backwards_ms", s.last_backwards_ms);
    opt("frozen_value", s.frozen_value);
    opt("frozen_since_ms", s.frozen_since_ms);
    s.frozen_count = j.at("frozen_count").get<int>();
    s.frozen = j.at("frozen").get<Hold>();
    opt("counter_still_value", s.counter_still_value);
    opt("counter_still_since_ms", s.counter_still_since_ms);
    // Absent in states saved before implausible values were counted.
    s.implausible = j.value("implausible", std::map<std::string, ImplausiblePoint>{});
    s.implausible_raised = j.value("implausible_raised", false);
    s.drift_days = j.at("drift_days").get<int>();
    // A state saved before inputs had their own state ("string", "string_worst") starts them afresh: an input
    // counts as unused again only after a new good-sun day without production.
    s.inputs.clear();
    const nlohmann::json inputs = j.value("inputs", nlohmann::json::object());
    for (const auto& [k, v] : inputs.items()) {
        // Keys are input indexes written by to_json above.
        if (const auto input = parse_number<int>(k)) s.inputs[*input] = v.get<InputState>();
    }
    s.good_sun_ms_today = j.value("good_sun_ms_today", 0.0);
    opt("good_sun_last_ms", s.good_sun_last_ms);
    // Learned edge offsets came later: a state saved before them starts learning afresh.
    if (j.contains("drift_learn")) s.drift_learn = j.at("drift_learn").get<std::vector<double>>();
    opt("drift_rise_ref", s.drift_rise_ref);
    opt("drift_fall_ref", s.drift_fall_ref);
    s.shading_bits = j.at("shading_bits").get<std::map<std::string, unsigned>>();
    s.today_low = j.at("today_low").get<std::map<std::string, int>>();
    s.today_good_hours.clear();
    for (const auto& [k, v] : j.at("today_good_hours").items()) {
        // Keys are MPPT numbers written by to_json above; one that is not a number is no input's and is dropped.
        if (const auto mppt = parse_number<int>(k)) s.today_good_hours[*mppt] = v.get<int>();
    }
    s.today = j.at("today").get<DayAccum>();
    // A state saved before the clear-period rule (with whole clear days instead) starts it afresh.
    s.perf = j.contains("perf") ? j.at("perf").get<PerfState>() : PerfState{};
    s.down_without_grid = j.at("down_without_grid").get<bool>();
}

}  // namespace pvfleet::detect
