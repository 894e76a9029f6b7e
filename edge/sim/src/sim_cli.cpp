#include "pvfleet/sim/sim_cli.hpp"

#include <filesystem>
#include <iostream>

#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/sim/faults.hpp"
#include "pvfleet/sim/sim_server.hpp"
#include "pvfleet/sim/simulation.hpp"
#include "pvfleet/sim/site.hpp"
#include "pvfleet/util/data_dir.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/util/version.hpp"

namespace pvfleet::sim {

namespace {
constexpr const char* usage =
    "usage: pvfleet-sim --site FILE [--listen HOST:PORT] [--no-tcp] [--rtu-pty PATH|auto] [--rtu-baud N]\n"
    "                   [--speed N] [--start ISO-8601] [--scenario FILE] [--control PORT] [--maps DIR]\n"
    "                   [--seed N] [--log-level debug|info|warn|error]\n"
    "Serves the site's devices over Modbus TCP (and RTU on a pseudo-terminal) with a simulated PV day.\n"
    "--site and --scenario take a file, or the name of one shipped in share/pvfleet/sim (household-sunspec).\n"
    "Prints one line per endpoint on stdout: 'listening tcp HOST:PORT', 'listening rtu PATH',\n"
    "'control tcp 127.0.0.1:PORT'. See docs/simulator.md.\n";

struct CliOptions {
    std::string site;
    std::optional<std::string> listen;
    bool no_tcp = false;
    std::optional<std::string> rtu;
    unsigned rtu_baud = 9600;
    double speed = 1.0;
    std::optional<std::string> start;
    std::optional<std::string> scenario;
    std::optional<int> control;
    std::optional<std::string> maps;
    uint64_t seed = 1;
};

// A --site or --scenario argument: the file when it exists or names a folder, else a file shipped with the
// simulator (share/pvfleet/sim/NAME.json, found like the register maps: $PVFLEET_SIM_DIR, beside the
// executable, /usr/share/pvfleet/sim). Unchanged when no shipped file matches, so the error names what was given.
std::string shipped_file(const std::string& arg) {
    std::error_code ec;
    if (arg.find('/') != std::string::npos || std::filesystem::exists(arg, ec)) return arg;
    const std::string name = arg.ends_with(".json") ? arg : arg + ".json";
    for (const auto& dir : data_dir_candidates("sim", "PVFLEET_SIM_DIR")) {
        if (std::filesystem::is_regular_file(dir / name, ec)) return (dir / name).string();
    }
    return arg;
}

// The whole of `text` into `out` (left alone when it is not a number).
template <class T>
bool read_number(const std::string& text, T& out) {
    const auto v = parse_number<T>(text);
    if (v) out = *v;
    return v.has_value();
}

Result<CliOptions> parse_args(const std::vector<std::string>& args) {
    CliOptions o;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto& a = args[i];
        auto value = [&]() -> Result<std::string> {
            if (i + 1 >= args.size()) return Error{a + ": missing value"};
            return args[++i];
        };
        auto v = a == "--no-tcp" ? Result<std::string>(std::string()) : value();
        if (!v) return v.error();
        if (a == "--site") o.site = shipped_file(*v);
        else if (a == "--listen") o.listen = *v;
        else if (a == "--no-tcp") o.no_tcp = true;
        else if (a == "--rtu-pty") o.rtu = *v;
        else if (a == "--rtu-baud") {
            if (!read_number(*v, o.rtu_baud) || o.rtu_baud == 0) return Error{"--rtu-baud: expected a positive integer"};
        } else if (a == "--speed") {
            const auto speed = parse_leading_number<double>(*v);
            if (!speed) return Error{"--speed: expected a number"};
            o.speed = *speed;
            if (!(o.speed > 0.0) || o.speed > 1e6) return Error{"--speed: must be in (0, 1e6]"};
        } else if (a == "--start") o.start = *v;
        else if (a == "--scenario") o.scenario = shipped_file(*v);
        else if (a == "--control") {
            int port = 0;
            if (!read_number(*v, port) || port < 0 || port > 65535) return Error{"--control: expected a port 0..65535"};
            o.control = port;
        } else if (a == "--maps") o.maps = *v;
        else if (a == "--seed") {
            if (!read_number(*v, o.seed)) return Error{"--seed: expected a non-negative integer"};
        } else if (a == "--log-level") {
            log::Level level{};
            if (!log::parse_level(*v, level)) return Error{"--log-level: expected debug, info, warn, error"};
            log::set_level(level);
        } else {
            return Error{"unknown option '" + a + "'"};
        }
    }
    if (o.site.empty()) return Error{"--site is required"};
    return o;
}

// Where and how to serve: the site's listen address unless --listen overrides it.
Result<ServerOptions> server_options(const CliOptions& options, const SiteSpec& site) {
    ServerOptions server;
    server.listen_host = site.listen_host;
    server.listen_port = site.listen_port;
    if (options.listen) {
        const auto colon = options.listen->rfind(':');
        int port = -1;
        if (colon == std::string::npos || !read_number(options.listen->substr(colon + 1), port) || port < 0 || port > 65535) {
            return Error{"--listen: expected HOST:PORT"};
        }
        server.listen_host = options.listen->substr(0, colon);
        server.listen_port = port;
    }
    server.tcp = !options.no_tcp;
    if (options.rtu) {
        server.rtu = true;
        server.rtu_link = *options.rtu == "auto" ? "" : *options.rtu;
        server.rtu_baud = options.rtu_baud;
    }
    server.control_port = options.control;
    return server;
}

Result<SimulationOptions> simulation_options(const CliOptions& options) {
    SimulationOptions sim_options;
    sim_options.seed = options.seed;
    sim_options.speed = options.speed;
    if (options.start) {
        auto t = parse_iso8601(*options.start);
        if (!t) return Error{"--start: " + t.error().message};
        sim_options.start = *t;
    }
    if (options.scenario) {
        auto scenario = load_scenario(*options.scenario);
        if (!scenario) return Error{scenario.error().message};
        sim_options.scenario = std::move(*scenario);
    }
    // Register maps: every profile other than the built-in "sunspec" comes from firmware-config/devices.
    if (auto dir = devices::find_devices_dir(options.maps ? std::optional<std::filesystem::path>(*options.maps) : std::nullopt)) {
        auto catalog = devices::Catalog::load(*dir);
        if (!catalog) return Error{"register maps: " + catalog.error().message};
        PVF_LOG(info, "sim", "register maps from " << dir->string() << ": " << catalog->profiles().size() << " profile(s)");
        sim_options.maps = std::move(*catalog);
    } else if (options.maps) {
        return Error{"--maps: " + dir.error().message};
    }
    return sim_options;
}

void log_start(const Simulation& simulation, const SimulationOptions& sim_options) {
    const auto& s = simulation.site();
    PVF_LOG(info, "sim", "site '" << s.name << "' at " << s.latitude_deg << ", " << s.longitude_deg << " (" << s.time_zone
                                  << "), clouds " << to_string(s.clouds) << ", night " << to_string(s.night) << ", seed "
                                  << sim_options.seed);
    PVF_LOG(info, "sim", "sim time starts " << format_iso8601(simulation.sim_now()) << ", speed x" << sim_options.speed
                                            << ", " << sim_options.scenario.size() << " scenario event(s)");
    for (const auto& d : s.devices) {
        double kwp = 0.0;
        for (const auto& a : s.arrays) kwp += a.device == d.name ? a.dc_kwp : 0.0;
        PVF_LOG(info, "sim", "device " << d.name << " unit " << int(d.unit) << " profile " << d.profile << ", "
                                       << d.ac_kw << " kW AC, " << kwp << " kWp on " << d.mppts << " MPPT(s), " << d.phases
                                       << " phase(s)");
    }
}
}  // namespace

