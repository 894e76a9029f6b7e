#include "pvfleet/fakes/fake_modbus_bus.hpp"

namespace pvfleet::fakes {

void FakeModbusBus::set_holding(uint8_t unit, uint16_t address, const std::vector<uint16_t>& words) {
    units_.insert(unit);
    for (size_t i = 0; i < words.size(); ++i) holding_[unit][static_cast<uint16_t>(address + i)] = words[i];
}

void FakeModbusBus::set_input(uint8_t unit, uint16_t address, const std::vector<uint16_t>& words) {
    units_.insert(unit);
    for (size_t i = 0; i < words.size(); ++i) input_[unit][static_cast<uint16_t>(address + i)] = words[i];
}

std::optional<uint16_t> FakeModbusBus::holding(uint8_t unit, uint16_t address) const {
    auto u = holding_.find(unit);
    if (u == holding_.end()) return std::nullopt;
    auto it = u->second.find(address);
    return it == u->second.end() ? std::nullopt : std::optional<uint16_t>(it->second);
}

void FakeModbusBus::fail_after(int n, FakeFault fault) {
    fail_after_ = n;
    fail_after_fault_ = fault;
}

void FakeModbusBus::script(std::vector<FakeFault> faults) { scripted_.assign(faults.begin(), faults.end()); }

void FakeModbusBus::clear_faults() {
    scripted_.clear();
    fail_after_.reset();
    fail_after_fault_ = FakeFault::none;
}

void FakeModbusBus::set_offline(bool offline) {
    refuse_connect_ = offline;
    if (offline) connected_ = false;
}

Status FakeModbusBus::connect() {
    ++connect_calls_;
    if (refuse_connect_) {
        return Error{name_ + ": connect: Connection refused", ErrorKind::io};
    }
    connected_ = true;
    ++successful_connects_;
    connect_times_.push_back(clock_.now());
    return {};
}

std::optional<Error> FakeModbusBus::next_fault(uint8_t unit) {
    FakeFault fault = FakeFault::none;
    if (!scripted_.empty()) {
        fault = scripted_.front();
        scripted_.pop_front();
    } else if (fail_after_) {
        if (*fail_after_ > 0) {
            --*fail_after_;
        } else {
            fault = fail_after_fault_;
        }
    }
    if (fault == FakeFault::none && units_.count(unit) == 0) fault = FakeFault::timeout;
    switch (fault) {
        case FakeFault::none: return std::nullopt;
        case FakeFault::timeout:
            clock_.advance(timeout_);
            return Error{name_ + ": Connection timed out", ErrorKind::timeout};
        case FakeFault::io:
            clock_.advance(latency_);
            return Error{name_ + ": Invalid CRC", ErrorKind::io};
        case FakeFault::link_lost:
            connected_ = false;
            return Error{name_ + ": Connection reset by peer", ErrorKind::io};
        case FakeFault::rejected:
            clock_.advance(latency_);
            return Error{name_ + ": Illegal data address", ErrorKind::rejected};
        case FakeFault::busy:
            clock_.advance(latency_);
            return Error{name_ + ": Slave device or server is busy", ErrorKind::busy};
    }
    return std::nullopt;
}

Result<modbus::Registers> FakeModbusBus::read_registers(uint8_t unit, modbus::RegisterKind kind, uint16_t address,
                                                        uint16_t count) {
    if (!connected_) return Error{name_ + ": not connected", ErrorKind::io};
    requests_.push_back({unit, kind, address, count, false, clock_.now(), timeout_});
    if (hook_) hook_(unit, address);
    if (auto fault = next_fault(unit)) return *fault;
    const auto& banks = kind == modbus::RegisterKind::holding ? holding_ : input_;
    modbus::Registers out;
    out.reserve(count);
    auto bank = banks.find(unit);
    for (uint32_t a = address; a < uint32_t{address} + count; ++a) {
        if (bank == banks.end()) return Error{name_ + ": Illegal data address", ErrorKind::rejected};
        auto it = bank->second.find(static_cast<uint16_t>(a));
        if (it == bank->second.end()) {
            clock_.advance(latency_);
            return Error{name_ + ": Illegal data address " + std::to_string(a), ErrorKind::rejected};
        }
        out.push_back(it->second);
    }
    clock_.advance(latency_);
    return out;
}

Status FakeModbusBus::write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) {
    if (!connected_) return Error{name_ + ": not connected", ErrorKind::io};
    requests_.push_back({unit, modbus::RegisterKind::holding, address, static_cast<uint16_t>(values.size()), true,
                         clock_.now(), timeout_});
    if (hook_) hook_(unit, address);
    if (auto fault = next_fault(unit)) return *fault;
    for (size_t i = 0; i < values.size(); ++i) {
        if (!holding(unit, static_cast<uint16_t>(address + i))) {
            return Error{name_ + ": Illegal data address", ErrorKind::rejected};
        }
    }
    for (size_t i = 0; i < values.size(); ++i) holding_[unit][static_cast<uint16_t>(address + i)] = values[i];
    clock_.advance(latency_);
    return {};
}

}  // namespace pvfleet::fakes
