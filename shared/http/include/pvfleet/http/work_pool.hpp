#pragma once
// A few worker threads for CPU-heavy work (password hashing) that must not stall the single thread serving
// HTTP. A coroutine co_awaits run(fn): fn runs on a worker and the coroutine resumes on its own executor.
// The pool is bounded: beyond `threads + queue_limit` jobs in flight, run refuses at once with
// ErrorKind::busy (the API answers 503) instead of queueing without end.
#include <atomic>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstddef>
#include <exception>
#include <string>
#include <type_traits>
#include <utility>

#include "pvfleet/util/result.hpp"

namespace pvfleet::http {

struct WorkPoolOptions {
    std::size_t threads = 2;       // config http/worker_threads
    std::size_t queue_limit = 32;  // jobs waiting for a thread; config http/worker_queue
};

class WorkPool {
public:
    explicit WorkPool(WorkPoolOptions options);
    // Waits for the jobs in flight (each short) and joins the threads. Destroy it before the io_context
    // whose coroutines await it.
    ~WorkPool();
    WorkPool(const WorkPool&) = delete;
    WorkPool& operator=(const WorkPool&) = delete;

    // fn() on a worker thread; its exception is rethrown in the awaiting coroutine. fn must not touch
    // state owned by the caller's executor (a database connection, the router): hand it copies.
    // GCC 12 destroys a lambda with captures twice when it is written inside a co_await expression: name it
    // first (`auto job = [...] {...}; co_await pool.run(std::move(job));`).
    template <typename Fn>
    boost::asio::awaitable<Result<std::invoke_result_t<Fn&>>> run(Fn fn) {
        using T = std::invoke_result_t<Fn&>;
        return boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                           void(std::exception_ptr, Result<T>)>(
            [this](auto handler, Fn job) {
                if (!try_acquire()) {
                    complete(std::move(handler), nullptr,
                             Result<T>(Error{"the server is busy (" + std::to_string(limit_) +
                                                 " jobs in flight); try again",
                                             ErrorKind::busy}));
                    return;
                }
                boost::asio::post(pool_,
                                  [this, handler = std::move(handler), job = std::move(job)]() mutable {
                                      auto [failure, value] = invoke(std::move(job));
                                      in_flight_.fetch_sub(1);
                                      complete(std::move(handler), failure, std::move(value));
                                  });
            },
            boost::asio::use_awaitable, std::move(fn));
    }

    // As run(), but fn() runs right here (no pool: tests, tools).
    template <typename Fn>
    static boost::asio::awaitable<Result<std::invoke_result_t<Fn&>>> run_here(Fn fn) {
        using T = std::invoke_result_t<Fn&>;
        return boost::asio::async_initiate<decltype(boost::asio::use_awaitable),
                                           void(std::exception_ptr, Result<T>)>(
            [](auto handler, Fn job) {
                auto [failure, value] = invoke(std::move(job));
                complete(std::move(handler), failure, std::move(value));
            },
            boost::asio::use_awaitable, std::move(fn));
    }

    [[nodiscard]] std::size_t in_flight() const { return in_flight_.load(); }
    [[nodiscard]] std::size_t limit() const { return limit_; }
    // Seconds a refused client should wait before retrying (Retry-After).
    static constexpr int kRetryAfterSeconds = 1;

private:
    // Calls the job and destroys it (with whatever it captured) before the caller resumes.
    template <typename Fn>
    static std::pair<std::exception_ptr, Result<std::invoke_result_t<Fn&>>> invoke(Fn job) {
        using T = std::invoke_result_t<Fn&>;
        try {
            Fn local = std::move(job);
            return {nullptr, Result<T>(local())};
        } catch (...) {
            return {std::current_exception(), Result<T>(Error{"failed", ErrorKind::io})};
        }
    }
    // Hands the outcome to the awaiting coroutine on its own executor.
    template <typename Handler, typename T>
    static void complete(Handler handler, std::exception_ptr failure, Result<T> value) {
        auto executor = boost::asio::get_associated_executor(handler);
        boost::asio::post(executor,
                          [handler = std::move(handler), failure, value = std::move(value)]() mutable {
                              std::move(handler)(failure, std::move(value));
                          });
    }
    bool try_acquire();

    std::size_t limit_;
    std::atomic<std::size_t> in_flight_{0};
    boost::asio::thread_pool pool_;
};

}  // namespace pvfleet::http
