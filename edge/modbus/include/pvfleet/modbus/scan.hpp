#pragma once
// Which unit ids answer on a bus: the logic of `pvfleet-edge scan`, shared with the local page's
// commissioning tab (edge/local_ui). A unit that answers with a Modbus exception is present too (it is
// there, it just does not have that register).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/modbus/endpoint.hpp"

namespace pvfleet::modbus {

struct ScanOptions {
    std::vector<uint8_t> units;
    RegisterKind kind = RegisterKind::holding;
    uint16_t address = 40000;  // the SunSpec base
};

struct ScanHit {
    uint8_t unit = 0;
    std::string answer;  // "data" or "exception"
    std::string detail;  // "register 40000 = 21365" or the exception's text
};

struct ScanResult {
    std::string endpoint;  // the bus's describe()
    std::vector<ScanHit> found;
    std::string link_error;  // the first link error seen (refused, unreachable), empty if none
    bool link_down = false;  // stopped early: three link errors in a row
};

// Asks every unit of `options.units` for one register, in order. Stops after three link errors in a row
// (scanning on would only repeat the connect error), or when `cancelled` returns true between units.
ScanResult scan_units(ModbusBus& bus, const ScanOptions& options,
                      const std::function<bool()>& cancelled = {});

// A scan wants a quick yes/no per unit: fixed short timeout, no retries, short settle pause.
SessionTiming scan_timing(Millis timeout);

}  // namespace pvfleet::modbus
