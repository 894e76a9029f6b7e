#pragma once
// The HTTP/1.1 transport (Boost.Beast): one coroutine and one strand per connection, keep-alive, a 30-s idle
// timeout, 1 MiB request bodies at most. Each request is handed to a Router on the connection's strand.
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "pvfleet/api/http.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::api {

struct HttpServerOptions {
    std::string address = "127.0.0.1";
    int port = 8080;  // 0: any free port
    std::size_t body_limit = 1024 * 1024;
};

class HttpServer {
public:
    // Binds and listens (errors name the address); requests go to `router`, which must outlive the server.
    static Result<std::unique_ptr<HttpServer>> create(boost::asio::any_io_executor executor,
                                                      HttpServerOptions options, const Router& router);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    void start();
    // Stops accepting and closes open connections. Call on the executor.
    void stop();
    [[nodiscard]] int port() const;

    struct Impl;

private:
    explicit HttpServer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace pvfleet::api
