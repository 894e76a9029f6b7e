#pragma once
// The one loop that reads a device's blocks from the bus, used by the poller and by the register-map model
// (probe, identification): one request per block, in order, stopping at the first failure.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "pvfleet/acquisition/device_model.hpp"
#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::acquisition {

// How a failed read is reported: as the bus said it (the poller, whose device states act on the kind), or
// led by the block ("read of 50 holding registers at 40072: timeout") for a person reading a probe's answer.
enum class BlockFailure { as_is, name_block };

// `words[i]` answers `blocks[i]`, ready for DeviceModel::decode.
Result<std::vector<modbus::Registers>> read_blocks(modbus::ModbusBus& bus, uint8_t unit,
                                                   std::span<const ReadBlock> blocks,
                                                   BlockFailure failure = BlockFailure::as_is);

// "read of 50 holding registers at 40072"
std::string describe(const ReadBlock& block);

}  // namespace pvfleet::acquisition
