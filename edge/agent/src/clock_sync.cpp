#include "pvfleet/agent/clock_sync.hpp"

#include <sys/timex.h>

#include <algorithm>
#include <chrono>

#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

#ifndef PVFLEET_BUILD_EPOCH_S
#define PVFLEET_BUILD_EPOCH_S 0
#endif

namespace pvfleet::agent {
namespace {

// The kernel's NTP status: adjtimex() answers TIME_ERROR while STA_UNSYNC is set (no daemon has disciplined
// the clock yet, or none has for so long that its error estimate passed 16 s).
bool kernel_synchronised() {
    timex tx{};
    return ::adjtimex(&tx) != TIME_ERROR;
}

bool file_exists(const std::filesystem::path& p) {
    std::error_code ec;
    return std::filesystem::exists(p, ec);
}

std::string minutes(Millis d) {
    return std::to_string(d.count() / 60'000) + " min " + std::to_string(d.count() / 1000 % 60) + " s";
}

}  // namespace

std::optional<ClockPolicy> parse_clock_policy(std::string_view text) {
    if (text == "auto") return ClockPolicy::automatic;
    if (text == "wait") return ClockPolicy::wait;
    if (text == "trust") return ClockPolicy::trust;
    return std::nullopt;
}

TimePoint build_time_floor() {
    // PVFLEET_BUILD_EPOCH_S: set by CMake at configure time (SOURCE_DATE_EPOCH when given: reproducible
    // packages), cut to its UTC midnight.
    constexpr long long day_s = 86'400;
    return from_epoch_ms(PVFLEET_BUILD_EPOCH_S / day_s * day_s * 1000);
}

TimePoint SteadyClock::now() const {
    return TimePoint{std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now().time_since_epoch())};
}

SystemClockSync::SystemClockSync(const Clock& wall, SystemClockSyncOptions options)
    : wall_(wall), options_(std::move(options)) {
    if (!options_.kernel_synchronised) options_.kernel_synchronised = kernel_synchronised;
}

bool SystemClockSync::synchronised() const {
    if (!seen_) seen_ = why_not().empty();
    return seen_;
}

std::string SystemClockSync::why_not() const {
    const auto& root = options_.root;
    if (wall_.now() < options_.floor)
        return "the clock (" + format_iso8601(wall_.now()) + ") is before this build (" +
               format_iso8601(options_.floor) + ")";
    if (options_.policy == ClockPolicy::trust) return "";
    if (options_.kernel_synchronised() || file_exists(root / "run/systemd/timesync/synchronized")) return "";
    if (options_.policy == ClockPolicy::wait) return "not synchronised by NTP yet";
    // automatic: a real-time clock set the time at boot; without one, wait only when a daemon will set it.
    if (file_exists(root / "dev/rtc0") || file_exists(root / "sys/class/rtc/rtc0")) return "";
    for (const char* daemon : {"run/systemd/timesync", "var/lib/systemd/timesync", "run/chrony", "var/lib/chrony",
                               "run/ntpd.pid", "var/lib/ntp", "var/lib/ntpsec"}) {
        if (file_exists(root / daemon))
            return "no real-time clock, and the time-sync daemon (" + std::string(daemon) +
                   ") has not synchronised it yet";
    }
    return "";
}

ClockGate::ClockGate(const ClockSync& sync, const Clock& wall, const Clock& steady, Options options)
    : sync_(sync), wall_(wall), steady_(steady), options_(options) {}

bool ClockGate::check_sync(std::vector<domain::Sample>& released) {
    if (synced_) return true;
    if (!sync_.synchronised()) return false;
    // Once set, the clock stays trusted for this process: a kernel that flags it unsynchronised again after
    // hours without NTP still keeps good time, and steps are watched against the monotonic clock.
    synced_ = true;
    const TimePoint wall = wall_.now();
    const TimePoint steady = steady_.now();
    if (!held_.empty())
        PVF_LOG(info, "agent",
                "clock synchronised (" << format_iso8601(wall) << "): " << held_.size()
                                       << " held sample(s) stamped from the monotonic clock");
    else
        PVF_LOG(info, "agent", "clock synchronised (" << format_iso8601(wall) << ")");
    for (auto& h : held_) {
        h.sample.t = wall - (steady - h.steady);
        ++stats_.restamped;
        pass(std::move(h.sample), released);
    }
    held_.clear();
    have_reference_ = true;
    ref_wall_ = wall;
    ref_steady_ = steady;
    return true;
}

void ClockGate::watch_steps(TimePoint wall, TimePoint steady) {
    if (have_reference_) {
        const Millis off = (wall - ref_wall_) - (steady - ref_steady_);
        if (off >= options_.step_threshold || off <= -options_.step_threshold) {
            ++stats_.steps;
            PVF_LOG(warn, "agent",
                    "wall clock stepped " << (off.count() > 0 ? "forward by " : "back by ")
                                          << minutes(off.count() > 0 ? off : -off) << " (now "
                                          << format_iso8601(wall) << ")"
                                          << (off.count() > 0 ? ": not counted as time without an answer"
                                                              : ": samples at or before each device's newest are "
                                                                "dropped until the clock passes it"));
            if (on_step_) on_step_(off);
        }
    }
    have_reference_ = true;
    ref_wall_ = wall;
    ref_steady_ = steady;
}

void ClockGate::pass(domain::Sample s, std::vector<domain::Sample>& out) {
    auto it = newest_.find(s.device_id);
    if (it != newest_.end() && s.t <= it->second) {
        if (stats_.dropped_behind++ % 360 == 0)
            PVF_LOG(warn, "agent",
                    s.device_id << ": sample at " << format_iso8601(s.t) << " not after the newest ("
                                << format_iso8601(it->second) << "): dropped (" << stats_.dropped_behind
                                << " so far)");
        return;
    }
    newest_[s.device_id] = s.t;
    newest_any_ = std::max(newest_any_, s.t);
    out.push_back(std::move(s));
}

std::vector<domain::Sample> ClockGate::admit(domain::Sample sample) {
    std::vector<domain::Sample> out;
    if (!check_sync(out)) {
        if (stats_.held++ == 0)
            PVF_LOG(warn, "agent",
                    "clock not synchronised (" << format_iso8601(wall_.now())
                                               << "): samples are held, not stored, sent or judged, until it is");
        held_.push_back({std::move(sample), steady_.now()});
        if (held_.size() > options_.max_held) {
            held_.pop_front();
            if (stats_.dropped_overflow++ % 360 == 0)
                PVF_LOG(warn, "agent", "clock still not synchronised: the oldest held samples are dropped ("
                                           << stats_.dropped_overflow << " so far)");
        }
        return out;
    }
    const TimePoint wall = wall_.now();
    watch_steps(wall, steady_.now());
    // Stamped by its poll thread before the clock was set (or just before a step): it was taken now.
    if (sample.t > wall + options_.step_threshold || sample.t < wall - options_.step_threshold) {
        sample.t = wall;
        ++stats_.restamped;
    }
    pass(std::move(sample), out);
    return out;
}

bool ClockGate::tick(std::vector<domain::Sample>& released) {
    if (!check_sync(released)) return false;
    const TimePoint wall = wall_.now();
    watch_steps(wall, steady_.now());
    return wall >= newest_any_;
}

}  // namespace pvfleet::agent
