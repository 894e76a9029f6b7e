// pvfleet-edge probe: identify one device and print one decoded reading. What an installer runs first.
//   probe (--tcp HOST:PORT | --rtu DEVICE --baud B [--parity N|E|O] [--stop-bits 1|2]) [--unit N]
//         [--profile auto|NAME] [--maps DIR] [--timeout MS] [--json]
// Exit 0: identified and read; 1: nothing answered / nothing matched (the message says what was tried);
// 2: usage.
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <optional>
#include <sstream>

#include "verbs.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/modbus/endpoint_args.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kProbeUsage =
    R"(usage: pvfleet-edge probe (--tcp HOST:PORT | --rtu DEVICE --baud B [--parity N|E|O] [--stop-bits 1|2])
                          [--unit N] [--profile auto|NAME] [--maps DIR] [--timeout MS] [--json]
Identifies the device (SunSpec discovery first, then vendor identification) and prints its identity and one
decoded reading. --maps: register-map folder (default: $PVFLEET_DEVICES_DIR, ../share/pvfleet/devices beside
the executable, or /usr/share/pvfleet/devices).
)";


void print_text(const devices::DeviceIdentity& id, const domain::Sample& s, const std::string& how) {
    std::cout << "device:  " << (id.vendor.empty() ? "?" : id.vendor) << ' ' << (id.model.empty() ? "?" : id.model)
              << (id.serial.empty() ? "" : ", serial " + id.serial)
              << (id.firmware.empty() ? "" : ", firmware " + id.firmware) << "\nprofile: " << id.profile << " (" << how
              << ")\n";
    auto unit_of = [](std::string_view name) -> std::string {
        const auto* info = domain::find_point(name);
        return info && !info->unit.empty() ? " " + std::string(info->unit) : "";
    };
    if (s.state) std::cout << "  " << std::left << std::setw(26) << "inverter_state" << domain::to_string(*s.state) << "\n";
    for (const auto& [name, v] : s.values) {
        std::cout << "  " << std::left << std::setw(26) << name << v << unit_of(name) << "\n";
    }
    for (const auto& [name, arr] : s.arrays) {
        std::cout << "  " << std::left << std::setw(26) << name << "[";
        for (size_t i = 0; i < arr.size(); ++i) {
            std::cout << (i ? ", " : "");
            if (arr[i]) std::cout << *arr[i]; else std::cout << "-";
        }
        std::cout << "]" << unit_of(name) << "\n";
    }
    // Per-input readings, one line per MPPT input: what the installer checks the wiring against.
    const auto inputs = devices::mppt_inputs_json(s);
    if (!inputs.empty()) std::cout << "MPPT inputs (as read; - = not read or absent):\n";
    for (const auto& row : inputs) {
        std::cout << "  MPPT " << std::left << std::setw(4) << row["input"].get<int>();
        for (const auto& [key, unit] : {std::pair{"voltage_v", "V"}, {"current_a", "A"}, {"power_w", "W"}}) {
            std::ostringstream cell;
            if (row[key].is_null()) cell << "-"; else cell << row[key].get<double>() << " " << unit;
            std::cout << std::right << std::setw(14) << cell.str();
        }
        std::cout << "\n";
    }
    if (!s.events.empty()) {
        std::cout << "  events:";
        for (const auto& e : s.events) std::cout << ' ' << e;
        std::cout << "\n";
    }
}

struct ProbeOptions {
    uint8_t unit = 1;
    std::string profile = "auto";
    bool json = false;
    int timeout_ms = 2000;
    std::optional<std::filesystem::path> maps;
};

