#pragma once
// A small HTTP/1.1 server (Beast, C++20 coroutines, one strand per connection) in front of LocalUi, on the
// agent's executor. Requests are parsed with a body limit and an idle timeout; everything else is LocalUi's.
#include <boost/asio/any_io_executor.hpp>
#include <memory>
#include <string>

#include "pvfleet/local_ui/local_ui.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::local_ui {

struct HttpServerOptions {
    std::string address = "0.0.0.0";
    int port = 8090;                      // 0: any free port (tests); port() tells which
    std::size_t body_limit = 256 * 1024;  // a site config is a few kB
};

class HttpServer {
public:
    // Binds and listens (errors name local_ui/listen); start() accepts.
    static Result<std::unique_ptr<HttpServer>> create(boost::asio::any_io_executor executor,
                                                      HttpServerOptions options, LocalUi& ui);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;
    void start();
    // Closes the listener and every open connection.
    void stop();
    [[nodiscard]] int port() const;
    [[nodiscard]] std::string address() const;

    struct Impl;

private:
    explicit HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<Impl> impl_;
};

}  // namespace pvfleet::local_ui
