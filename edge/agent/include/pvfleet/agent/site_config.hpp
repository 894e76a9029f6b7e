#pragma once
// The gateway's site config (firmware-config/sites/site.schema.json, docs/site-config.md): where the devices
// are, how to poll them, the site's arrays for detection, storage and the MQTT link. Validated once at start;
// every error names its key path, and all errors are reported together.
#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/modbus/endpoint.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::agent {

struct EndpointSpec {
    std::string id;
    modbus::EndpointConfig endpoint;
};

enum class DeviceRole { inverter, meter, battery };

struct DeviceSpec {
    std::string id;
    DeviceRole role = DeviceRole::inverter;
    std::string endpoint;          // EndpointSpec::id
    std::optional<uint8_t> unit;   // none: the map's default unit
    std::string profile = "auto";  // auto, sunspec or a register-map name
    int sunspec_device = 0;
};

struct MqttSpec {
    std::string uri;  // tcp://host:1883 or ssl://host:8883
    std::optional<std::filesystem::path> ca_file, cert_file, key_file, password_file;
    std::optional<std::string> username;
    std::string password;  // read from password_file
};

// The gateway's local page (edge/local_ui, docs/local-ui.md). Without it no page is served.
struct LocalUiSpec {
    std::string listen = "0.0.0.0";  // an IP address of the gateway (0.0.0.0: every interface)
    int port = 8090;                 // 0: any free port (tests); the agent logs the one it bound
    std::optional<std::filesystem::path> password_file;  // holds the hash (first line)
    std::string password_hash;  // pbkdf2-sha256$…, given or read from password_file; checked at parse time
    friend bool operator==(const LocalUiSpec&, const LocalUiSpec&) = default;
};

struct SiteConfig {
    std::string site_id;
    std::string config_version;
    std::string time_zone = "UTC";
    nlohmann::json detection_site;  // the part detection reads (detect::parse_site_detection)
    std::vector<EndpointSpec> endpoints;
    std::vector<DeviceSpec> devices;
    acquisition::PollIntervals intervals;
    std::filesystem::path store_path;
    uint64_t quota_bytes = 256ull * 1024 * 1024;
    // Local retention and disk budget (store.retention_days, budget_mb, min_free_mb; docs/site-config.md): raw
    // samples kept this long, the database (with its WAL) kept under the budget, this much left free on the
    // filesystem.
    int retention_days = 30;
    uint64_t budget_bytes = 1024ull * 1024 * 1024;
    uint64_t min_free_bytes = 64ull * 1024 * 1024;
    std::optional<MqttSpec> mqtt;
    std::optional<std::filesystem::path> maps_dir;
    int batch_interval_s = 60;
    std::optional<LocalUiSpec> local_ui;
    // The file it was loaded from (load_site_config): `set_config` replaces this file. Not a key of the file.
    std::optional<std::filesystem::path> config_file;
};

// `base_dir` resolves relative paths (the config file's folder).
Result<SiteConfig> parse_site_config(const nlohmann::json& doc, const std::filesystem::path& base_dir);
Result<SiteConfig> load_site_config(const std::filesystem::path& file);

// The effective config as logged at start-up (secrets left out).
nlohmann::json describe(const SiteConfig& config);

}  // namespace pvfleet::agent
