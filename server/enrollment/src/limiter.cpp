#include "pvfleet/enrollment/limiter.hpp"

#include <algorithm>

namespace pvfleet::enrollment {

RateLimiter::RateLimiter(RateLimits limits) : limits_(limits) {
    limits_.max_entries = std::max<std::size_t>(limits_.max_entries, 1);
}

std::chrono::seconds RateLimiter::wait(const Window& w, TimePoint now) const {
    const auto left = std::chrono::ceil<std::chrono::seconds>(w.start + limits_.window - now);
    return std::max(left, std::chrono::seconds(1));
}

void RateLimiter::make_room(TimePoint now) {
    std::erase_if(addresses_, [&](const auto& e) { return e.second.start + limits_.window <= now; });
    if (addresses_.size() < limits_.max_entries) return;
    const auto oldest = std::min_element(addresses_.begin(), addresses_.end(),
                                         [](const auto& a, const auto& b) { return a.second.start < b.second.start; });
    addresses_.erase(oldest);
}

RateLimiter::Decision RateLimiter::admit(const std::string& address_key, TimePoint now) {
    std::lock_guard lock(mutex_);
    if (global_.start + limits_.window <= now) global_ = Window{now, 0, false};
    auto it = addresses_.find(address_key);
    if (it == addresses_.end()) {
        if (addresses_.size() >= limits_.max_entries) make_room(now);
        it = addresses_.emplace(address_key, Window{now, 0, false}).first;
    } else if (it->second.start + limits_.window <= now) {
        it->second = Window{now, 0, false};
    }
    Window& mine = it->second;
    Decision d;
    if (mine.attempts >= limits_.per_address) {
        d.allowed = false;
        d.retry_after = wait(mine, now);
    } else if (global_.attempts >= limits_.global) {
        d.allowed = false;
        d.retry_after = wait(global_, now);
    }
    if (!d.allowed) {
        d.first_refusal = !mine.refusal_reported;
        mine.refusal_reported = true;
        return d;
    }
    ++mine.attempts;
    ++global_.attempts;
    return d;
}

}  // namespace pvfleet::enrollment