int run_cli(const std::vector<std::string>& args) {
    if (!args.empty() && (args[0] == "version" || args[0] == "--version")) {
        std::cout << "pvfleet-sim " << util::program_version() << "\n";
        return 0;
    }
    if (args.empty() || args[0] == "--help" || args[0] == "-h") {
        std::cout << usage;
        return args.empty() ? 2 : 0;
    }
    auto options = parse_args(args);
    if (!options) {
        std::cerr << "pvfleet-sim: " << options.error().message << "\n" << usage;
        return 2;
    }
    auto site = load_site(options->site);
    if (!site) {
        std::cerr << "pvfleet-sim: " << site.error().message << "\n";
        return 2;
    }
    auto server = server_options(*options, *site);
    if (!server) {
        std::cerr << "pvfleet-sim: " << server.error().message << "\n";
        return 2;
    }
    auto sim_options = simulation_options(*options);
    if (!sim_options) {
        std::cerr << "pvfleet-sim: " << sim_options.error().message << "\n";
        return 2;
    }
    SystemClock wall;
    auto simulation = Simulation::create(std::move(*site), *sim_options, wall);
    if (!simulation) {
        std::cerr << "pvfleet-sim: " << options->site << ": " << simulation.error().message << "\n";
        return 2;
    }
    log_start(**simulation, *sim_options);
    return run_server(**simulation, *server, std::cout);
}

}  // namespace pvfleet::sim
