#include "pvfleet/sim/site.hpp"

#include <date/tz.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "pvfleet/util/config_schema.hpp"
#include "wording.hpp"

namespace pvfleet::sim {

namespace {
using nlohmann::json;

const config::Wording kWording{
    "missing",
    config::KeyList::none,
    [](const config::Field& f, const json& v) -> std::string {
        if (f.type == config::Type::string && v.is_string()) return "must not be empty";
        return "expected " + std::string(config::type_words(f.type));
    },
    [](const config::Field& f, const json& v) -> std::string {
        if (f.type == config::Type::integer)
            return std::to_string(v.get<long long>()) + " out of range [" + std::to_string(static_cast<int>(f.lo)) +
                   ", " + std::to_string(static_cast<int>(f.hi)) + "]";
        return std::to_string(v.get<double>()) + " out of range [" + std::to_string(f.lo) + ", " +
               std::to_string(f.hi) + "]";
    },
    {}};

using config::integer;
using config::number;
using config::optional;
using config::required;
using config::string;

const config::Object kArraySchema{{required("id", string().non_empty()), required("device", string().non_empty()),
                                   optional("mppt", integer(1, 16)), required("dc_kwp", number(0.01, 1000)),
                                   optional("tilt_deg", number(0, 90)), optional("azimuth_deg", number(0, 360)),
                                   optional("vmpp_v", number(10, 1500))},
                                  kWording};

const config::Object kDeviceSchema{
    {required("name", string().non_empty()), required("unit", integer(1, 247)),
     required("profile", string().non_empty()), required("ac_kw", number(0.1, 1000)),
     optional("phases", integer(1, 3)), optional("mppts", integer(1, 16)), optional("manufacturer", string()),
     optional("model", string()), optional("serial", string()), optional("variant", string())},
    kWording};

const config::Object kListenSchema{
    {optional("host", string()), optional("port", integer(0, 65535)), optional("max_connections", integer(0, 1000))},
    kWording};

const config::Object kSiteSchema{
    {required("name", string().non_empty()), required("latitude_deg", number(-90, 90)), required("longitude_deg", number(-180, 180)),
     optional("elevation_m", number(-500, 9000)), optional("time_zone", string()), optional("ambient_c", number(-50, 60)),
     optional("clouds", string()), optional("night", string()), optional("unknown_unit", string()),
     optional("listen", config::object()), optional("arrays"), optional("devices"), optional("$comment")},
    kWording};

}  // namespace

const config::Wording& sim_wording() { return kWording; }

namespace {

Result<ArraySpec> parse_array(const json& a) {
    if (!a.is_object()) return Error{"expected an object"};
    PVF_CHECK(kArraySchema.check_keys(a));
    ArraySpec s;
    PVF_CHECK(config::read(kArraySchema, a, "id", s.id));
    PVF_CHECK(config::read(kArraySchema, a, "device", s.device));
    PVF_CHECK(config::read(kArraySchema, a, "mppt", s.mppt));
    PVF_CHECK(config::read(kArraySchema, a, "dc_kwp", s.dc_kwp));
    PVF_CHECK(config::read(kArraySchema, a, "tilt_deg", s.tilt_deg));
    PVF_CHECK(config::read(kArraySchema, a, "azimuth_deg", s.azimuth_deg));
    PVF_CHECK(config::read(kArraySchema, a, "vmpp_v", s.vmpp_v));
    return s;
}

Result<DeviceSpec> parse_device(const json& d) {
    if (!d.is_object()) return Error{"expected an object"};
    PVF_CHECK(kDeviceSchema.check_keys(d));
    DeviceSpec s;
    PVF_CHECK(config::read(kDeviceSchema, d, "name", s.name));
    int unit = 1;
    PVF_CHECK(config::read(kDeviceSchema, d, "unit", unit));
    s.unit = static_cast<uint8_t>(unit);
    PVF_CHECK(config::read(kDeviceSchema, d, "profile", s.profile));
    PVF_CHECK(config::read(kDeviceSchema, d, "ac_kw", s.ac_kw));
    PVF_CHECK(config::read(kDeviceSchema, d, "phases", s.phases));
    if (s.phases == 2) return Error::at("phases", "2 is not supported (1 or 3)");
    PVF_CHECK(config::read(kDeviceSchema, d, "mppts", s.mppts));
    PVF_CHECK(config::read(kDeviceSchema, d, "manufacturer", s.manufacturer));
    PVF_CHECK(config::read(kDeviceSchema, d, "model", s.model));
    s.serial = "SIM" + std::to_string(unit);
    PVF_CHECK(config::read(kDeviceSchema, d, "serial", s.serial));
    PVF_CHECK(config::read(kDeviceSchema, d, "variant", s.variant));
    return s;
}
}  // namespace

Result<SiteSpec> parse_site(const json& doc) {
    if (!doc.is_object()) return Error{"site: expected a JSON object"};
    PVF_CHECK(kSiteSchema.check_keys(doc));
    SiteSpec s;
    PVF_CHECK(config::read(kSiteSchema, doc, "name", s.name));
    PVF_CHECK(config::read(kSiteSchema, doc, "latitude_deg", s.latitude_deg));
    PVF_CHECK(config::read(kSiteSchema, doc, "longitude_deg", s.longitude_deg));
    PVF_CHECK(config::read(kSiteSchema, doc, "elevation_m", s.elevation_m));
    PVF_CHECK(config::read(kSiteSchema, doc, "ambient_c", s.ambient_c));
    PVF_CHECK(config::read(kSiteSchema, doc, "time_zone", s.time_zone));
    try {
        (void)date::locate_zone(s.time_zone);
    } catch (const std::exception&) {
        return Error::at("time_zone", "unknown time zone '" + s.time_zone + "'");
    }
    std::string text;
    PVF_CHECK(config::read(kSiteSchema, doc, "clouds", text));
    if (!text.empty()) {
        if (text == "none") s.clouds = CloudKind::none;
        else if (text == "scattered") s.clouds = CloudKind::scattered;
        else if (text == "overcast") s.clouds = CloudKind::overcast;
        else return Error::at("clouds", "unknown '" + text + "' (expected none, scattered, overcast)");
    }
    text.clear();
    PVF_CHECK(config::read(kSiteSchema, doc, "night", text));
    if (!text.empty()) {
        if (text == "sleep") s.night = NightBehaviour::sleep;
        else if (text == "refuse_tcp") s.night = NightBehaviour::refuse_tcp;
        else return Error::at("night", "unknown '" + text + "' (expected sleep, refuse_tcp)");
    }
    text.clear();
    PVF_CHECK(config::read(kSiteSchema, doc, "unknown_unit", text));
    if (!text.empty()) {
        if (text == "silent") s.unknown_unit = UnknownUnit::silent;
        else if (text == "exception") s.unknown_unit = UnknownUnit::exception;
        else return Error::at("unknown_unit", "unknown '" + text + "' (expected silent, exception)");
    }
    if (doc.contains("listen")) {
        const auto& l = doc.at("listen");
        if (!l.is_object()) return Error::at("listen", "expected an object");
        if (auto st = kListenSchema.check_keys(l); !st) return st.error().under("listen");
        if (auto st = config::read(kListenSchema, l, "host", s.listen_host); !st) return st.error().under("listen");
        if (auto st = config::read(kListenSchema, l, "port", s.listen_port); !st) return st.error().under("listen");
        if (auto st = config::read(kListenSchema, l, "max_connections", s.max_connections); !st) return st.error().under("listen");
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
    auto doc = config::read_json_file(file, "");
    if (!doc) return doc.error();
    auto site = parse_site(*doc);
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
