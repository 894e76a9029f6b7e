#pragma once
// Where a bus is and how to treat it. One endpoint = one link (a TCP address, or a serial line) shared by every
// unit id behind it: an RS-485-to-TCP gateway is one endpoint with several units.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::modbus {

struct TcpAddress {
    std::string host;
    uint16_t port = 502;
    friend bool operator==(const TcpAddress&, const TcpAddress&) = default;
};

struct RtuAddress {
    std::string device;  // "/dev/ttyUSB0"
    int baud = 9600;
    char parity = 'N';  // 'N', 'E', 'O'
    int data_bits = 8;
    int stop_bits = 1;
    friend bool operator==(const RtuAddress&, const RtuAddress&) = default;
};

using Address = std::variant<TcpAddress, RtuAddress>;

// Pacing, timeouts, retries and backoff. Defaults suit household inverters behind Wi-Fi sticks and gateways.
struct SessionTiming {
    Millis pause_after_connect{500};      // many inverters drop the first request sent right after accept
    Millis pause_between_units{50};       // RS-485 gateways need the line to settle when the unit id changes
    Millis timeout_min{200};              // adaptive response timeout stays within [min, max]
    Millis timeout_max{3000};
    Millis timeout_initial{1000};         // before anything was measured on a unit
    int retries = 2;                      // extra attempts after a timeout, I/O error or busy reply
    Millis retry_backoff{100};            // pause before retry i is retry_backoff * 2^i
    Millis busy_backoff{1000};            // pause after exception 5/6 before asking again
    Millis reconnect_backoff_min{1000};   // reconnect attempts back off from min, doubling, up to max, forever
    Millis reconnect_backoff_max{60000};
    double jitter = 0.2;                  // +-fraction applied to backoffs so gateways restarting together spread out
    friend bool operator==(const SessionTiming&, const SessionTiming&) = default;
};

struct EndpointConfig {
    Address address;
    SessionTiming timing;
};

// "HOST:PORT" or "HOST" (port 502); IPv6 as "[::1]:502".
Result<TcpAddress> parse_tcp_address(std::string_view text);
// "N", "E", "O" (also "none", "even", "odd").
Result<char> parse_parity(std::string_view text);
Status validate(const RtuAddress& rtu);
Status validate(const SessionTiming& timing);

// "tcp 192.168.1.20:502" / "rtu /dev/ttyUSB0 9600 8N1"
std::string describe(const Address& address);

// The libmodbus link for an address (no I/O happens until connect()).
std::unique_ptr<ModbusTransport> make_libmodbus_transport(const Address& address);

}  // namespace pvfleet::modbus
