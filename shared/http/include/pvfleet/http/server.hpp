#pragma once
// The HTTP/1.1 transport (Boost.Beast): one coroutine and one strand per connection, keep-alive, a 30-s idle
// timeout, a request body limit. Each request is handed to a handler (a Router, the local page) on the
// connection's strand; the handler must run on that executor's thread (the servers here use one thread). An
// async handler is awaited there, so a request waiting for a worker (WorkPool) does not hold up the others.
//
// What a hostile client meets before a handler runs: the request head must be complete within 10 s (from
// accept, or from the first byte of a kept-alive connection's next request), at most 16 kB (431) with a target of
// at most 8 kB (414); obs-fold, a Transfer-Encoding other than "chunked", and the conflicts Beast's parser
// rejects (Content-Length with Transfer-Encoding, differing Content-Lengths) get 400 and the connection is
// closed. At most max_connections are served at once (never more than the open-file limit allows with 32
// descriptors to spare); beyond that a connection gets a 503 and is closed at once. When accept fails for want
// of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) the loop waits 50 ms, doubling up to 1 s, and logs one line
// per 10 s with the count of the failures it did not log.
//
// With `tls` set the port speaks HTTPS only (tls.hpp: TLS 1.2+): the handshake must complete within the head
// deadline, and a connection over the cap is closed without a reply. reload_tls() reads the files again for new
// connections; open connections keep the context they were accepted with.
#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/http/http.hpp"
#include "pvfleet/http/tls.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::http {

struct HttpServerOptions {
    std::string address = "127.0.0.1";
    int port = 8080;  // 0: any free port
    std::size_t body_limit = 1024 * 1024;
    // A larger limit for some requests (a release upload), from the request line alone; 0 or unset: body_limit.
    std::function<std::size_t(std::string_view method, std::string_view target)> body_limit_for;
    // Where the body of such a request is written as it arrives instead of being held in memory (a new file per
    // request, Request::body_file; removed after the handler returns unless the handler moved it, and when the
    // request fails half-way). Empty: held in memory like any other body.
    std::string spool_dir;
    // Asked with the head alone (method, target, path, query, headers, client address; no body) before a body
    // under a raised limit is read: a response refuses the request at once — nobody streams a large body to
    // disk without a session its route allows — and the connection closes after it (the body read and dropped
    // for a moment, never stored). nullopt: the body is read. Runs on the connection's executor.
    std::function<std::optional<Response>(Request& head)> admit_large_body;
    // Served at once; beyond: 503 and closed. Lowered at start to the open-file limit minus 32 (logged).
    std::size_t max_connections = 512;
    // Set on every response, including the 400/413/414/431/503 the transport writes itself; a header the
    // handler sets wins.
    std::map<std::string, std::string> default_headers = security_headers();
    std::string config_key = "http/listen";  // named in errors
    // Reverse proxies whose X-Forwarded-For names the client (Request::remote; see client_address()).
    std::vector<std::string> trusted_proxies;
    // HTTPS with these files; absent: plain HTTP.
    std::optional<TlsFiles> tls;
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
    [[nodiscard]] bool tls() const;
    // The certificate new connections get (empty without TLS).
    [[nodiscard]] std::string tls_certificate() const;
    // Loads the TLS files again; on success new connections get the new certificate (its description is
    // returned), on failure the current one stays and the error says why. Call on the executor.
    Result<std::string> reload_tls();

    struct Impl;

private:
    explicit HttpServer(std::shared_ptr<Impl> impl);
    std::shared_ptr<Impl> impl_;
};

}  // namespace pvfleet::http
