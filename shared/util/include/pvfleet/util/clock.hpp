#pragma once
// Time is a seam: production code asks a Clock, tests and replay drive a ManualClock.
#include <chrono>

namespace pvfleet {

using Millis = std::chrono::milliseconds;
// UTC wall-clock time at millisecond resolution: the unit of every timestamp on the wire.
using TimePoint = std::chrono::sys_time<Millis>;

class Clock {
public:
    virtual ~Clock() = default;
    [[nodiscard]] virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
public:
    [[nodiscard]] TimePoint now() const override {
        return std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
    }
};

// A clock that moves only when told to: makes time-based logic deterministic.
class ManualClock final : public Clock {
public:
    explicit ManualClock(TimePoint start = TimePoint{}) : now_(start) {}
    [[nodiscard]] TimePoint now() const override { return now_; }
    void set(TimePoint t) { now_ = t; }
    void advance(Millis d) { now_ += d; }

private:
    TimePoint now_;
};

// Milliseconds since the Unix epoch, as carried on the wire.
inline long long to_epoch_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_epoch_ms(long long ms) { return TimePoint{Millis{ms}}; }

}  // namespace pvfleet
