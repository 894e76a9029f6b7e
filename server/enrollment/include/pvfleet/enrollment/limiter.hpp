#pragma once
// Limits on POST /api/enroll, in memory: every attempt counts (a success too), per client address and for all
// addresses together, in fixed windows. The per-address table holds at most max_entries addresses (windows that
// ended are dropped first, then the oldest). Pure: time is passed in.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::enrollment {

struct RateLimits {
    int per_address = 10;  // attempts from one address (an IPv6 client by its /64) per window
    int global = 1200;     // attempts from all addresses per window (1 000 gateways in 10 minutes pass)
    std::chrono::seconds window{600};
    std::size_t max_entries = 10'000;
};

class RateLimiter {
public:
    explicit RateLimiter(RateLimits limits);

    struct Decision {
        bool allowed = true;
        std::chrono::seconds retry_after{0};
        // The first refusal of this address in its window (audited; the rest only counted).
        bool first_refusal = false;
    };
    Decision admit(const std::string& address_key, TimePoint now);
    [[nodiscard]] const RateLimits& limits() const { return limits_; }

private:
    struct Window {
        TimePoint start{};
        int attempts = 0;
        bool refusal_reported = false;
    };
    void make_room(TimePoint now);
    std::chrono::seconds wait(const Window& w, TimePoint now) const;

    RateLimits limits_;
    std::mutex mutex_;
    std::unordered_map<std::string, Window> addresses_;
    Window global_;
};

}  // namespace pvfleet::enrollment
