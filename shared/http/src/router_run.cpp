// Running a route: the coroutine half of the router, apart from http.cpp so that the parsing and matching code
// there can be built with sanitizers by a compiler that cannot instrument coroutines (clang 14, tests/fuzz).
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>

#include "internal.hpp"
#include "pvfleet/http/http.hpp"

namespace pvfleet::http {

Response Router::handle(Request& request) const {
    const Route* async_route = nullptr;
    Response out = dispatch(request, async_route);
    if (async_route != nullptr) {
        boost::asio::io_context local;
        std::exception_ptr failure;
        boost::asio::co_spawn(local, async_route->async_handler(request),
                              [&](std::exception_ptr e, Response r) {
                                  failure = e;
                                  out = std::move(r);
                              });
        local.run();
        if (failure) out = detail::internal_error(request, failure);
    }
    if (after) after(request, out);
    return out;
}

boost::asio::awaitable<Response> Router::handle_async(Request& request) const {
    const Route* async_route = nullptr;
    Response out = dispatch(request, async_route);
    if (async_route != nullptr) {
        std::exception_ptr failure;
        try {
            out = co_await async_route->async_handler(request);
        } catch (...) {
            failure = std::current_exception();
        }
        if (failure) out = detail::internal_error(request, failure);
    }
    if (after) after(request, out);
    co_return out;
}

}  // namespace pvfleet::http
