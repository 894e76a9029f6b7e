#include "pvfleet/sim/frame.hpp"

namespace pvfleet::sim {

namespace {
constexpr std::size_t address_space = 65536;
uint16_t be16(std::span<const uint8_t> b, std::size_t at) { return static_cast<uint16_t>((b[at] << 8) | b[at + 1]); }
void put16(Bytes& out, uint16_t v) {
    out.push_back(static_cast<uint8_t>(v >> 8));
    out.push_back(static_cast<uint8_t>(v & 0xFF));
}
}  // namespace

RegisterImage::RegisterImage()
    : holding_{std::vector<uint16_t>(address_space, 0), std::vector<bool>(address_space, false)},
      input_{std::vector<uint16_t>(address_space, 0), std::vector<bool>(address_space, false)},
      writable_(address_space, false) {}

void RegisterImage::define(RegisterKind kind, uint16_t address, uint16_t value) { set(kind, address, value); }

void RegisterImage::set(RegisterKind kind, uint16_t address, uint16_t value) {
    auto& b = bank(kind);
    b.words[address] = value;
    b.present[address] = true;
}

bool RegisterImage::defined(RegisterKind kind, uint16_t address) const { return bank(kind).present[address]; }
uint16_t RegisterImage::get(RegisterKind kind, uint16_t address) const { return bank(kind).words[address]; }

bool RegisterImage::defined_range(RegisterKind kind, uint16_t address, uint16_t count) const {
    if (static_cast<std::size_t>(address) + count > address_space) return false;
    const auto& b = bank(kind);
    for (std::size_t a = address; a < static_cast<std::size_t>(address) + count; ++a) {
        if (!b.present[a]) return false;
    }
    return true;
}

void RegisterImage::set_writable(uint16_t address, bool writable) { writable_[address] = writable; }
bool RegisterImage::writable(uint16_t address) const { return writable_[address]; }

Bytes exception_pdu(uint8_t function, ExceptionCode code) {
    return Bytes{static_cast<uint8_t>(function | 0x80), static_cast<uint8_t>(code)};
}

Bytes handle_request(RegisterImage& image, std::span<const uint8_t> pdu) {
    if (pdu.empty()) return exception_pdu(0, ExceptionCode::illegal_function);
    const uint8_t function = pdu[0];
    switch (function) {
    case 0x03:
    case 0x04: {
        if (pdu.size() != 5) return exception_pdu(function, ExceptionCode::illegal_data_value);
        const uint16_t address = be16(pdu, 1);
        const uint16_t count = be16(pdu, 3);
        if (count == 0 || count > max_read_registers) return exception_pdu(function, ExceptionCode::illegal_data_value);
        const auto kind = function == 0x03 ? RegisterKind::holding : RegisterKind::input;
        if (!image.defined_range(kind, address, count)) {
            return exception_pdu(function, ExceptionCode::illegal_data_address);
        }
        Bytes out{function, static_cast<uint8_t>(count * 2)};
        out.reserve(2 + count * 2);
        for (uint16_t i = 0; i < count; ++i) put16(out, image.get(kind, static_cast<uint16_t>(address + i)));
        return out;
    }
    case 0x06: {
        if (pdu.size() != 5) return exception_pdu(function, ExceptionCode::illegal_data_value);
        const uint16_t address = be16(pdu, 1);
        if (!image.defined(RegisterKind::holding, address) || !image.writable(address)) {
            return exception_pdu(function, ExceptionCode::illegal_data_address);
        }
        image.set(RegisterKind::holding, address, be16(pdu, 3));
        return Bytes(pdu.begin(), pdu.end());
    }
    case 0x10: {
        if (pdu.size() < 6) return exception_pdu(function, ExceptionCode::illegal_data_value);
        const uint16_t address = be16(pdu, 1);
        const uint16_t count = be16(pdu, 3);
        const uint8_t byte_count = pdu[5];
        if (count == 0 || count > max_write_registers || byte_count != count * 2 ||
            pdu.size() != 6u + byte_count) {
            return exception_pdu(function, ExceptionCode::illegal_data_value);
        }
        if (!image.defined_range(RegisterKind::holding, address, count)) {
            return exception_pdu(function, ExceptionCode::illegal_data_address);
        }
        for (uint16_t i = 0; i < count; ++i) {
            if (!image.writable(static_cast<uint16_t>(address + i))) {
                return exception_pdu(function, ExceptionCode::illegal_data_address);
            }
        }
        for (uint16_t i = 0; i < count; ++i) {
            image.set(RegisterKind::holding, static_cast<uint16_t>(address + i), be16(pdu, 6 + 2 * i));
        }
        Bytes out{function};
        put16(out, address);
        put16(out, count);
        return out;
    }
    default:
        return exception_pdu(function, ExceptionCode::illegal_function);
    }
}

MbapHeader parse_mbap(std::span<const uint8_t, mbap_size> h) {
    return MbapHeader{static_cast<uint16_t>((h[0] << 8) | h[1]), static_cast<uint16_t>((h[2] << 8) | h[3]),
                      static_cast<uint16_t>((h[4] << 8) | h[5]), h[6]};
}

Bytes build_tcp_adu(uint16_t transaction, uint8_t unit, std::span<const uint8_t> pdu) {
    Bytes out;
    out.reserve(mbap_size + pdu.size());
    put16(out, transaction);
    put16(out, 0);
    put16(out, static_cast<uint16_t>(pdu.size() + 1));
    out.push_back(unit);
    out.insert(out.end(), pdu.begin(), pdu.end());
    return out;
}

uint16_t crc16_modbus(std::span<const uint8_t> data) {
    uint16_t crc = 0xFFFF;
    for (uint8_t byte : data) {
        crc ^= byte;
        for (int bit = 0; bit < 8; ++bit) crc = (crc & 1) ? static_cast<uint16_t>((crc >> 1) ^ 0xA001) : static_cast<uint16_t>(crc >> 1);
    }
    return crc;
}

Bytes build_rtu_adu(uint8_t unit, std::span<const uint8_t> pdu) {
    Bytes out;
    out.reserve(pdu.size() + 3);
    out.push_back(unit);
    out.insert(out.end(), pdu.begin(), pdu.end());
    const uint16_t crc = crc16_modbus(out);
    out.push_back(static_cast<uint8_t>(crc & 0xFF));
    out.push_back(static_cast<uint8_t>(crc >> 8));
    return out;
}

std::optional<std::size_t> rtu_request_length(std::span<const uint8_t> b) {
    if (b.size() < 2) return std::nullopt;
    switch (b[1]) {
    case 0x03:
    case 0x04:
    case 0x06:
        return 8;
    case 0x10:
        if (b.size() < 7) return std::nullopt;
        return 9u + b[6];
    default:
        return std::nullopt;
    }
}

RtuCheck check_rtu_frame(std::span<const uint8_t> frame, RtuRequest& out) {
    if (frame.size() < 4) return RtuCheck::too_short;
    const auto body = frame.first(frame.size() - 2);
    const uint16_t received = static_cast<uint16_t>(frame[frame.size() - 2] | (frame[frame.size() - 1] << 8));
    if (crc16_modbus(body) != received) return RtuCheck::bad_crc;
    out.unit = frame[0];
    out.pdu.assign(body.begin() + 1, body.end());
    return RtuCheck::ok;
}

std::chrono::microseconds rtu_silent_interval(unsigned baud) {
    if (baud == 0 || baud > 19200) return std::chrono::microseconds{1750};
    return std::chrono::microseconds{static_cast<long long>(3.5 * 11.0 * 1'000'000.0 / baud)};
}

}  // namespace pvfleet::sim
