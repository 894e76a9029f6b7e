// pvfleet-edge scan: which unit ids answer on a bus. A unit that answers with a Modbus exception is present
// too (it is there, it just does not have that register). Exit 0: something answered, 1: nothing did
// (the message says what was tried), 2: usage.
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "verbs.hpp"
#include "pvfleet/modbus/endpoint_args.hpp"
#include "pvfleet/modbus/scan.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kScanUsage =
    R"(usage: pvfleet-edge scan (--tcp HOST:PORT | --rtu DEVICE --baud B [--parity N|E|O] [--stop-bits 1|2])
                         [--units 1-247] [--register ADDR] [--input] [--timeout MS] [--json]
Asks every unit id for one register (default holding 40000, the SunSpec base) and lists those that answer,
with data or with a Modbus exception.
)";

struct ScanOptions {
    std::string units_text = "1-247";
    int reg = 40000;
    int timeout_ms = 300;
    bool json = false;
    modbus::RegisterKind kind = modbus::RegisterKind::holding;
};

// The options after the endpoint; on a usage error prints it and returns nothing.
std::optional<ScanOptions> parse_scan_options(const std::vector<std::string>& rest) {
    ScanOptions o;
    for (size_t i = 0; i < rest.size(); ++i) {
        const std::string& a = rest[i];
        auto value = [&]() -> std::optional<std::string> {
            if (i + 1 >= rest.size()) return std::nullopt;
            return rest[++i];
        };
        if (a == "--json") {
            o.json = true;
        } else if (a == "--input") {
            o.kind = modbus::RegisterKind::input;
        } else if (a == "--units" || a == "--register" || a == "--timeout") {
            auto v = value();
            if (!v) {
                std::cerr << "pvfleet-edge scan: " << a << ": missing value\n" << kScanUsage;
                return std::nullopt;
            }
            if (a == "--units") {
                o.units_text = *v;
                continue;
            }
            auto n = to_int(*v);
            if (!n || *n < 0 || (a == "--register" && *n > 65535) ||
                (a == "--timeout" && (*n < 10 || *n > 60000))) {
                std::cerr << "pvfleet-edge scan: " << a << ": bad value '" << *v << "'\n";
                return std::nullopt;
            }
            (a == "--register" ? o.reg : o.timeout_ms) = *n;
        } else {
            std::cerr << "pvfleet-edge scan: unknown option '" << a << "'\n" << kScanUsage;
            return std::nullopt;
        }
    }
    return o;
}

}  // namespace

int cmd_scan(const Args& args) {
    if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
        std::cout << kScanUsage;
        return 0;
    }
    auto endpoint = modbus::parse_endpoint_args(args);
    if (!endpoint) {
        std::cerr << "pvfleet-edge scan: " << endpoint.error().message << "\n" << kScanUsage;
        return 2;
    }
    const auto opts = parse_scan_options(endpoint->rest);
    if (!opts) return 2;
    const ScanOptions& o = *opts;
    auto units = modbus::parse_unit_list(o.units_text);
    if (!units) {
        std::cerr << "pvfleet-edge scan: " << units.error().message << "\n";
        return 2;
    }

    // Each failing unit would log a reconnect warning; the summary below says it once.
    if (log::level() == log::Level::info || log::level() == log::Level::warn)
        log::set_level(log::Level::error);
    SystemClock clock;
    modbus::SystemSleeper sleeper;
    auto session =
        modbus::make_session({endpoint->address, modbus::scan_timing(Millis{o.timeout_ms})}, clock, sleeper);
    const auto result = modbus::scan_units(*session, {*units, o.kind, static_cast<uint16_t>(o.reg)});

    nlohmann::json found = nlohmann::json::array();
    for (const auto& hit : result.found) {
        found.push_back({{"unit", hit.unit}, {"answer", hit.answer}, {"detail", hit.detail}});
        if (!o.json)
            std::cout << "unit " << int{hit.unit} << ": answers (" << hit.answer << ": " << hit.detail
                      << ")\n";
    }
    if (o.json) {
        std::cout << nlohmann::json{{"endpoint", result.endpoint}, {"units", found}}.dump() << "\n";
    }
    if (found.empty()) {
        std::cerr << "pvfleet-edge scan: no unit answered on " << result.endpoint << " (tried units "
                  << o.units_text << ", " << (o.kind == modbus::RegisterKind::holding ? "holding" : "input")
                  << " register " << o.reg << ", timeout " << o.timeout_ms << " ms)";
        if (!result.link_error.empty()) std::cerr << "; last error: " << result.link_error;
        std::cerr << "\n";
        return 1;
    }
    return 0;
}

}  // namespace pvfleet::edge_app
