// Async routes through the synchronous Router::handle (a private io_context), the `after` hook on every
// response, and exceptions in a coroutine handler becoming a 500 without internals.
#include <doctest/doctest.h>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <stdexcept>

#include "pvfleet/http/http.hpp"

using namespace pvfleet::http;
namespace asio = boost::asio;

namespace {
Request request(std::string method, std::string path) {
    Request r;
    r.method = std::move(method);
    r.path = std::move(path);
    r.target = r.path;
    return r;
}
}  // namespace

TEST_CASE("router: an async route runs to completion through handle(), with before and after") {
    Router router;
    int before_calls = 0;
    router.before = [&](Request&, const Route&) -> Checked<> {
        ++before_calls;
        return {};
    };
    router.after = [](const Request&, Response& r) { r.headers.emplace("X-After", "yes"); };
    router.add_async("GET", "/api/things/{id}", {"a thing", {}, "t"},
                     [](Request& req) -> asio::awaitable<Response> {
                         // Suspends once: the handler really is resumed by an executor, not run inline.
                         co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
                         co_return json_response(200, {{"id", req.params.at("id")}});
                     });
    router.add("GET", "/api/plain", {"plain", {}, "t"}, [](Request&) {
        return json_response(200, {{"ok", 1}});
    });

    auto r = request("GET", "/api/things/42");
    const Response out = router.handle(r);
    CHECK(out.status == 200);
    CHECK(out.body == R"({"id":"42"})");
    CHECK(out.headers.at("X-After") == "yes");
    CHECK(before_calls == 1);

    auto p = request("GET", "/api/plain");
    CHECK(router.handle(p).headers.at("X-After") == "yes");
    auto missing = request("GET", "/api/none");
    const Response nf = router.handle(missing);
    CHECK(nf.status == 404);
    CHECK(nf.headers.at("X-After") == "yes");  // every response, not only the routes'
    auto wrong_method = request("POST", "/api/things/1");
    CHECK(router.handle(wrong_method).status == 405);
}

TEST_CASE("router: an exception in an async handler is a 500 without its message") {
    Router router;
    router.add_async("GET", "/api/boom", {"boom", {}, "t"}, [](Request& req) -> asio::awaitable<Response> {
        co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
        if (req.path == "/api/boom") throw std::runtime_error("secret internals");
        co_return json_response(200, {});
    });
    auto r = request("GET", "/api/boom");
    const Response out = router.handle(r);
    CHECK(out.status == 500);
    CHECK(out.body.find("secret") == std::string::npos);
}
