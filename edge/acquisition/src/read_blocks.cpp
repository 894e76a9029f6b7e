#include "pvfleet/acquisition/read_blocks.hpp"

namespace pvfleet::acquisition {

std::string describe(const ReadBlock& block) {
    return "read of " + std::to_string(block.count) + " " +
           (block.kind == modbus::RegisterKind::holding ? "holding" : "input") + " registers at " +
           std::to_string(block.address);
}

Result<std::vector<modbus::Registers>> read_blocks(modbus::ModbusBus& bus, uint8_t unit,
                                                   std::span<const ReadBlock> blocks, BlockFailure failure) {
    std::vector<modbus::Registers> words;
    words.reserve(blocks.size());
    for (const auto& b : blocks) {
        auto r = bus.read_registers(unit, b.kind, b.address, b.count);
        if (!r) {
            if (failure == BlockFailure::as_is) return r.error();
            return Error{describe(b) + ": " + r.error().message, r.error().kind};
        }
        words.push_back(std::move(r).value());
    }
    return words;
}

}  // namespace pvfleet::acquisition
