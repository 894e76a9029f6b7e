#pragma once
// The fake transport as a bus without the session's retries: enough for decoding and discovery tests.
#include "pvfleet/fakes/fake_modbus_bus.hpp"

namespace pvfleet::test {

class DirectBus final : public modbus::ModbusBus {
public:
    explicit DirectBus(fakes::FakeModbusBus& link) : link_(link) {}
    Result<modbus::Registers> read_registers(uint8_t unit, modbus::RegisterKind kind, uint16_t address,
                                             uint16_t count) override {
        if (!link_.is_connected()) {
            if (auto s = link_.connect(); !s) return s.error();
        }
        return link_.read_registers(unit, kind, address, count);
    }
    Status write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) override {
        return link_.write_registers(unit, address, values);
    }
    [[nodiscard]] std::string describe() const override { return link_.describe(); }

private:
    fakes::FakeModbusBus& link_;
};

}  // namespace pvfleet::test
