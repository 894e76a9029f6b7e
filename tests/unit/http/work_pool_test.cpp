// The bounded worker pool: work runs on a worker thread, the awaiting coroutine resumes on its own executor,
// exceptions come back, and beyond threads + queue the pool refuses at once (no unbounded queue).
#include "pvfleet/http/work_pool.hpp"

#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <future>
#include <stdexcept>
#include <thread>

using namespace pvfleet;
namespace asio = boost::asio;

TEST_CASE("work pool: the job runs on a worker, the caller resumes on its own thread") {
    http::WorkPool pool({2, 4});
    asio::io_context io;
    std::thread::id job_thread;
    std::thread::id resumed_on;
    Result<int> result = Error{"not run"};
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            result = co_await pool.run([&] {
                job_thread = std::this_thread::get_id();
                return 41 + 1;
            });
            resumed_on = std::this_thread::get_id();
        },
        asio::detached);
    io.run();
    REQUIRE(result.ok());
    CHECK(*result == 42);
    CHECK(job_thread != std::this_thread::get_id());
    CHECK(resumed_on == std::this_thread::get_id());
    CHECK(pool.in_flight() == 0);
}

TEST_CASE("work pool: an exception in the job is rethrown to the awaiting coroutine") {
    http::WorkPool pool({1, 0});
    asio::io_context io;
    std::string caught;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
            try {
                (void)co_await pool.run([]() -> int { throw std::runtime_error("kdf failed"); });
            } catch (const std::runtime_error& e) {
                caught = e.what();
            }
        },
        asio::detached);
    io.run();
    CHECK(caught == "kdf failed");
    CHECK(pool.in_flight() == 0);
}

TEST_CASE("work pool: full (threads + queue jobs in flight) refuses with busy, then takes work again") {
    http::WorkPool pool({1, 2});
    REQUIRE(pool.limit() == 3);
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    asio::io_context io;
    int finished = 0;
    // Three jobs fill the worker and the queue; they wait until the test releases them.
    for (int i = 0; i < 3; ++i)
        asio::co_spawn(
            io,
            [&]() -> asio::awaitable<void> {
                auto job = [released] {
                    released.wait();
                    return true;
                };
                auto r = co_await pool.run(std::move(job));
                if (r.ok()) ++finished;
            },
            asio::detached);
    // Run until each of the three has handed its job over (each suspends in run()).
    while (pool.in_flight() < 3) io.run_one();
    Result<bool> refused = true;
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { refused = co_await pool.run([] { return true; }); },
        asio::detached);
    while (refused.ok()) io.run_one();
    CHECK(refused.error().kind == ErrorKind::busy);
    CHECK(pool.in_flight() == 3);

    release.set_value();
    io.run();
    CHECK(finished == 3);
    CHECK(pool.in_flight() == 0);
    Result<bool> again = Error{"not run"};
    io.restart();
    asio::co_spawn(
        io, [&]() -> asio::awaitable<void> { again = co_await pool.run([] { return true; }); },
        asio::detached);
    io.run();
    CHECK(again.ok());
}
