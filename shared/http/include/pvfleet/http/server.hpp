#pragma once
// The HTTP/1.1 transport (Boost.Beast): one coroutine and one strand per connection, keep-alive, a 30-s idle
// timeout, a request body limit. Each request is handed to a handler (a Router, the local page) on the
// connection's strand; the handler must run on that executor's thread (the servers here use one thread). An
// async handler is awaited there, so a request waiting for a worker (WorkPool) does not hold up the others.
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "pvfleet/http/http.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::http {

struct HttpServerOptions {
    std::string address = "127.0.0.1";
    int port = 8080;  // 0: any free port
    std::size_t body_limit = 1024 * 1024;
    std::string config_key = "http/listen";  // named in errors
};

using RequestHandler = std::function<Response(Request&)>;
using AsyncRequestHandler = std::function<boost::asio::awaitable<Response>(Request&)>;

class HttpServer {
public:
    // Binds and listens (errors name config_key and the address); requests go to `handler`. No request
    // reaches it after stop() or the destructor.
    static Result<std::unique_ptr<HttpServer>> create(boost::asio::any_io_executor executor,
                                                      HttpServerOptions options, RequestHandler handler);
    static Result<std::unique_ptr<HttpServer>> create(boost::asio::any_io_executor executor,
                                                      HttpServerOptions options, AsyncRequestHandler handler);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    void start();
    // Stops accepting and closes open connections. Call on the executor.
    void stop();
    [[nodiscard]] int port() const;
    [[nodiscard]] std::string address() const;

    struct Impl;

private:
    explicit HttpServer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace pvfleet::http
