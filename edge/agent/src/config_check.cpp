#include "pvfleet/agent/config_check.hpp"

#include <map>

#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::agent {
namespace {

const char* role_key(DeviceRole role) {
    switch (role) {
        case DeviceRole::inverter: return "inverters";
        case DeviceRole::meter: return "meters";
        case DeviceRole::battery: return "batteries";
    }
    return "devices";
}

}  // namespace

Status check_register_maps(const SiteConfig& config) {
    auto dir = devices::find_devices_dir(config.maps_dir);
    if (!dir) return config.maps_dir ? Error::at("maps_dir", dir.error().message) : dir.error();
    auto catalog = devices::Catalog::load(*dir);
    if (!catalog) return Error::at("maps_dir", dir->string() + ": " + catalog.error().message);
    std::string known = "auto, sunspec";
    for (const auto& p : catalog->profiles()) known += ", " + p;
    config::Errors errors;
    std::map<DeviceRole, int> index;  // a device's index within its role's array, as in the file
    for (const auto& d : config.devices) {
        const int i = index[d.role]++;
        if (d.profile == "auto" || d.profile == "sunspec" || catalog->find(d.profile) != nullptr) continue;
        errors.add(std::string(role_key(d.role)) + "/" + std::to_string(i) + "/profile",
                   "no register map '" + d.profile + "' (expected " + known + ")");
    }
    if (!errors.empty()) return errors.joined();
    return {};
}

Result<SiteConfig> check_site_config_file(const std::filesystem::path& file) {
    auto config = load_site_config(file);
    if (!config) return config;
    if (auto s = check_register_maps(*config); !s) return s.error();
    return config;
}

}  // namespace pvfleet::agent
