#include "pvfleet/modbus/session.hpp"

#include <algorithm>
#include <cmath>

#include "pvfleet/util/log.hpp"

namespace pvfleet::modbus {
namespace {
// Closing the link after this many timeouts in a row with no answer at all in between.
constexpr int kTimeoutsBeforeReconnect = 3;
constexpr double kClockGranularityMs = 10.0;
}  // namespace

void TimeoutEstimator::on_answer(Millis rtt) {
    const double r = static_cast<double>(rtt.count());
    if (samples_ == 0) {
        srtt_ = r;
        rttvar_ = r / 2.0;
    } else {
        rttvar_ = 0.75 * rttvar_ + 0.25 * std::abs(srtt_ - r);
        srtt_ = 0.875 * srtt_ + 0.125 * r;
    }
    ++samples_;
    backoff_shift_ = 0;
}

void TimeoutEstimator::on_timeout() { backoff_shift_ = std::min(backoff_shift_ + 1, 16); }

Millis TimeoutEstimator::timeout() const {
    double base = samples_ == 0 ? static_cast<double>(timing_->timeout_initial.count())
                                : srtt_ + std::max(kClockGranularityMs, 4.0 * rttvar_);
    const double lo = static_cast<double>(timing_->timeout_min.count());
    const double hi = static_cast<double>(timing_->timeout_max.count());
    // Karn: each timeout doubles the timeout actually used (after clamping), until an answer comes back.
    const double backed_off = std::clamp(base, lo, hi) * std::pow(2.0, backoff_shift_);
    return Millis{static_cast<Millis::rep>(std::clamp(backed_off, lo, hi))};
}

Session::Session(std::unique_ptr<ModbusTransport> transport, SessionTiming timing, const Clock& clock,
                 Sleeper& sleeper, uint32_t seed)
    : transport_(std::move(transport)), timing_(timing), clock_(clock), sleeper_(sleeper), rng_(seed == 0 ? 1 : seed) {}

Session::~Session() = default;

std::string Session::describe() const { return transport_->describe(); }

SessionStats Session::stats() const {
    std::lock_guard lock(mutex_);
    return stats_;
}

bool Session::connected() const {
    std::lock_guard lock(mutex_);
    return transport_->is_connected();
}

std::optional<TimePoint> Session::reconnect_not_before() const {
    std::lock_guard lock(mutex_);
    return reconnect_not_before_;
}

Millis Session::response_timeout(uint8_t unit) const {
    std::lock_guard lock(mutex_);
    auto it = estimators_.find(unit);
    return it == estimators_.end() ? timing_.timeout_initial : it->second.timeout();
}

void Session::disconnect() {
    std::lock_guard lock(mutex_);
    transport_->close();
    last_unit_.reset();
}

TimeoutEstimator& Session::estimator(uint8_t unit) {
    return estimators_.try_emplace(unit, timing_).first->second;
}

Millis Session::jittered(Millis base) {
    if (timing_.jitter <= 0.0 || base.count() <= 0) return base;
    std::uniform_real_distribution<double> spread(1.0 - timing_.jitter, 1.0 + timing_.jitter);
    return Millis{static_cast<Millis::rep>(std::llround(static_cast<double>(base.count()) * spread(rng_)))};
}

Status Session::ensure_connected() {
    if (transport_->is_connected()) return {};
    const TimePoint now = clock_.now();
    if (reconnect_not_before_ && now < *reconnect_not_before_) {
        const auto wait = std::chrono::duration_cast<Millis>(*reconnect_not_before_ - now);
        return Error{describe() + ": not connected, next attempt in " + std::to_string(wait.count()) + " ms",
                     ErrorKind::io};
    }
    transport_->set_response_timeout(timing_.timeout_max);
    if (auto st = transport_->connect(); !st) {
        ++stats_.connect_failures;
        ++connect_failures_in_row_;
        const int shift = std::min(connect_failures_in_row_ - 1, 20);
        const Millis base = std::min<Millis>(timing_.reconnect_backoff_min * (Millis::rep{1} << shift), timing_.reconnect_backoff_max);
        const auto delay = jittered(base);
        reconnect_not_before_ = clock_.now() + delay;
        if (connect_failures_in_row_ == 1 || (connect_failures_in_row_ & (connect_failures_in_row_ - 1)) == 0) {
            // Logged at 1, 2, 4, 8, ... failures: a device silent for weeks does not flood the log.
            PVF_LOG(warn, "modbus", st.error().message << " (failure " << connect_failures_in_row_
                                                       << ", retrying in " << delay.count() << " ms)");
        }
        return st;
    }
    if (connect_failures_in_row_ > 0) {
        PVF_LOG(info, "modbus", describe() << ": connected after " << connect_failures_in_row_ << " failed attempts");
    }
    ++stats_.connects;
    connect_failures_in_row_ = 0;
    reconnect_not_before_.reset();
    last_unit_.reset();
    sleeper_.sleep_for(timing_.pause_after_connect);
    return {};
}

template <class Op>
auto Session::run(uint8_t unit, Op&& op) -> decltype(op()) {
    ++stats_.requests;
    std::optional<Error> last;
    for (int attempt = 0; attempt <= timing_.retries; ++attempt) {
        if (attempt > 0) {
            const Millis pause = last->kind == ErrorKind::busy ? timing_.busy_backoff
                                                               : Millis{timing_.retry_backoff * (Millis::rep{1} << (attempt - 1))};
            sleeper_.sleep_for(jittered(pause));
        }
        if (auto st = ensure_connected(); !st) {
            return st.error();  // the reconnect backoff decides when to try again, not this request
        }
        if (last_unit_ && *last_unit_ != unit) {
            sleeper_.sleep_for(timing_.pause_between_units);
        }
        last_unit_ = unit;
        auto& est = estimator(unit);
        transport_->set_response_timeout(est.timeout());
        ++stats_.attempts;
        const TimePoint started = clock_.now();
        auto result = op();
        if (result) {
            est.on_answer(std::chrono::duration_cast<Millis>(clock_.now() - started));
            ++stats_.answered;
            timeouts_in_row_ = 0;
            return result;
        }
        last = result.error();
        switch (last->kind) {
            case ErrorKind::timeout:
                ++stats_.timeouts;
                est.on_timeout();
                if (++timeouts_in_row_ >= kTimeoutsBeforeReconnect) {
                    transport_->close();  // maybe half-open; reopen on the next attempt
                    timeouts_in_row_ = 0;
                }
                break;
            case ErrorKind::busy:
                ++stats_.busy;
                timeouts_in_row_ = 0;  // it answered
                break;
            case ErrorKind::io:
                ++stats_.io_errors;
                break;
            case ErrorKind::rejected:
                ++stats_.rejected;
                timeouts_in_row_ = 0;
                return *last;
            default:
                return *last;  // invalid request: retrying cannot help
        }
    }
    return *last;
}

Result<Registers> Session::read_registers(uint8_t unit, RegisterKind kind, uint16_t address, uint16_t count) {
    std::lock_guard lock(mutex_);
    return run(unit, [&] { return transport_->read_registers(unit, kind, address, count); });
}

Status Session::write_registers(uint8_t unit, uint16_t address, std::span<const uint16_t> values) {
    std::lock_guard lock(mutex_);
    return run(unit, [&] { return transport_->write_registers(unit, address, values); });
}

std::unique_ptr<Session> make_session(const EndpointConfig& endpoint, const Clock& clock, Sleeper& sleeper) {
    return std::make_unique<Session>(make_libmodbus_transport(endpoint.address), endpoint.timing, clock, sleeper);
}

}  // namespace pvfleet::modbus
