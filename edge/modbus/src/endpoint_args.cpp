#include "pvfleet/modbus/endpoint_args.hpp"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string_view>

namespace pvfleet::modbus {
namespace {

std::optional<int> to_int(std::string_view s) {
    int v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

Result<ParsedEndpointArgs> parse_endpoint_args(const std::vector<std::string>& args) {
    std::optional<TcpAddress> tcp;
    std::optional<RtuAddress> rtu;
    RtuAddress serial;
    bool serial_option = false;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        const bool takes_value = a == "--tcp" || a == "--rtu" || a == "--baud" || a == "--parity" ||
                                 a == "--data-bits" || a == "--stop-bits";
        if (!takes_value) {
            rest.push_back(a);
            continue;
        }
        if (i + 1 >= args.size()) return Error{a + ": missing value", ErrorKind::invalid};
        const std::string& v = args[++i];
        if (a == "--tcp") {
            auto parsed = parse_tcp_address(v);
            if (!parsed) return Error{"--tcp " + parsed.error().message, ErrorKind::invalid};
            tcp = *parsed;
        } else if (a == "--rtu") {
            rtu = RtuAddress{};
            rtu->device = v;
        } else if (a == "--parity") {
            auto p = parse_parity(v);
            if (!p) return Error{"--parity: " + p.error().message, ErrorKind::invalid};
            serial.parity = *p;
            serial_option = true;
        } else {
            auto n = to_int(v);
            if (!n) return Error{a + ": '" + v + "' is not a number", ErrorKind::invalid};
            if (a == "--baud") serial.baud = *n;
            if (a == "--data-bits") serial.data_bits = *n;
            if (a == "--stop-bits") serial.stop_bits = *n;
            serial_option = true;
        }
    }
    if (tcp && rtu) return Error{"give either --tcp or --rtu, not both", ErrorKind::invalid};
    if (!tcp && !rtu) return Error{"missing --tcp HOST:PORT or --rtu DEVICE", ErrorKind::invalid};
    if (tcp) {
        if (serial_option) return Error{"--baud/--parity/--data-bits/--stop-bits apply to --rtu only", ErrorKind::invalid};
        return ParsedEndpointArgs{*tcp, std::move(rest)};
    }
    serial.device = rtu->device;
    if (auto st = validate(serial); !st) return Error{"--rtu " + st.error().message, ErrorKind::invalid};
    return ParsedEndpointArgs{serial, std::move(rest)};
}

Result<std::vector<uint8_t>> parse_unit_list(const std::string& text) {
    std::vector<uint8_t> out;
    std::string_view rest = text;
    while (!rest.empty()) {
        const auto comma = rest.find(',');
        const std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        const auto dash = item.find('-');
        auto lo = to_int(item.substr(0, dash));
        auto hi = dash == std::string_view::npos ? lo : to_int(item.substr(dash + 1));
        if (!lo || !hi || *lo < 0 || *hi > 247 || *lo > *hi) {
            return Error{"units '" + text + "': expected ids 0..247 like 1-247 or 1,3,5-7", ErrorKind::invalid};
        }
        for (int u = *lo; u <= *hi; ++u) out.push_back(static_cast<uint8_t>(u));
    }
    if (out.empty()) return Error{"units: empty list", ErrorKind::invalid};
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace pvfleet::modbus
