#include "pvfleet/http/server.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <list>

#include "pvfleet/util/log.hpp"

namespace pvfleet::http {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr const char* kLog = "http";

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}
}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::any_io_executor ex, HttpServerOptions o, AsyncRequestHandler h)
        : executor(ex), options(std::move(o)), handler(std::move(h)), acceptor(ex) {}
    asio::any_io_executor executor;
    HttpServerOptions options;
    AsyncRequestHandler handler;
    tcp::acceptor acceptor;
    bool stopped = false;
    std::list<std::weak_ptr<beast::tcp_stream>> connections;

    asio::awaitable<void> accept_loop() {
        auto self = shared_from_this();
        while (!stopped) {
            auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(executor),
                                                               asio::as_tuple(asio::use_awaitable));
            if (ec) {
                if (stopped || ec == asio::error::operation_aborted) co_return;
                PVF_LOG(warn, kLog, "accept: " << ec.message());
                continue;
            }
            auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
            connections.remove_if([](const auto& w) { return w.expired(); });
            connections.push_back(stream);
            auto strand = stream->get_executor();
            asio::co_spawn(strand, session(self, stream), asio::detached);
        }
    }

    static asio::awaitable<void> session(std::shared_ptr<Impl> self,
                                         std::shared_ptr<beast::tcp_stream> stream) {
        beast::flat_buffer buffer;
        std::string remote;
        beast::error_code ep_ec;
        const auto ep = stream->socket().remote_endpoint(ep_ec);
        if (!ep_ec) remote = ep.address().to_string();
        for (;;) {
            bhttp::request_parser<bhttp::string_body> parser;
            parser.body_limit(self->options.body_limit);
            stream->expires_after(kIdleTimeout);
            auto [ec, n] =
                co_await bhttp::async_read(*stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
            (void)n;
            if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                ec == asio::error::eof)
                break;
            bhttp::response<bhttp::string_body> res;
            bool keep_alive = false;
            if (ec) {
                // Malformed or too large: answer once, then close.
                const bool too_big = ec == bhttp::error::body_limit;
                Response p = problem(too_big ? 413 : 400, too_big ? "Payload Too Large" : "Bad Request",
                                     too_big ? "request bodies are limited to " +
                                                   std::to_string(self->options.body_limit) + " bytes"
                                             : "malformed HTTP request: " + ec.message());
                res.result(static_cast<bhttp::status>(p.status));
                res.set(bhttp::field::content_type, p.content_type);
                res.body() = std::move(p.body);
            } else {
                auto req = parser.release();
                keep_alive = req.keep_alive();
                Request r;
                r.method = std::string(req.method_string());
                r.target = std::string(req.target());
                r.remote = remote;
                for (const auto& f : req) r.headers[lower(f.name_string())] = std::string(f.value());
                r.body = std::move(req.body());
                Response out;
                if (!parse_target(r.target, r.path, r.query))
                    out = problem(400, "Bad Request", "malformed percent-encoding in the URL");
                else if (self->stopped)
                    break;  // the handler may be gone
                else
                    out = co_await self->handler(r);
                res.version(req.version());
                res.result(static_cast<bhttp::status>(out.status));
                res.set(bhttp::field::content_type, out.content_type);
                res.set(bhttp::field::server, "pvfleet");
                for (const auto& [k, v] : out.headers) res.set(k, v);
                if (r.method == "HEAD")
                    res.body().clear();
                else
                    res.body() = std::move(out.body);
            }
            res.keep_alive(keep_alive);
            res.prepare_payload();
            auto [wec, wn] = co_await bhttp::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
            (void)wn;
            if (wec || !keep_alive) break;
        }
        beast::error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream->close();
    }
};

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor executor,
                                                       HttpServerOptions options, RequestHandler handler) {
    return create(executor, std::move(options),
                  [h = std::move(handler)](Request& r) -> asio::awaitable<Response> { co_return h(r); });
}

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor executor,
                                                       HttpServerOptions options,
                                                       AsyncRequestHandler handler) {
    auto impl = std::make_shared<Impl>(executor, std::move(options), std::move(handler));
    beast::error_code ec;
    const auto address = asio::ip::make_address(impl->options.address, ec);
    if (ec) return Error::at(impl->options.config_key, "not an IP address: '" + impl->options.address + "'");
    const tcp::endpoint ep(address, static_cast<unsigned short>(impl->options.port));
    impl->acceptor.open(ep.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(ep, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return Error{impl->options.config_key + ": cannot listen on " + impl->options.address + ":" +
                         std::to_string(impl->options.port) + ": " + ec.message(),
                     ErrorKind::io};
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
    if (impl_) stop();
}

void HttpServer::start() {
    asio::co_spawn(impl_->executor, impl_->accept_loop(), asio::detached);
}

void HttpServer::stop() {
    impl_->stopped = true;
    beast::error_code ec;
    impl_->acceptor.close(ec);
    for (auto& w : impl_->connections)
        if (auto s = w.lock()) asio::post(s->get_executor(), [s] { s->cancel(); });
    impl_->connections.clear();
}

int HttpServer::port() const {
    beast::error_code ec;
    const auto ep = impl_->acceptor.local_endpoint(ec);
    return ec ? 0 : ep.port();
}
std::string HttpServer::address() const {
    return impl_->options.address;
}

}  // namespace pvfleet::http
