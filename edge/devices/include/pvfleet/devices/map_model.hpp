#pragma once
// A device read through a concrete register map: the block planner and the decoder behind
// acquisition::DeviceModel, plus the identity read used by probe and at first contact.
#include <array>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pvfleet/acquisition/device_model.hpp"
#include "pvfleet/devices/register_map.hpp"

namespace pvfleet::devices {

// One planned read and the registers it serves.
struct PlannedBlock {
    acquisition::ReadBlock read;
    std::vector<int> registers;  // indices into RegisterMap::registers
};

// Merges the registers of one poll class (and the scale factors they need) into reads of at most
// modbus::kMaxReadRegisters, bridging gaps of up to map.max_gap unmapped registers and never into a no_read
// range. A value and its scale factor share a read whenever they fit in one.
std::vector<PlannedBlock> plan_blocks(const RegisterMap& map, PollClass poll_class);

struct DeviceIdentity {
    std::string vendor;
    std::string model;
    std::string serial;
    std::string firmware;
    std::string profile;
    friend bool operator==(const DeviceIdentity&, const DeviceIdentity&) = default;
};

// Decoded registers of one poll, before they become a Reading: used by the decoder and by `probe --json`.
struct Decoded {
    acquisition::Reading reading;
    DeviceIdentity identity;
};

class MapDeviceModel final : public acquisition::DeviceModel {
public:
    explicit MapDeviceModel(RegisterMap map);

    [[nodiscard]] std::vector<acquisition::ReadBlock> blocks(PollClass poll_class) const override;
    [[nodiscard]] Result<acquisition::Reading> decode(PollClass poll_class,
                                                      const std::vector<modbus::Registers>& words) const override;
    // Same decode, keeping identity strings too.
    [[nodiscard]] Result<Decoded> decode_all(PollClass poll_class, const std::vector<modbus::Registers>& words) const;

    // Reads every block of a poll class from the bus (no retries beyond the bus's own).
    Result<Decoded> read(modbus::ModbusBus& bus, uint8_t unit, PollClass poll_class) const;
    // Reads the once class and returns the identity (vendor falls back to the map's vendor).
    Result<DeviceIdentity> read_identity(modbus::ModbusBus& bus, uint8_t unit) const;

    [[nodiscard]] const RegisterMap& map() const { return map_; }

private:
    RegisterMap map_;
    std::array<std::vector<PlannedBlock>, 3> plans_;
};

// One decoded reading in probe's JSON shape: {"device": {...}, "points": {name: value | [values|null]}}.
nlohmann::json to_probe_json(const DeviceIdentity& identity, const acquisition::Reading& reading);
// Per-input readings for the installer's wiring check: [{"input": 1, "voltage_v", "current_a", "power_w"}, ...]
// from the reading's dc_voltage_v / dc_current_a / dc_power_w arrays, as the device reported them (null where
// the map reads no such register or the device says absent; nothing is computed). Empty without per-input data.
// to_probe_json carries it as "mppt_inputs".
nlohmann::json mppt_inputs_json(const acquisition::Reading& reading);

}  // namespace pvfleet::devices
