#pragma once
// What acquisition needs from a device's register map: which blocks to read for each poll class, and how to
// turn the words into canonical points. The register-map implementation lives in pvfleet::devices; tests use
// small hand-written models. Acquisition never interprets register words itself.
#include <cstdint>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::acquisition {

// fast: power, voltages, state (every poll); slow: energy counters, temperatures (minutes);
// once: nameplate values read at first contact and after each reconnect to the device.
enum class PollClass { fast, slow, once };

struct ReadBlock {
    modbus::RegisterKind kind = modbus::RegisterKind::holding;
    uint16_t address = 0;
    uint16_t count = 0;
    friend bool operator==(const ReadBlock&, const ReadBlock&) = default;
};

// Decoded points of one poll class: values/arrays/state/events of a Sample (device_id and t are set by the
// poller).
using Reading = domain::Sample;

class DeviceModel {
public:
    virtual ~DeviceModel() = default;
    [[nodiscard]] virtual std::vector<ReadBlock> blocks(PollClass poll_class) const = 0;
    // `words[i]` answers `blocks(poll_class)[i]`.
    [[nodiscard]] virtual Result<Reading> decode(PollClass poll_class,
                                                 const std::vector<modbus::Registers>& words) const = 0;
};

}  // namespace pvfleet::acquisition
