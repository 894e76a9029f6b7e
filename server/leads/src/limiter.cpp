#include "pvfleet/leads/limiter.hpp"

#include <algorithm>
#include <cmath>

namespace pvfleet::leads {

RateLimiter::RateLimiter(int per_minute, std::size_t max_keys)
    : per_minute_(std::max(1, per_minute)), max_keys_(std::max<std::size_t>(1, max_keys)) {}

void RateLimiter::refill(Bucket& b, TimePoint now) const {
    if (now <= b.at) return;
    const double minutes = std::chrono::duration<double, std::ratio<60>>(now - b.at).count();
    b.tokens = std::min(per_minute_, b.tokens + minutes * per_minute_);
    b.at = now;
}

void RateLimiter::forget_full(TimePoint now) {
    for (auto it = buckets_.begin(); it != buckets_.end();) {
        refill(it->second, now);
        it = it->second.tokens >= per_minute_ ? buckets_.erase(it) : std::next(it);
    }
}

std::optional<std::chrono::seconds> RateLimiter::take(const std::string& key, TimePoint now) {
    const std::lock_guard lock(mutex_);
    auto it = buckets_.find(key);
    if (it == buckets_.end()) {
        if (buckets_.size() >= max_keys_) forget_full(now);
        // Still full of keys that are all waiting: refuse rather than grow without bound.
        if (buckets_.size() >= max_keys_) return std::chrono::seconds(60);
        it = buckets_.emplace(key, Bucket{per_minute_, now}).first;
    }
    Bucket& b = it->second;
    refill(b, now);
    if (b.tokens >= 1) {
        b.tokens -= 1;
        return std::nullopt;
    }
    const double wait_s = (1 - b.tokens) * 60.0 / per_minute_;
    return std::chrono::seconds(std::max<long long>(1, static_cast<long long>(std::ceil(wait_s))));
}

}  // namespace pvfleet::leads
