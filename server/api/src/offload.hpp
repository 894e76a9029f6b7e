#pragma once
// CPU-heavy work of a route (password hashing) on the API's worker pool, so the thread serving every request
// stays free; without a pool (tests, tools) it runs right here.
#include <boost/asio/awaitable.hpp>
#include <type_traits>

#include "pvfleet/api/api.hpp"
#include "pvfleet/http/work_pool.hpp"

namespace pvfleet::api::detail {

template <typename Fn>
boost::asio::awaitable<Result<std::invoke_result_t<Fn&>>> offload(const ApiContext& ctx, Fn fn) {
    if (ctx.work_pool == nullptr) return http::WorkPool::run_here(std::move(fn));
    return ctx.work_pool->run(std::move(fn));
}

// 503 with Retry-After: the pool's queue is full.
inline Response busy(const Error& e) {
    Response r = problem(503, "Service Unavailable", e.message);
    r.headers.emplace("Retry-After", std::to_string(http::WorkPool::kRetryAfterSeconds));
    return r;
}

}  // namespace pvfleet::api::detail
