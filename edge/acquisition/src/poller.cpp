#include "pvfleet/acquisition/poller.hpp"

#include <algorithm>
#include <map>
#include <mutex>

#include "pvfleet/acquisition/read_blocks.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::acquisition {

std::string_view to_string(DeviceState s) {
    switch (s) {
        case DeviceState::unknown: return "unknown";
        case DeviceState::ok: return "ok";
        case DeviceState::asleep: return "asleep";
        case DeviceState::offline: return "offline";
        case DeviceState::map_error: return "map_error";
    }
    return "unknown";
}

struct Poller::Device {
    DeviceConfig config;
    std::vector<ReadBlock> once_blocks, fast_blocks, slow_blocks;
    TimePoint next_due{};
    std::optional<Reading> once_values;  // carried until the next failure
    std::optional<Reading> slow_values;  // carried until the next failure or 2 x slow interval
    TimePoint slow_read_at{};
    std::optional<TimePoint> next_slow;  // nullopt: read slow blocks at the next poll
    MonotonicCounters counters;
    Plausibility plausibility;
    mutable std::mutex status_mutex;     // status is read by other threads (heartbeat)
    DeviceStatus status;
};

namespace {

void merge_into(domain::Sample& into, const Reading& from) {
    for (const auto& [k, v] : from.values) into.values.insert_or_assign(k, v);
    for (const auto& [k, v] : from.arrays) into.arrays.insert_or_assign(k, v);
    if (from.state && !into.state) into.state = from.state;
    for (const auto& e : from.events) {
        if (std::find(into.events.begin(), into.events.end(), e) == into.events.end()) into.events.push_back(e);
    }
}

void add_event(domain::Sample& s, const std::string& e) {
    if (std::find(s.events.begin(), s.events.end(), e) == s.events.end()) s.events.push_back(e);
}

}  // namespace

Poller::Poller(const Clock& clock, modbus::Sleeper& sleeper, SampleSink on_sample, StateSink on_state,
               SunIsDown sun_is_down)
    : clock_(clock), sleeper_(sleeper), on_sample_(std::move(on_sample)), on_state_(std::move(on_state)),
      sun_is_down_(std::move(sun_is_down)) {}

Poller::~Poller() = default;

void Poller::add_device(DeviceConfig config) {
    auto d = std::make_unique<Device>();
    d->once_blocks = config.model->blocks(PollClass::once);
    d->fast_blocks = config.model->blocks(PollClass::fast);
    d->slow_blocks = config.model->blocks(PollClass::slow);
    d->status.id = config.id;
    d->plausibility = Plausibility(config.rating);
    d->next_due = clock_.now();
    d->status.next_poll = d->next_due;
    d->config = std::move(config);
    devices_.push_back(std::move(d));
}

TimePoint Poller::poll_due() {
    for (auto& d : devices_) {
        const TimePoint now = clock_.now();
        // Due further ahead than any interval of the device: the wall clock stepped back (NTP correcting a
        // clock that ran fast). Poll now rather than wait for the clock to catch up with the old schedule.
        const auto& iv = d->config.intervals;
        const Millis longest = std::max({iv.fast, iv.slow, iv.asleep, iv.offline_max});
        if (d->next_due > now + longest) d->next_due = now;
        if (d->next_slow && *d->next_slow > now + longest) d->next_slow.reset();
        if (now >= d->next_due) poll_device(*d, now);
    }
    TimePoint next = TimePoint::max();
    for (const auto& d : devices_) next = std::min(next, d->next_due);
    return devices_.empty() ? clock_.now() + Millis{1000} : next;
}

void Poller::run(std::stop_token stop, Millis stop_check) {
    while (!stop.stop_requested()) {
        const TimePoint next = poll_due();
        while (!stop.stop_requested()) {
            const TimePoint now = clock_.now();
            if (now >= next) break;
            sleeper_.sleep_for(std::min(std::chrono::duration_cast<Millis>(next - now), stop_check));
        }
    }
}

std::vector<DeviceStatus> Poller::status() const {
    std::vector<DeviceStatus> out;
    for (const auto& d : devices_) {
        std::lock_guard lock(d->status_mutex);
        out.push_back(d->status);
    }
    return out;
}

std::optional<DeviceStatus> Poller::status(std::string_view id) const {
    for (const auto& d : devices_) {
        if (d->config.id == id) {
            std::lock_guard lock(d->status_mutex);
            return d->status;
        }
    }
    return std::nullopt;
}

void Poller::set_state(Device& d, DeviceState next, const std::string& why) {
    DeviceState prev;
    {
        std::lock_guard lock(d.status_mutex);
        prev = d.status.state;
        d.status.state = next;
    }
    if (prev == next) return;
    if (next == DeviceState::map_error) {
        PVF_LOG(error, "acquisition", d.config.id << ": register map does not fit the device: " << why);
    } else if (next == DeviceState::offline) {
        PVF_LOG(warn, "acquisition", d.config.id << ": offline: " << why);
    } else {
        PVF_LOG(info, "acquisition", d.config.id << ": " << to_string(prev) << " -> " << to_string(next)
                                                 << (why.empty() ? "" : ": ") << why);
    }
    if (on_state_) on_state_(d.config.id, prev, next, why);
}

