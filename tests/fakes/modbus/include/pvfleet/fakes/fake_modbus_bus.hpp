#pragma once
// A scriptable Modbus link for tests: register banks per unit, fail-after-N, scripted errors and latency on a
// ManualClock. It implements ModbusTransport, so wrapping it in a modbus::Session runs the real retry,
// backoff, reconnect and adaptive-timeout code deterministically:
//
//   ManualClock clock; ManualSleeper sleeper(clock);
//   auto fake = std::make_unique<FakeModbusBus>(clock);  auto* bus = fake.get();
//   bus->set_holding(1, 40000, {0x5375, 0x6e53});
//   modbus::Session session(std::move(fake), timing, clock, sleeper);
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::fakes {

enum class FakeFault { none, timeout, io, rejected, busy, link_lost };

class FakeModbusBus final : public modbus::ModbusTransport {
public:
    explicit FakeModbusBus(ManualClock& clock, std::string name = "fake") : clock_(clock), name_(std::move(name)) {}

    // ---- register banks: a unit exists once it has any register; addresses without a value are illegal ----
    void set_holding(uint8_t unit, uint16_t address, const std::vector<uint16_t>& words);
    void set_input(uint8_t unit, uint16_t address, const std::vector<uint16_t>& words);
    void add_unit(uint8_t unit) { units_.insert(unit); }
    void remove_unit(uint8_t unit) { units_.erase(unit); }  // the unit stops answering (timeouts)
    [[nodiscard]] std::optional<uint16_t> holding(uint8_t unit, uint16_t address) const;

    // ---- faults ----
    // After `n` more successful requests, every request fails with `fault` until clear_faults().
    void fail_after(int n, FakeFault fault);
    // The next requests fail in this order (before fail_after applies), then the bus behaves again.
    void script(std::vector<FakeFault> faults);
    void clear_faults();
    // connect() fails while true (the device is off / the network is down).
    void set_refuse_connect(bool refuse) { refuse_connect_ = refuse; }
    // A server that is gone: connect refused, open link reset. Back again with set_offline(false).
    void set_offline(bool offline);
    // Each answered request takes this long on the clock; a timeout costs the full response timeout.
    void set_latency(Millis latency) { latency_ = latency; }
    // Called with each request before it is answered; lets a test change the world mid-run.
    void on_request(std::function<void(uint8_t unit, uint16_t address)> hook) { hook_ = std::move(hook); }

    // ---- observation ----
    struct Request {
        uint8_t unit;
        modbus::RegisterKind kind;
        uint16_t address;
        uint16_t count;
        bool write;
        TimePoint at;
        Millis timeout;
    };
    [[nodiscard]] const std::vector<Request>& requests() const { return requests_; }
    [[nodiscard]] int connect_calls() const { return connect_calls_; }
    [[nodiscard]] int successful_connects() const { return successful_connects_; }
    [[nodiscard]] std::vector<TimePoint> connect_times() const { return connect_times_; }
    [[nodiscard]] Millis response_timeout() const { return timeout_; }
    void clear_log() { requests_.clear(); }

    // ---- ModbusTransport ----
    Status connect() override;
    void close() override { connected_ = false; }
    [[nodiscard]] bool is_connected() const override { return connected_; }
    void set_response_timeout(Millis timeout) override { timeout_ = timeout; }
    Result<modbus::Registers> read_registers(uint8_t unit, modbus::RegisterKind kind, uint16_t address,
                                             uint16_t count) override;
    Status write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) override;
    [[nodiscard]] std::string describe() const override { return name_; }

private:
    std::optional<Error> next_fault(uint8_t unit);
    using Bank = std::map<uint16_t, uint16_t>;

    ManualClock& clock_;
    std::string name_;
    std::set<uint8_t> units_;
    std::map<uint8_t, Bank> holding_;
    std::map<uint8_t, Bank> input_;
    std::deque<FakeFault> scripted_;
    std::optional<int> fail_after_;
    FakeFault fail_after_fault_ = FakeFault::none;
    bool refuse_connect_ = false;
    bool connected_ = false;
    Millis latency_{5};
    Millis timeout_{1000};
    std::function<void(uint8_t, uint16_t)> hook_;
    std::vector<Request> requests_;
    int connect_calls_ = 0;
    int successful_connects_ = 0;
    std::vector<TimePoint> connect_times_;
};

}  // namespace pvfleet::fakes
