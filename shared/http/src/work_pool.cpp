#include "pvfleet/http/work_pool.hpp"

#include <algorithm>

namespace pvfleet::http {

WorkPool::WorkPool(WorkPoolOptions options)
    : limit_(std::max<std::size_t>(options.threads, 1) + options.queue_limit),
      pool_(std::max<std::size_t>(options.threads, 1)) {}

WorkPool::~WorkPool() {
    pool_.join();
}

bool WorkPool::try_acquire() {
    std::size_t now = in_flight_.load();
    while (now < limit_)
        if (in_flight_.compare_exchange_weak(now, now + 1)) return true;
    return false;
}

}  // namespace pvfleet::http
