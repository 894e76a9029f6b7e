#pragma once
// A simulated site: where it is, what is on the roof, which devices answer on which endpoint, and how the
// sky and the night behave. Loaded from firmware-config/sim/*.json and validated once.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pvfleet/util/result.hpp"

namespace pvfleet::sim {

enum class CloudKind { none, scattered, overcast };
// sleep: the device keeps answering with a standby/sleeping state; refuse_tcp: the listener closes at
// night (some inverters power their network card from the PV side).
enum class NightBehaviour { sleep, refuse_tcp };
// What an endpoint does with a unit id no device has: stay silent like an RS-485 gateway, or answer
// exception 0x0B (gateway target failed to respond).
enum class UnknownUnit { silent, exception };

struct ArraySpec {
    std::string id;
    std::string device;      // name of the device whose MPPT it feeds
    int mppt = 1;            // 1-based MPPT input
    double dc_kwp = 0.0;
    double tilt_deg = 30.0;
    double azimuth_deg = 180.0;
    double vmpp_v = 360.0;   // string MPP voltage at STC
};

struct DeviceSpec {
    std::string name;
    uint8_t unit = 1;
    std::string profile;     // register map / profile name
    std::string variant;     // model variant of a map that has them (empty: the map's first)
    double ac_kw = 0.0;
    int phases = 1;
    int mppts = 1;
    std::string manufacturer = "pvfleet";
    std::string model = "sim";
    std::string serial;
};

struct SiteSpec {
    std::string name;
    double latitude_deg = 0.0;
    double longitude_deg = 0.0;
    double elevation_m = 0.0;
    std::string time_zone = "UTC";
    double ambient_c = 20.0;
    CloudKind clouds = CloudKind::none;
    NightBehaviour night = NightBehaviour::sleep;
    UnknownUnit unknown_unit = UnknownUnit::silent;
    std::string listen_host = "127.0.0.1";
    int listen_port = 1502;  // 0 = ephemeral
    // Concurrent TCP clients the endpoint accepts (0 = no limit); some inverters take only one and
    // close any further connection at once.
    int max_connections = 0;
    std::vector<ArraySpec> arrays;
    std::vector<DeviceSpec> devices;
};

// Errors name the key path: "devices/1/unit: 0 is not a valid unit id (1..247)".
Result<SiteSpec> parse_site(const nlohmann::json& document);
Result<SiteSpec> load_site(const std::filesystem::path& file);

std::string_view to_string(CloudKind kind);
std::string_view to_string(NightBehaviour night);

}  // namespace pvfleet::sim
