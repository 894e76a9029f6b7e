#include "pvfleet/modbus/endpoint.hpp"

#include <charconv>
#include <sstream>

namespace pvfleet::modbus {
namespace {

// Built by appending: GCC 12 warns (-Wrestrict, false positive) on "'" + std::string(...) at -O2.
Error bad_address(std::string_view text, std::string_view detail) {
    std::string m;
    m.reserve(text.size() + detail.size() + 4);
    m.append("'").append(text).append("': ").append(detail);
    return Error{std::move(m), ErrorKind::invalid};
}

}  // namespace

Result<TcpAddress> parse_tcp_address(std::string_view text) {
    TcpAddress out;
    std::string_view host = text;
    std::string_view port_text;
    if (!text.empty() && text.front() == '[') {
        const auto close = text.find(']');
        if (close == std::string_view::npos) {
            return bad_address(text, "missing ']' after IPv6 address");
        }
        host = text.substr(1, close - 1);
        const auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                return bad_address(text, "expected ':PORT' after ']'");
            }
            port_text = rest.substr(1);
        }
    } else if (const auto colon = text.rfind(':'); colon != std::string_view::npos) {
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
    }
    if (host.empty()) {
        return bad_address(text, "expected HOST:PORT");
    }
    out.host = std::string(host);
    if (!port_text.empty()) {
        unsigned port = 0;
        const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
        if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
            return bad_address(text, "port must be 1..65535");
        }
        out.port = static_cast<uint16_t>(port);
    }
    return out;
}

Result<char> parse_parity(std::string_view text) {
    if (text == "N" || text == "n" || text == "none") return 'N';
    if (text == "E" || text == "e" || text == "even") return 'E';
    if (text == "O" || text == "o" || text == "odd") return 'O';
    return Error{"parity '" + std::string(text) + "': expected N, E or O", ErrorKind::invalid};
}

Status validate(const RtuAddress& rtu) {
    if (rtu.device.empty()) return Error::at("device", "empty");
    static constexpr int kBauds[] = {1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400};
    bool known = false;
    for (int b : kBauds) known = known || b == rtu.baud;
    if (!known) return Error::at("baud", std::to_string(rtu.baud) + " is not a standard rate (1200..230400)");
    if (rtu.parity != 'N' && rtu.parity != 'E' && rtu.parity != 'O') {
        return Error::at("parity", std::string("'") + rtu.parity + "' (expected N, E or O)");
    }
    if (rtu.data_bits < 5 || rtu.data_bits > 8) return Error::at("data_bits", "must be 5..8");
    if (rtu.stop_bits != 1 && rtu.stop_bits != 2) return Error::at("stop_bits", "must be 1 or 2");
    return {};
}

Status validate(const SessionTiming& t) {
    if (t.timeout_min.count() <= 0) return Error::at("timeout_min", "must be > 0");
    if (t.timeout_max < t.timeout_min) return Error::at("timeout_max", "must be >= timeout_min");
    if (t.timeout_initial < t.timeout_min || t.timeout_initial > t.timeout_max) {
        return Error::at("timeout_initial", "must lie within [timeout_min, timeout_max]");
    }
    if (t.retries < 0 || t.retries > 10) return Error::at("retries", "must be 0..10");
    if (t.reconnect_backoff_min.count() <= 0) return Error::at("reconnect_backoff_min", "must be > 0");
    if (t.reconnect_backoff_max < t.reconnect_backoff_min) {
        return Error::at("reconnect_backoff_max", "must be >= reconnect_backoff_min");
    }
    if (t.jitter < 0.0 || t.jitter >= 1.0) return Error::at("jitter", "must be in [0, 1)");
    if (t.pause_after_connect.count() < 0 || t.pause_between_units.count() < 0 || t.retry_backoff.count() < 0 ||
        t.busy_backoff.count() < 0) {
        return Error{"pauses and backoffs must not be negative", ErrorKind::invalid};
    }
    return {};
}

std::string describe(const Address& address) {
    std::ostringstream os;
    if (const auto* tcp = std::get_if<TcpAddress>(&address)) {
        const bool v6 = tcp->host.find(':') != std::string::npos;
        os << "tcp " << (v6 ? "[" : "") << tcp->host << (v6 ? "]" : "") << ':' << tcp->port;
    } else {
        const auto& rtu = std::get<RtuAddress>(address);
        os << "rtu " << rtu.device << ' ' << rtu.baud << ' ' << rtu.data_bits << rtu.parity << rtu.stop_bits;
    }
    return os.str();
}

}  // namespace pvfleet::modbus