void Poller::poll_device(Device& d, TimePoint now) {
    auto& model = *d.config.model;
    auto read_class = [&](PollClass cls, const std::vector<ReadBlock>& blocks) -> Result<Reading> {
        auto words = read_blocks(*d.config.bus, d.config.unit, blocks);
        if (!words) return words.error();
        auto decoded = model.decode(cls, *words);
        if (!decoded) return decoded.error();
        Reading reading = std::move(decoded).value();
        // Values the device cannot physically report are never readings (plausibility.hpp).
        if (d.plausibility.filter(reading, now) > 0) {
            for (const auto& [name, v] : reading.implausible)
                PVF_LOG(debug, "acquisition", d.config.id << ": " << name << " " << v << " implausible, dropped");
        }
        // Lifetime energy counters only move forward; a reading that goes back is left out and flagged.
        for (auto it = reading.values.begin(); it != reading.values.end();) {
            if (MonotonicCounters::is_lifetime_counter(it->first)) {
                const auto verdict = d.counters.check(it->first, it->second);
                if (verdict == MonotonicCounters::Verdict::dropped) {
                    PVF_LOG(debug, "acquisition", d.config.id << ": " << it->first << " " << it->second
                                                              << " below last " << d.counters.last(it->first).value_or(0)
                                                              << ", ignored");
                    add_event(reading, "energy_counter_glitch");
                    it = reading.values.erase(it);
                    continue;
                }
                if (verdict == MonotonicCounters::Verdict::rebased) {
                    PVF_LOG(warn, "acquisition", d.config.id << ": " << it->first << " restarted at " << it->second
                                                             << " (counter reset or device replaced)");
                    add_event(reading, "energy_counter_rebased");
                }
            }
            ++it;
        }
        return reading;
    };

    const auto& iv = d.config.intervals;
    std::map<std::string, double, std::less<>> implausible;  // refused in this poll (carried values have none)
    auto take_implausible = [&implausible](Reading& r) {
        implausible.merge(r.implausible);
        r.implausible.clear();
    };
    if (!d.once_values && !d.once_blocks.empty()) {
        auto once = read_class(PollClass::once, d.once_blocks);
        if (!once) return on_failure(d, now, once.error());
        d.once_values = std::move(once).value();
        take_implausible(*d.once_values);
    }
    auto fast = read_class(PollClass::fast, d.fast_blocks);
    if (!fast) return on_failure(d, now, fast.error());
    if (!d.slow_blocks.empty() && (!d.next_slow || now >= *d.next_slow)) {
        auto slow = read_class(PollClass::slow, d.slow_blocks);
        if (!slow) return on_failure(d, now, slow.error());
        d.slow_values = std::move(slow).value();
        take_implausible(*d.slow_values);
        d.slow_read_at = now;
        d.next_slow = now + iv.slow;
    }
    if (d.slow_values && now - d.slow_read_at > 2 * iv.slow) d.slow_values.reset();

    domain::Sample sample = std::move(fast).value();
    sample.device_id = d.config.id;
    sample.t = now;
    if (d.slow_values) merge_into(sample, *d.slow_values);
    if (d.once_values) merge_into(sample, *d.once_values);
    sample.implausible.merge(implausible);

    const bool resting = sample.state && domain::is_resting(*sample.state);
    set_state(d, resting ? DeviceState::asleep : DeviceState::ok,
              resting ? "device reports " + std::string(domain::to_string(*sample.state)) : "");
    const Millis interval = resting ? std::max(iv.fast, std::min(iv.asleep, iv.slow)) : iv.fast;
    TimePoint next = d.next_due + interval;
    if (next <= now) next = now + interval;  // fell behind (slow bus): do not burst to catch up
    d.next_due = next;
    {
        std::lock_guard lock(d.status_mutex);
        d.status.last_ok = now;
        d.status.failures_in_row = 0;
        d.status.last_error.clear();
        d.status.next_poll = d.next_due;
    }
    if (on_sample_) on_sample_(sample);
}

void Poller::on_failure(Device& d, TimePoint now, const Error& error) {
    const auto& iv = d.config.intervals;
    // Nothing read before the failure is republished after it.
    d.slow_values.reset();
    d.once_values.reset();
    d.next_slow.reset();
    int failures = 0;
    {
        std::lock_guard lock(d.status_mutex);
        failures = ++d.status.failures_in_row;
        d.status.last_error = error.message;
    }
    Millis wait = iv.fast;
    switch (error.kind) {
        case ErrorKind::rejected:
        case ErrorKind::invalid:
        case ErrorKind::unsupported:
            set_state(d, DeviceState::map_error, error.message);
            wait = std::max(iv.fast, iv.slow);
            break;
        case ErrorKind::busy:
            break;  // it is alive; ask again at the next regular poll
        default:
            if (sun_is_down_ && sun_is_down_(now)) {
                set_state(d, DeviceState::asleep, "no answer after sunset");
                wait = std::max(iv.fast, iv.asleep);
            } else if (failures >= iv.failures_before_offline) {
                set_state(d, DeviceState::offline, error.message);
                const int shift = std::min(failures - iv.failures_before_offline, 20);
                wait = std::min<Millis>(iv.fast * (Millis::rep{1} << shift), std::max(iv.fast, iv.offline_max));
            }
            break;
    }
    d.next_due = now + wait;
    std::lock_guard lock(d.status_mutex);
    d.status.next_poll = d.next_due;
}

}  // namespace pvfleet::acquisition
