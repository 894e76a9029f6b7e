#pragma once
// Modbus framing for the simulator's server side: register images, request PDU handling (function
// codes 3, 4, 6, 16), the TCP MBAP header and RTU framing with CRC-16/MODBUS. Pure: no I/O.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace pvfleet::sim {

using Bytes = std::vector<uint8_t>;

enum class ExceptionCode : uint8_t {
    illegal_function = 0x01,
    illegal_data_address = 0x02,
    illegal_data_value = 0x03,
    server_device_failure = 0x04,
    server_device_busy = 0x06,
    gateway_target_failed = 0x0B,
};

enum class RegisterKind { holding, input };

// The 16-bit words one device exposes. Addresses never defined read as "illegal data address", as real
// devices answer for gaps in their maps.
class RegisterImage {
public:
    RegisterImage();
    void define(RegisterKind kind, uint16_t address, uint16_t value);
    void set(RegisterKind kind, uint16_t address, uint16_t value);  // defines as well
    [[nodiscard]] bool defined(RegisterKind kind, uint16_t address) const;
    [[nodiscard]] uint16_t get(RegisterKind kind, uint16_t address) const;
    // Every address in [address, address+count) defined.
    [[nodiscard]] bool defined_range(RegisterKind kind, uint16_t address, uint16_t count) const;
    // Which holding registers a client may write (FC 6/16); other defined ones answer "illegal data address".
    void set_writable(uint16_t address, bool writable);
    [[nodiscard]] bool writable(uint16_t address) const;

private:
    struct Bank {
        std::vector<uint16_t> words;
        std::vector<bool> present;
    };
    Bank& bank(RegisterKind kind) { return kind == RegisterKind::holding ? holding_ : input_; }
    [[nodiscard]] const Bank& bank(RegisterKind kind) const { return kind == RegisterKind::holding ? holding_ : input_; }
    Bank holding_;
    Bank input_;
    std::vector<bool> writable_;
};

// Limits from the Modbus application protocol specification v1.1b3.
inline constexpr uint16_t max_read_registers = 125;
inline constexpr uint16_t max_write_registers = 123;

Bytes exception_pdu(uint8_t function, ExceptionCode code);

// Answers one request PDU (function code + data) against `image`; writes land in the image.
Bytes handle_request(RegisterImage& image, std::span<const uint8_t> request_pdu);

// ---- Modbus TCP ----
struct MbapHeader {
    uint16_t transaction = 0;
    uint16_t protocol = 0;
    uint16_t length = 0;  // unit id + PDU
    uint8_t unit = 0;
};
inline constexpr std::size_t mbap_size = 7;
MbapHeader parse_mbap(std::span<const uint8_t, mbap_size> header);
Bytes build_tcp_adu(uint16_t transaction, uint8_t unit, std::span<const uint8_t> pdu);

// ---- Modbus RTU ----
// CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF); sent low byte first.
uint16_t crc16_modbus(std::span<const uint8_t> data);
Bytes build_rtu_adu(uint8_t unit, std::span<const uint8_t> pdu);

// Length of a complete RTU request ADU (unit .. CRC) when it can be known from its first bytes,
// nullopt when more bytes are needed or the function code has no fixed layout (then the silent
// interval ends the frame).
std::optional<std::size_t> rtu_request_length(std::span<const uint8_t> buffer);

struct RtuRequest {
    uint8_t unit = 0;
    Bytes pdu;
};
enum class RtuCheck { ok, too_short, bad_crc };
RtuCheck check_rtu_frame(std::span<const uint8_t> frame, RtuRequest& out);

// Inter-frame silence (3.5 character times, 11 bits per character); 1.75 ms above 19200 baud as the
// specification fixes.
std::chrono::microseconds rtu_silent_interval(unsigned baud);

}  // namespace pvfleet::sim
