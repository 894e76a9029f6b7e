#include "pvfleet/detect/site.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "pvfleet/domain/ticket.hpp"

namespace pvfleet::detect {
namespace {

Result<double> number(const nlohmann::json& j, const char* key, std::optional<double> fallback, double lo, double hi) {
    if (!j.contains(key)) {
        if (fallback) return *fallback;
        return Error::at(key, "missing");
    }
    const auto& v = j.at(key);
    if (!v.is_number() || v.get<double>() < lo || v.get<double>() > hi) {
        return Error::at(key, "expected a number between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                  ", got " + v.dump());
    }
    return v.get<double>();
}

Result<std::string> text(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_string() || j.at(key).get<std::string>().empty()) {
        return Error::at(key, "expected a non-empty string");
    }
    return j.at(key).get<std::string>();
}

// An optional whole number lo..hi; none when the key is absent.
Result<std::optional<int>> whole(const nlohmann::json& j, const char* key, int lo, int hi) {
    if (!j.contains(key)) return std::optional<int>{};
    const auto& v = j.at(key);
    if (!v.is_number_integer() || v.get<long long>() < lo || v.get<long long>() > hi) {
        return Error::at(key, "expected a whole number " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " +
                                  v.dump());
    }
    return std::optional<int>(v.get<int>());
}

// Rules across arrays on the MPPT inputs they name: an input within the inverter's count, and either every array
// of an inverter names its input or none does (a half-described inverter would leave its other arrays' inputs
// looking unwired).
Status check_wiring(const nlohmann::json& arrays, SiteDetection& out) {
    std::map<std::string, std::size_t, std::less<>> first_with, first_without;  // inverter -> array index
    for (std::size_t i = 0; i < arrays.size(); ++i) {
        const auto& j = arrays.at(i);
        const std::string path = "arrays/" + std::to_string(i);
        const std::string inverter = j.at("inverter").get<std::string>();
        auto mppt = whole(j, "mppt", 1, domain::kMaxInput);
        if (!mppt) return mppt.error().under(path);
        auto& mine = *mppt ? first_with : first_without;
        auto& other = *mppt ? first_without : first_with;
        mine.emplace(inverter, i);
        if (auto o = other.find(inverter); o != other.end()) {
            const std::size_t with = *mppt ? i : o->second;
            const std::size_t without = *mppt ? o->second : i;
            return Error::at("arrays/" + std::to_string(without) + "/mppt",
                             "required: arrays/" + std::to_string(with) + " of inverter '" + inverter +
                                 "' names its MPPT input, so every array of that inverter must");
        }
        if (!*mppt) continue;
        if (auto n = out.mppt_inputs.find(inverter); n != out.mppt_inputs.end() && **mppt > n->second) {
            return Error::at(path + "/mppt", "input " + std::to_string(**mppt) + ", but inverter '" + inverter +
                                                 "' has " + std::to_string(n->second) + " MPPT inputs (mppt_inputs)");
        }
        auto& wired = out.wiring[inverter];
        if (std::find(wired.begin(), wired.end(), **mppt) == wired.end()) wired.push_back(**mppt);
        std::sort(wired.begin(), wired.end());
    }
    return {};
}

}  // namespace

Result<SiteDetection> parse_site_detection(const nlohmann::json& site) {
    if (!site.is_object()) return Error{"site: expected a JSON object"};
    SiteDetection out;
    auto& m = out.model;
    auto lat = number(site, "latitude", std::nullopt, -90, 90);
    if (!lat) return lat.error();
    auto lon = number(site, "longitude", std::nullopt, -180, 180);
    if (!lon) return lon.error();
    auto elev = number(site, "elevation_m", 0.0, -500, 9000);
    if (!elev) return elev.error();
    m.latitude_deg = *lat;
    m.longitude_deg = *lon;
    m.elevation_m = *elev;
    if (!site.contains("inverters") || !site.at("inverters").is_array() || site.at("inverters").empty()) {
        return Error::at("inverters", "expected a non-empty array");
    }
    for (std::size_t i = 0; i < site.at("inverters").size(); ++i) {
        const auto& j = site.at("inverters").at(i);
        const std::string path = "inverters/" + std::to_string(i);
        if (!j.is_object()) return Error::at(path, "expected an object");
        solar::InverterConfig inv;
        auto id = text(j, "id");
        if (!id) return id.error().under(path);
        auto ac = number(j, "ac_kw", std::nullopt, 0.01, 10000);
        if (!ac) return ac.error().under(path);
        auto eff = number(j, "efficiency", 0.96, 0.5, 1.0);
        if (!eff) return eff.error().under(path);
        auto inputs = whole(j, "mppt_inputs", 1, domain::kMaxInput);
        if (!inputs) return inputs.error().under(path);
        if (*inputs) out.mppt_inputs[*id] = **inputs;
        inv.id = *id;
        inv.ac_kw = *ac;
        inv.nominal_efficiency = *eff;
        m.inverters.push_back(inv);
    }
    if (!site.contains("arrays") || !site.at("arrays").is_array() || site.at("arrays").empty()) {
        return Error::at("arrays", "expected a non-empty array");
    }
    for (std::size_t i = 0; i < site.at("arrays").size(); ++i) {
        const auto& j = site.at("arrays").at(i);
        const std::string path = "arrays/" + std::to_string(i);
        if (!j.is_object()) return Error::at(path, "expected an object");
        solar::ArrayConfig a;
        a.id = j.value("id", "array" + std::to_string(i + 1));
        auto inv = text(j, "inverter");
        if (!inv) return inv.error().under(path);
        auto dc = number(j, "dc_kw", std::nullopt, 0.01, 10000);
        if (!dc) return dc.error().under(path);
        auto tilt = number(j, "tilt", std::nullopt, 0, 90);
        if (!tilt) return tilt.error().under(path);
        auto az = number(j, "azimuth", std::nullopt, 0, 360);
        if (!az) return az.error().under(path);
        auto losses = number(j, "losses", 0.14, 0, 0.9);
        if (!losses) return losses.error().under(path);
        a.inverter_id = *inv;
        a.dc_kwp = *dc;
        a.tilt_deg = *tilt;
        a.azimuth_deg = *az;
        a.losses = *losses;
        m.arrays.push_back(a);
    }
    PVF_CHECK(check_wiring(site.at("arrays"), out));
    auto cfg = parse_detection_config(site.value("detection", nlohmann::json::object()));
    if (!cfg) return cfg.error().under("detection");
    out.config = *cfg;
    // Let the solar module validate links (unknown inverter ids, ...).
    auto model = solar::ExpectedPowerModel::create(m);
    if (!model) return model.error();
    return out;
}

Result<std::unique_ptr<SolarSunModel>> SolarSunModel::create(solar::SiteModel site) {
    auto model = solar::ExpectedPowerModel::create(std::move(site));
    if (!model) return model.error();
    return std::unique_ptr<SolarSunModel>(new SolarSunModel(std::move(*model)));
}

SunConditions SolarSunModel::at(std::string_view device_id, TimePoint t) const {
    if (!cached_ || cached_t_ != t) {
        model_.at(t, {}, cached_power_);
        cached_t_ = t;
        cached_ = true;
    }
    SunConditions c;
    c.elevation_deg = cached_power_.sun.apparent_elevation_deg;
    const auto& inverters = model_.site().inverters;
    for (std::size_t i = 0; i < inverters.size(); ++i) {
        if (inverters[i].id == device_id && i < cached_power_.inverters.size()) {
            c.expected_ac_w = cached_power_.inverters[i].ac_w;
            c.ac_rating_w = inverters[i].ac_kw * 1000;
            return c;
        }
    }
    // Not an inverter of the site model (meter, battery): judge by the whole site.
    c.expected_ac_w = cached_power_.total_ac_w;
    for (const auto& inv : inverters) c.ac_rating_w += inv.ac_kw * 1000;
    return c;
}

std::vector<std::string> SolarSunModel::inverter_ids() const {
    std::vector<std::string> ids;
    for (const auto& inv : model_.site().inverters) ids.push_back(inv.id);
    return ids;
}

double SolarSunModel::longitude_deg() const { return model_.site().longitude_deg; }

}  // namespace pvfleet::detect
