#pragma once
// Time that also fires timers (after Envoy's SimulatedTimeSystem): production code asks a TimeSystem for the
// wall clock and for timers; tests drive a SimulatedTimeSystem and advance it, so time-based logic (flushes,
// gap checks, detection windows) runs in the order and at the instants it would, without sleeping.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "pvfleet/util/clock.hpp"

namespace pvfleet {

// A one-shot timer. Arming again replaces a pending arm; cancelling or destroying it means the callback never
// runs. Where the callback runs is the time system's business (the Asio one: on its executor; the simulated
// one: on the thread that advances time), so code guarding state with a strand posts onto it from `fire`.
class Timer {
public:
    virtual ~Timer() = default;
    virtual void arm(Millis after, std::function<void()> fire) = 0;
    virtual void cancel() = 0;
    [[nodiscard]] virtual bool armed() const = 0;
};

class TimeSystem : public Clock {
public:
    [[nodiscard]] virtual std::unique_ptr<Timer> make_timer() = 0;
};

// Moves only when told to. advance() fires every timer that falls due, in deadline order (ties in the order
// they were armed), with now() equal to that timer's deadline while it runs; a callback may arm timers, which
// fire within the same advance if they fall due. Thread-safe; callbacks run without the lock held.
class SimulatedTimeSystem final : public TimeSystem {
public:
    explicit SimulatedTimeSystem(TimePoint start = TimePoint{});
    ~SimulatedTimeSystem() override;
    SimulatedTimeSystem(const SimulatedTimeSystem&) = delete;
    SimulatedTimeSystem& operator=(const SimulatedTimeSystem&) = delete;

    [[nodiscard]] TimePoint now() const override;
    [[nodiscard]] std::unique_ptr<Timer> make_timer() override;

    void advance(Millis by);
    // Advances to `to` (never backwards: an earlier instant only fires what is already due).
    void advance_to(TimePoint to);
    // Jumps the wall clock without firing anything (a gateway whose clock is set by NTP): timers keep their
    // remaining durations.
    void set_wall_clock(TimePoint t);
    [[nodiscard]] std::size_t armed_timers() const;

private:
    class SimTimer;
    struct Entry {
        SimTimer* timer;
        TimePoint due;
        std::uint64_t order;
        std::function<void()> fire;
    };
    void arm(SimTimer* t, Millis after, std::function<void()> fire);
    void cancel(SimTimer* t);
    [[nodiscard]] bool is_armed(const SimTimer* t) const;

    mutable std::mutex mutex_;
    TimePoint now_;
    std::uint64_t next_order_ = 0;
    std::vector<Entry> pending_;
};

}  // namespace pvfleet
