#pragma once
// A resilient Modbus session over one endpoint: one long-lived link shared by every unit id behind it
// (many inverters accept a single TCP client; an RS-485 gateway multiplexes units over one socket).
//
// - Requests are serialised (a mutex; callers normally use one poll thread per endpoint anyway).
// - Pauses: after connect, and when the unit id changes (gateways need the RS-485 line to settle).
// - Response timeout per unit follows the measured round trip (RFC 6298 style: srtt + 4*rttvar), clamped to
//   [timeout_min, timeout_max], doubled after each timeout (Karn) until an answer comes back.
// - Timeouts and I/O errors are retried `retries` times with exponential backoff; busy replies (exception 5/6)
//   wait busy_backoff; rejected requests (exception 1/2/3) are returned at once — retrying cannot help.
// - A lost link is reopened at once on the next request; a failing connect is retried with capped
//   exponential backoff plus jitter, forever: while the backoff runs, requests fail fast with ErrorKind::io
//   instead of blocking, so a silent device never stalls the poll loop and is never given up on.
// - Several consecutive timeouts with no answer in between close the link: a half-open TCP connection to a
//   rebooted inverter looks exactly like that.
// Blocking: every call may block for up to (retries + 1) * timeout_max plus pauses. Run it on a poll thread.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>

#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/modbus/endpoint.hpp"
#include "pvfleet/modbus/sleeper.hpp"

namespace pvfleet::modbus {

// Round-trip estimator per RFC 6298, in milliseconds.
class TimeoutEstimator {
public:
    explicit TimeoutEstimator(const SessionTiming& timing) : timing_(&timing) {}
    void on_answer(Millis rtt);
    void on_timeout();
    [[nodiscard]] Millis timeout() const;
    [[nodiscard]] std::optional<double> smoothed_rtt_ms() const { return samples_ > 0 ? std::optional(srtt_) : std::nullopt; }

private:
    const SessionTiming* timing_;
    double srtt_ = 0.0;
    double rttvar_ = 0.0;
    int samples_ = 0;
    int backoff_shift_ = 0;
};

struct SessionStats {
    uint64_t requests = 0;        // read/write calls
    uint64_t attempts = 0;        // requests put on the wire, retries included
    uint64_t answered = 0;
    uint64_t timeouts = 0;
    uint64_t io_errors = 0;
    uint64_t rejected = 0;
    uint64_t busy = 0;
    uint64_t connects = 0;        // successful connects
    uint64_t connect_failures = 0;
};

class Session final : public ModbusBus {
public:
    // `clock` and `sleeper` must outlive the session. `seed` drives the backoff jitter.
    Session(std::unique_ptr<ModbusTransport> transport, SessionTiming timing, const Clock& clock, Sleeper& sleeper,
            uint32_t seed = std::random_device{}());
    ~Session() override;

    Result<Registers> read_registers(uint8_t unit, RegisterKind kind, uint16_t address, uint16_t count) override;
    Status write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) override;
    [[nodiscard]] std::string describe() const override;

    [[nodiscard]] SessionStats stats() const;
    [[nodiscard]] bool connected() const;
    // When the next connect attempt is allowed (nullopt: now).
    [[nodiscard]] std::optional<TimePoint> reconnect_not_before() const;
    [[nodiscard]] Millis response_timeout(uint8_t unit) const;
    [[nodiscard]] const SessionTiming& timing() const { return timing_; }
    // Closes the link now; the next request reconnects (used by tests and on shutdown).
    void disconnect();

private:
    template <class Op>
    auto run(uint8_t unit, Op&& op) -> decltype(op());
    Status ensure_connected();
    Millis jittered(Millis base);
    TimeoutEstimator& estimator(uint8_t unit);

    std::unique_ptr<ModbusTransport> transport_;
    SessionTiming timing_;
    const Clock& clock_;
    Sleeper& sleeper_;
    mutable std::mutex mutex_;
    std::minstd_rand rng_;
    std::map<uint8_t, TimeoutEstimator> estimators_;
    std::optional<uint8_t> last_unit_;
    std::optional<TimePoint> reconnect_not_before_;
    int connect_failures_in_row_ = 0;
    int timeouts_in_row_ = 0;
    SessionStats stats_;
};

// A Session over libmodbus for an endpoint.
std::unique_ptr<Session> make_session(const EndpointConfig& endpoint, const Clock& clock, Sleeper& sleeper);

}  // namespace pvfleet::modbus
