#include "pvfleet/sim/site.hpp"

#include <date/tz.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

namespace pvfleet::sim {

namespace {
using nlohmann::json;

// Small typed readers that name the key on failure.
Status read_number(const json& obj, const std::string& key, double& out, bool required, double lo, double hi) {
    if (!obj.contains(key)) {
        return required ? Status{Error::at(key, "missing")} : Status{};
    }
    const auto& v = obj.at(key);
    if (!v.is_number()) return Error::at(key, "expected a number");
    const double d = v.get<double>();
    if (d < lo || d > hi) return Error::at(key, std::to_string(d) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out = d;
    return {};
}

Status read_int(const json& obj, const std::string& key, int& out, bool required, int lo, int hi) {
    if (!obj.contains(key)) return required ? Status{Error::at(key, "missing")} : Status{};
    const auto& v = obj.at(key);
    if (!v.is_number_integer()) return Error::at(key, "expected an integer");
    const auto i = v.get<long long>();
    if (i < lo || i > hi) return Error::at(key, std::to_string(i) + " out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    out = static_cast<int>(i);
    return {};
}

Status read_string(const json& obj, const std::string& key, std::string& out, bool required) {
    if (!obj.contains(key)) return required ? Status{Error::at(key, "missing")} : Status{};
    const auto& v = obj.at(key);
    if (!v.is_string()) return Error::at(key, "expected a string");
    out = v.get<std::string>();
    if (required && out.empty()) return Error::at(key, "must not be empty");
    return {};
}

Status check_keys(const json& obj, std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : obj.items()) {
        bool known = false;
        for (auto a : allowed) known = known || a == key;
        if (!known) return Error::at(key, "unknown key");
    }
    return {};
}

#define PVF_TRY(expr)                                   \
    do {                                                \
        if (auto pvf_status_ = (expr); !pvf_status_.ok()) return pvf_status_.error(); \
    } while (false)

Result<ArraySpec> parse_array(const json& a) {
    if (!a.is_object()) return Error{"expected an object"};
    PVF_TRY(check_keys(a, {"id", "device", "mppt", "dc_kwp", "tilt_deg", "azimuth_deg", "vmpp_v"}));
    ArraySpec s;
    PVF_TRY(read_string(a, "id", s.id, true));
    PVF_TRY(read_string(a, "device", s.device, true));
    PVF_TRY(read_int(a, "mppt", s.mppt, false, 1, 16));
    PVF_TRY(read_number(a, "dc_kwp", s.dc_kwp, true, 0.01, 1000));
    PVF_TRY(read_number(a, "tilt_deg", s.tilt_deg, false, 0, 90));
    PVF_TRY(read_number(a, "azimuth_deg", s.azimuth_deg, false, 0, 360));
    PVF_TRY(read_number(a, "vmpp_v", s.vmpp_v, false, 10, 1500));
    return s;
}

Result<DeviceSpec> parse_device(const json& d) {
    if (!d.is_object()) return Error{"expected an object"};
    PVF_TRY(check_keys(d, {"name", "unit", "profile", "ac_kw", "phases", "mppts", "manufacturer", "model", "serial"}));
    DeviceSpec s;
    PVF_TRY(read_string(d, "name", s.name, true));
    int unit = 1;
    PVF_TRY(read_int(d, "unit", unit, true, 1, 247));
    s.unit = static_cast<uint8_t>(unit);
    PVF_TRY(read_string(d, "profile", s.profile, true));
    PVF_TRY(read_number(d, "ac_kw", s.ac_kw, true, 0.1, 1000));
    PVF_TRY(read_int(d, "phases", s.phases, false, 1, 3));
    if (s.phases == 2) return Error::at("phases", "2 is not supported (1 or 3)");
    PVF_TRY(read_int(d, "mppts", s.mppts, false, 1, 16));
    PVF_TRY(read_string(d, "manufacturer", s.manufacturer, false));
    PVF_TRY(read_string(d, "model", s.model, false));
    s.serial = "SIM" + std::to_string(unit);
    PVF_TRY(read_string(d, "serial", s.serial, false));
    return s;
}
}  // namespace

Result<SiteSpec> parse_site(const json& doc) {
    if (!doc.is_object()) return Error{"site: expected a JSON object"};
    PVF_TRY(check_keys(doc, {"name", "latitude_deg", "longitude_deg", "elevation_m", "time_zone", "ambient_c",
                             "clouds", "night", "unknown_unit", "listen", "arrays", "devices", "$comment"}));
    SiteSpec s;
    PVF_TRY(read_string(doc, "name", s.name, true));
    PVF_TRY(read_number(doc, "latitude_deg", s.latitude_deg, true, -90, 90));
    PVF_TRY(read_number(doc, "longitude_deg", s.longitude_deg, true, -180, 180));
    PVF_TRY(read_number(doc, "elevation_m", s.elevation_m, false, -500, 9000));
    PVF_TRY(read_number(doc, "ambient_c", s.ambient_c, false, -50, 60));
    PVF_TRY(read_string(doc, "time_zone", s.time_zone, false));
    try {
        (void)date::locate_zone(s.time_zone);
    } catch (const std::exception&) {
        return Error::at("time_zone", "unknown time zone '" + s.time_zone + "'");
    }
    std::string text;
    PVF_TRY(read_string(doc, "clouds", text, false));
    if (!text.empty()) {
        if (text == "none") s.clouds = CloudKind::none;
        else if (text == "scattered") s.clouds = CloudKind::scattered;
        else if (text == "overcast") s.clouds = CloudKind::overcast;
        else return Error::at("clouds", "unknown '" + text + "' (expected none, scattered, overcast)");
    }
    text.clear();
    PVF_TRY(read_string(doc, "night", text, false));
    if (!text.empty()) {
        if (text == "sleep") s.night = NightBehaviour::sleep;
        else if (text == "refuse_tcp") s.night = NightBehaviour::refuse_tcp;
        else return Error::at("night", "unknown '" + text + "' (expected sleep, refuse_tcp)");
    }
    text.clear();
    PVF_TRY(read_string(doc, "unknown_unit", text, false));
    if (!text.empty()) {
        if (text == "silent") s.unknown_unit = UnknownUnit::silent;
        else if (text == "exception") s.unknown_unit = UnknownUnit::exception;
        else return Error::at("unknown_unit", "unknown '" + text + "' (expected silent, exception)");
    }
    if (doc.contains("listen")) {
        const auto& l = doc.at("listen");
        if (!l.is_object()) return Error::at("listen", "expected an object");
        if (auto st = check_keys(l, {"host", "port", "max_connections"}); !st) return st.error().under("listen");
        if (auto st = read_string(l, "host", s.listen_host, false); !st) return st.error().under("listen");
        if (auto st = read_int(l, "port", s.listen_port, false, 0, 65535); !st) return st.error().under("listen");
        if (auto st = read_int(l, "max_connections", s.max_connections, false, 0, 1000); !st) return st.error().under("listen");
    }
    if (!doc.contains("devices") || !doc.at("devices").is_array() || doc.at("devices").empty()) {
        return Error::at("devices", "expected a non-empty array");
    }
    std::set<std::string> names;
    std::set<int> units;
    for (std::size_t i = 0; i < doc.at("devices").size(); ++i) {
        auto d = parse_device(doc.at("devices")[i]);
        const auto where = "devices/" + std::to_string(i);
        if (!d) return d.error().under(where);
        if (!names.insert(d->name).second) return Error::at(where + "/name", "duplicate '" + d->name + "'");
        if (!units.insert(d->unit).second) return Error::at(where + "/unit", "duplicate unit id " + std::to_string(d->unit));
        s.devices.push_back(std::move(*d));
    }
    if (!doc.contains("arrays") || !doc.at("arrays").is_array()) return Error::at("arrays", "expected an array");
    std::set<std::string> array_ids;
    for (std::size_t i = 0; i < doc.at("arrays").size(); ++i) {
        auto a = parse_array(doc.at("arrays")[i]);
        const auto where = "arrays/" + std::to_string(i);
        if (!a) return a.error().under(where);
        if (!array_ids.insert(a->id).second) return Error::at(where + "/id", "duplicate '" + a->id + "'");
        const DeviceSpec* dev = nullptr;
        for (const auto& d : s.devices) dev = d.name == a->device ? &d : dev;
        if (dev == nullptr) return Error::at(where + "/device", "unknown device '" + a->device + "'");
        if (a->mppt > dev->mppts) {
            return Error::at(where + "/mppt", std::to_string(a->mppt) + " but device '" + dev->name + "' has " +
                                                  std::to_string(dev->mppts) + " MPPT input(s)");
        }
        s.arrays.push_back(std::move(*a));
    }
    return s;
}

Result<SiteSpec> load_site(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot open", ErrorKind::not_found};
    json doc;
    try {
        in >> doc;
    } catch (const json::parse_error& e) {
        return Error{file.string() + ": " + e.what()};
    }
    auto site = parse_site(doc);
    if (!site) return Error{file.string() + ": " + site.error().message, site.error().kind};
    return site;
}

std::string_view to_string(CloudKind kind) {
    switch (kind) {
    case CloudKind::none: return "none";
    case CloudKind::scattered: return "scattered";
    case CloudKind::overcast: return "overcast";
    }
    return "?";
}

std::string_view to_string(NightBehaviour night) { return night == NightBehaviour::sleep ? "sleep" : "refuse_tcp"; }

}  // namespace pvfleet::sim
