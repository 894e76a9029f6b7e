#pragma once
// The narrow Modbus interfaces the rest of the agent sees. Nothing outside edge/modbus includes libmodbus.
//
//   ModbusTransport  one attempt per call on one link (TCP socket or serial line); no retries, no pacing.
//                    Implemented by libmodbus (LibmodbusTransport) and by the fake bus in tests/fakes.
//   ModbusBus        what devices and acquisition use: a resilient session over one endpoint (Session) that
//                    paces, retries, adapts its timeout and reconnects forever.
//
// Errors carry ErrorKind: io (link down / refused / garbled), timeout (no answer), rejected (exception 1/2/3:
// illegal function, address or value — the register map does not fit the device), busy (exception 5
// acknowledge / 6 server busy — come back later).
#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::modbus {

enum class RegisterKind { holding, input };  // function codes 3 and 4

using Registers = std::vector<uint16_t>;

class ModbusTransport {
public:
    virtual ~ModbusTransport() = default;
    // Opens the link (TCP connect, or opening and configuring the serial device).
    virtual Status connect() = 0;
    virtual void close() = 0;
    [[nodiscard]] virtual bool is_connected() const = 0;
    // Applies to the next requests until changed.
    virtual void set_response_timeout(Millis timeout) = 0;
    virtual Result<Registers> read_registers(uint8_t unit, RegisterKind kind, uint16_t address, uint16_t count) = 0;
    virtual Status write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) = 0;
    // Human-readable address for messages: "tcp 192.168.1.20:502", "rtu /dev/ttyUSB0 9600 8N1".
    [[nodiscard]] virtual std::string describe() const = 0;
};

class ModbusBus {
public:
    virtual ~ModbusBus() = default;
    virtual Result<Registers> read_registers(uint8_t unit, RegisterKind kind, uint16_t address, uint16_t count) = 0;
    virtual Status write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) = 0;
    [[nodiscard]] virtual std::string describe() const = 0;
};

// The largest register count one read request may ask for (Modbus spec, function 3/4).
inline constexpr uint16_t kMaxReadRegisters = 125;
inline constexpr uint16_t kMaxWriteRegisters = 123;

}  // namespace pvfleet::modbus
