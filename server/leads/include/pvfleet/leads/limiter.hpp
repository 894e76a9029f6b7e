#pragma once
// Rate limits of the public capture route: a token bucket per key (a channel, a client address) that holds
// `per_minute` requests and refills at that rate, so a burst of a minute's worth passes and a steady flood is
// held to the rate. The time comes from the caller (an injectable clock). Keys are bounded: when `max_keys`
// buckets exist, full ones are forgotten first (they carry no state worth keeping).
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::leads {

class RateLimiter {
public:
    explicit RateLimiter(int per_minute, std::size_t max_keys = 10'000);
    // Takes one request for `key`: nullopt when it may go on, else how long to wait for the next one.
    std::optional<std::chrono::seconds> take(const std::string& key, TimePoint now);

private:
    struct Bucket {
        double tokens = 0;
        TimePoint at;
    };
    void refill(Bucket& b, TimePoint now) const;
    void forget_full(TimePoint now);

    double per_minute_;
    std::size_t max_keys_;
    std::map<std::string, Bucket> buckets_;
    std::mutex mutex_;  // the API's io_context may run on more than one thread
};

}  // namespace pvfleet::leads
