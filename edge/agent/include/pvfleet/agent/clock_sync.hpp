#pragma once
// The gateway's wall clock as a source of timestamps (docs/site-config.md, "Clock"). A Raspberry-Pi-class
// gateway has no real-time clock: it boots at 1970 or at the time it last shut down, and jumps when NTP sets
// it. A sample stamped before that would go out as 1970 (or last month's) data and could open tickets on it.
//
//   ClockSync       is the wall clock set? (the seam; SystemClockSync reads the OS, tests use a fake)
//   ClockGate       on the agent's executor: holds samples while the clock is not set and restamps them from a
//                   monotonic clock once it is; afterwards notices steps of the wall clock against the
//                   monotonic one, so a step forward is not taken for time without an answer and a step back
//                   never stamps a device's sample at or before one already taken.
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::agent {

class ClockSync {
public:
    virtual ~ClockSync() = default;
    // True once the wall clock may stamp samples. Called on the agent's executor, every few seconds.
    [[nodiscard]] virtual bool synchronised() const = 0;
};

// Trusts the clock (an agent library used without the OS seam: tests, replay-like tools).
class TrustedClockSync final : public ClockSync {
public:
    [[nodiscard]] bool synchronised() const override { return true; }
};

// `pvfleet-edge run --clock POLICY`:
//   auto   wait for NTP when the machine has no real-time clock and runs a time-sync daemon; trust it otherwise
//   wait   wait for NTP in any case (a gateway with a real-time clock it does not trust)
//   trust  never wait (a clock set by other means)
// In every policy a clock before the build's floor (the build date) is never trusted.
enum class ClockPolicy { automatic, wait, trust };
std::optional<ClockPolicy> parse_clock_policy(std::string_view text);

struct SystemClockSyncOptions {
    ClockPolicy policy = ClockPolicy::automatic;
    TimePoint floor;                            // build_time_floor() in the program
    std::filesystem::path root = "/";           // where /run, /dev and /sys are (tests: a folder)
    std::function<bool()> kernel_synchronised;  // default: adjtimex() does not report TIME_ERROR
};

// The OS's view: synchronised when the kernel's NTP status is set (adjtimex() without STA_UNSYNC — chrony,
// ntpd and systemd-timesyncd all clear it) or systemd-timesyncd has touched /run/systemd/timesync/synchronized.
// Once synchronised it stays so for the process (the agents a set_config restarts in it included): the kernel
// flags the clock unsynchronised again after hours without NTP, while it still keeps good time. Executor only.
class SystemClockSync final : public ClockSync {
public:
    SystemClockSync(const Clock& wall, SystemClockSyncOptions options);
    [[nodiscard]] bool synchronised() const override;
    // Why not, for the log and the local page ("" when synchronised).
    [[nodiscard]] std::string why_not() const;

private:
    const Clock& wall_;
    SystemClockSyncOptions options_;
    mutable bool seen_ = false;
};

// The build date (UTC midnight) as compiled into the agent: no sample is ever stamped before it.
TimePoint build_time_floor();

// The monotonic clock (CLOCK_MONOTONIC: unaffected by steps of the wall clock) as a Clock.
class SteadyClock final : public Clock {
public:
    [[nodiscard]] TimePoint now() const override;
};

class ClockGate {
public:
    struct Options {
        std::size_t max_held = 4096;  // samples held while unsynchronised (2 inverters at 10 s: about 5.6 h)
        Millis step_threshold{60'000};  // a wall-clock change this much off the monotonic one is a step
    };
    struct Stats {
        uint64_t held = 0;             // samples held while the clock was not set
        uint64_t restamped = 0;        // held samples released with a monotonic stamp
        uint64_t dropped_overflow = 0; // held samples dropped beyond max_held (oldest first)
        uint64_t dropped_behind = 0;   // samples stamped at or before the device's newest (after a step back)
        uint64_t steps = 0;            // steps of the wall clock seen after synchronisation
    };
    // What a step did: `by` > 0 forward. The agent shifts detection's gap bookkeeping by it.
    using StepHandler = std::function<void(Millis by)>;

    ClockGate(const ClockSync& sync, const Clock& wall, const Clock& steady, Options options);
    ClockGate(const ClockSync& sync, const Clock& wall, const Clock& steady)
        : ClockGate(sync, wall, steady, Options{}) {}
    void on_step(StepHandler handler) { on_step_ = std::move(handler); }

    // A sample from a poll thread: the samples that may go on now, in order — none while the clock is not
    // set (it is held), the held ones restamped first once it is, none when it is at or before the device's
    // newest stamp.
    std::vector<domain::Sample> admit(domain::Sample sample);
    // On the detection tick: releases held samples when the clock has just been set; true when time-based
    // detection may run now (synchronised, and the wall clock not behind the newest stamp given out).
    bool tick(std::vector<domain::Sample>& released);
    [[nodiscard]] bool synchronised() const { return synced_; }
    // Whether a "no answer" at the wall clock's now may go to detection (synchronised, not behind).
    [[nodiscard]] bool may_judge_now() const { return synced_ && wall_.now() >= newest_any_; }
    [[nodiscard]] const Stats& stats() const { return stats_; }

private:
    bool check_sync(std::vector<domain::Sample>& released);
    void watch_steps(TimePoint wall, TimePoint steady);
    void pass(domain::Sample s, std::vector<domain::Sample>& out);

    const ClockSync& sync_;
    const Clock& wall_;
    const Clock& steady_;
    Options options_;
    StepHandler on_step_;
    bool synced_ = false;
    struct Held {
        domain::Sample sample;
        TimePoint steady;
    };
    std::deque<Held> held_;
    std::map<std::string, TimePoint> newest_;  // per device, the newest stamp given out
    TimePoint newest_any_{};
    bool have_reference_ = false;
    TimePoint ref_wall_{}, ref_steady_{};  // the last (wall, monotonic) pair, for steps
    Stats stats_;
};

}  // namespace pvfleet::agent