// The options after the endpoint; on a usage error prints it and returns nothing.
std::optional<ProbeOptions> parse_probe_options(const std::vector<std::string>& rest) {
    ProbeOptions o;
    for (size_t i = 0; i < rest.size(); ++i) {
        const std::string& a = rest[i];
        if (a == "--json") {
            o.json = true;
            continue;
        }
        if (a != "--unit" && a != "--profile" && a != "--maps" && a != "--timeout") {
            std::cerr << "pvfleet-edge probe: unknown option '" << a << "'\n" << kProbeUsage;
            return std::nullopt;
        }
        if (i + 1 >= rest.size()) {
            std::cerr << "pvfleet-edge probe: " << a << ": missing value\n";
            return std::nullopt;
        }
        const std::string& v = rest[++i];
        if (a == "--profile") {
            o.profile = v;
        } else if (a == "--maps") {
            o.maps = v;
        } else {
            auto n = to_int(v);
            const bool ok = n && (a == "--unit" ? (*n >= 0 && *n <= 247) : (*n >= 10 && *n <= 60000));
            if (!ok) {
                std::cerr << "pvfleet-edge probe: " << a << ": bad value '" << v << "'\n";
                return std::nullopt;
            }
            if (a == "--unit") o.unit = static_cast<uint8_t>(*n); else o.timeout_ms = *n;
        }
    }
    return o;
}

// The register-map catalog, checked against --profile; on failure prints why and returns nothing.
std::optional<devices::Catalog> load_catalog(const ProbeOptions& o) {
    auto dir = devices::find_devices_dir(o.maps);
    if (!dir) {
        std::cerr << "pvfleet-edge probe: " << dir.error().message << "\n";
        return std::nullopt;
    }
    auto catalog = devices::Catalog::load(*dir);
    if (!catalog) {
        std::cerr << "pvfleet-edge probe: register maps: " << catalog.error().message << "\n";
        return std::nullopt;
    }
    if (o.profile != "auto" && o.profile != "sunspec" && catalog->find(o.profile) == nullptr) {
        std::string list;
        for (const auto& p : catalog->profiles()) list += ", " + p;
        std::cerr << "pvfleet-edge probe: --profile: unknown '" << o.profile << "' (expected auto, sunspec" << list << ")\n";
        return std::nullopt;
    }
    return std::move(*catalog);
}

// One reading: the fast and the slow registers (energy counters, temperatures) of this moment.
std::optional<domain::Sample> read_once(modbus::Session& session, uint8_t unit, const devices::Identified& found) {
    devices::MapDeviceModel model(found.map);
    domain::Sample reading;
    for (auto poll : {devices::PollClass::fast, devices::PollClass::slow}) {
        auto d = model.read(session, unit, poll);
        if (!d) {
            std::cerr << "pvfleet-edge probe: " << found.identity.profile << " on " << session.describe() << " unit "
                      << int(unit) << ": " << d.error().message << "\n";
            return std::nullopt;
        }
        auto& r = d->reading;
        reading.values.merge(r.values);
        reading.arrays.merge(r.arrays);
        if (r.state) reading.state = r.state;
        reading.events.insert(reading.events.end(), r.events.begin(), r.events.end());
    }
    return reading;
}

}  // namespace

int cmd_probe(const Args& args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << kProbeUsage;
        return 0;
    }
    auto endpoint = modbus::parse_endpoint_args(args);
    if (!endpoint) {
        std::cerr << "pvfleet-edge probe: " << endpoint.error().message << "\n" << kProbeUsage;
        return 2;
    }
    auto opts = parse_probe_options(endpoint->rest);
    if (!opts) return 2;
    const ProbeOptions& o = *opts;
    auto catalog = load_catalog(o);
    if (!catalog) return 2;

    if (log::level() == log::Level::info || log::level() == log::Level::warn) log::set_level(log::Level::error);
    modbus::SessionTiming timing;
    timing.timeout_max = Millis{o.timeout_ms};
    timing.timeout_initial = Millis{o.timeout_ms};
    timing.timeout_min = std::min(timing.timeout_min, timing.timeout_max);
    timing.retries = 1;
    SystemClock clock;
    modbus::SystemSleeper sleeper;
    auto session = modbus::make_session({endpoint->address, timing}, clock, sleeper);

    auto found = devices::identify(*session, o.unit, *catalog, o.profile);
    if (!found) {
        std::cerr << "pvfleet-edge probe: " << found.error().message << "\n";
        return 1;
    }
    auto reading = read_once(*session, o.unit, *found);
    if (!reading) return 1;
    if (o.json) {
        std::cout << devices::to_probe_json(found->identity, *reading).dump() << "\n";
    } else {
        print_text(found->identity, *reading, found->how);
    }
    return 0;
}

}  // namespace pvfleet::edge_app
