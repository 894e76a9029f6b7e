// The one place that talks to libmodbus. Every call here blocks the calling thread for up to the response
// timeout: callers run it on the acquisition's poll thread, never on an Asio executor.
#include <modbus/modbus.h>

#include <cerrno>
#include <cstring>

#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/modbus/endpoint.hpp"

namespace pvfleet::modbus {
namespace {

// Errors after which the link itself is gone: close it so the session reconnects.
bool link_lost(int err) {
    switch (err) {
        case ECONNRESET: case EPIPE: case EBADF: case ENOTCONN: case ECONNABORTED: case ENETDOWN:
        case ENETUNREACH: case EHOSTUNREACH: case EIO: case ENXIO: case ENODEV:
            return true;
        default:
            return false;
    }
}

Error classify(int err, const std::string& what) {
    const std::string text = what + ": " + modbus_strerror(err);
    switch (err) {
        case EMBXILFUN: case EMBXILADD: case EMBXILVAL:
            return Error{text, ErrorKind::rejected};
        case EMBXACK: case EMBXSBUSY:
            return Error{text, ErrorKind::busy};
        case ETIMEDOUT:
        case EMBXGPATH:  // gateway: no path to the unit — behaves like a unit that does not answer
        case EMBXGTAR:   // gateway: target device failed to respond
            return Error{text, ErrorKind::timeout};
        default:
            return Error{text, ErrorKind::io};
    }
}

class LibmodbusTransport final : public ModbusTransport {
public:
    explicit LibmodbusTransport(Address address) : address_(std::move(address)) {}
    ~LibmodbusTransport() override { release(); }
    LibmodbusTransport(const LibmodbusTransport&) = delete;
    LibmodbusTransport& operator=(const LibmodbusTransport&) = delete;

    Status connect() override {
        release();
        if (const auto* tcp = std::get_if<TcpAddress>(&address_)) {
            // modbus_new_tcp_pi resolves names as well as numeric addresses.
            const std::string port = std::to_string(tcp->port);
            ctx_ = modbus_new_tcp_pi(tcp->host.c_str(), port.c_str());
        } else {
            const auto& rtu = std::get<RtuAddress>(address_);
            ctx_ = modbus_new_rtu(rtu.device.c_str(), rtu.baud, rtu.parity, rtu.data_bits, rtu.stop_bits);
        }
        if (ctx_ == nullptr) {
            return Error{describe() + ": cannot create context: " + modbus_strerror(errno), ErrorKind::invalid};
        }
        modbus_set_error_recovery(ctx_, MODBUS_ERROR_RECOVERY_NONE);  // the session decides what to do
        apply_timeout();  // libmodbus also uses it as the TCP connect timeout
        if (modbus_connect(ctx_) != 0) {
            const int err = errno;
            release();
            return Error{describe() + ": connect: " + modbus_strerror(err),
                         err == ETIMEDOUT ? ErrorKind::timeout : ErrorKind::io};
        }
        connected_ = true;
        return {};
    }

    void close() override { release(); }
    [[nodiscard]] bool is_connected() const override { return connected_; }

    void set_response_timeout(Millis timeout) override {
        timeout_ = timeout;
        if (ctx_ != nullptr) apply_timeout();
    }

    Result<Registers> read_registers(uint8_t unit, RegisterKind kind, uint16_t address, uint16_t count) override {
        if (!connected_) return Error{describe() + ": not connected", ErrorKind::io};
        if (count == 0 || count > kMaxReadRegisters) {
            return Error{"read of " + std::to_string(count) + " registers (1..125 per request)", ErrorKind::invalid};
        }
        modbus_set_slave(ctx_, unit);
        Registers out(count);
        const int n = kind == RegisterKind::holding ? modbus_read_registers(ctx_, address, count, out.data())
                                                    : modbus_read_input_registers(ctx_, address, count, out.data());
        if (n == count) return out;
        if (n >= 0) {
            return Error{request_text(unit, kind, address, count) + ": short answer of " + std::to_string(n) +
                             " registers", ErrorKind::io};
        }
        return failure(errno, request_text(unit, kind, address, count));
    }

    Status write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) override {
        if (!connected_) return Error{describe() + ": not connected", ErrorKind::io};
        if (values.empty() || values.size() > kMaxWriteRegisters) {
            return Error{"write of " + std::to_string(values.size()) + " registers (1..123 per request)",
                         ErrorKind::invalid};
        }
        modbus_set_slave(ctx_, unit);
        const int n = modbus_write_registers(ctx_, address, static_cast<int>(values.size()), values.data());
        if (n == static_cast<int>(values.size())) return {};
        const std::string what = describe() + " unit " + std::to_string(unit) + " write " +
                                 std::to_string(address) + "+" + std::to_string(values.size());
        if (n >= 0) return Error{what + ": short write", ErrorKind::io};
        return failure(errno, what);
    }

    [[nodiscard]] std::string describe() const override { return pvfleet::modbus::describe(address_); }

private:
    Error failure(int err, const std::string& what) {
        Error error = classify(err, what);
        if (link_lost(err)) {
            release();
        } else if (error.kind == ErrorKind::timeout || error.kind == ErrorKind::io) {
            // A late or garbled answer must not be read as the answer to the next request.
            modbus_flush(ctx_);
        }
        return error;
    }

    std::string request_text(uint8_t unit, RegisterKind kind, uint16_t address, uint16_t count) const {
        return describe() + " unit " + std::to_string(unit) + (kind == RegisterKind::holding ? " holding " : " input ") +
               std::to_string(address) + "+" + std::to_string(count);
    }

    void apply_timeout() {
        const auto ms = timeout_.count();
        modbus_set_response_timeout(ctx_, static_cast<uint32_t>(ms / 1000), static_cast<uint32_t>((ms % 1000) * 1000));
    }

    void release() {
        if (ctx_ != nullptr) {
            if (connected_) modbus_close(ctx_);
            modbus_free(ctx_);
            ctx_ = nullptr;
        }
        connected_ = false;
    }

    Address address_;
    modbus_t* ctx_ = nullptr;
    bool connected_ = false;
    Millis timeout_{1000};
};

}  // namespace

std::unique_ptr<ModbusTransport> make_libmodbus_transport(const Address& address) {
    return std::make_unique<LibmodbusTransport>(address);
}

}  // namespace pvfleet::modbus
