#pragma once
// Waiting is a seam like time: the live agent sleeps for real, tests advance a ManualClock instead so every
// pause, backoff and poll schedule runs deterministically and instantly.
#include "pvfleet/util/clock.hpp"

namespace pvfleet::modbus {

class Sleeper {
public:
    virtual ~Sleeper() = default;
    virtual void sleep_for(Millis duration) = 0;
};

class SystemSleeper final : public Sleeper {
public:
    void sleep_for(Millis duration) override;
};

// Sleeping moves the manual clock forward by exactly the requested time.
class ManualSleeper final : public Sleeper {
public:
    explicit ManualSleeper(ManualClock& clock) : clock_(clock) {}
    void sleep_for(Millis duration) override {
        if (duration.count() > 0) {
            clock_.advance(duration);
            total_ += duration;
        }
    }
    [[nodiscard]] Millis total_slept() const { return total_; }

private:
    ManualClock& clock_;
    Millis total_{0};
};

}  // namespace pvfleet::modbus
