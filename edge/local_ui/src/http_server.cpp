#include "pvfleet/local_ui/http_server.hpp"

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

namespace pvfleet::local_ui {
namespace {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kIdleTimeout = std::chrono::seconds(30);
constexpr const char* kLog = "local-ui";
constexpr std::size_t kMaxConnections = 32;  // a site LAN has a handful of phones; more is someone probing

std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}
}  // namespace

// The pattern of server/api's HttpServer (the gateway build has no server/): an accept loop, and one
// coroutine per connection on its own strand. LocalUi itself is not thread-safe: the agent runs its
// io_context on one thread, so every strand's handlers run on that thread too.
struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
    Impl(asio::any_io_executor ex, HttpServerOptions o, LocalUi& u)
        : executor(ex), options(std::move(o)), ui(u), acceptor(ex) {}
    asio::any_io_executor executor;
    HttpServerOptions options;
    LocalUi& ui;
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
            connections.remove_if([](const auto& w) { return w.expired(); });
            if (connections.size() >= kMaxConnections) {
                beast::error_code ignored;
                socket.close(ignored);
                continue;
            }
            auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
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
            http::request_parser<http::string_body> parser;
            parser.body_limit(self->options.body_limit);
            stream->expires_after(kIdleTimeout);
            auto [ec, n] =
                co_await http::async_read(*stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
            (void)n;
            if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
                ec == asio::error::eof)
                break;
            http::response<http::string_body> res;
            bool keep_alive = false;
            if (ec || self->stopped) {
                // Malformed or too large: answer once, then close.
                const bool too_big = ec == http::error::body_limit;
                res.result(too_big ? http::status::payload_too_large : http::status::bad_request);
                res.set(http::field::content_type, "application/json");
                res.body() =
                    too_big ? R"({"error":"request body too large"})" : R"({"error":"malformed request"})";
            } else {
                auto req = parser.release();
                keep_alive = req.keep_alive();
                Request r;
                r.method = std::string(req.method_string());
                r.target = std::string(req.target());
                r.remote = remote;
                for (const auto& f : req) r.headers[lower(f.name_string())] = std::string(f.value());
                r.body = std::move(req.body());
                Response out = self->ui.handle(r);
                res.version(req.version());
                res.result(static_cast<http::status>(out.status));
                if (!out.body.empty() || out.status != 204)
                    res.set(http::field::content_type, out.content_type);
                res.set(http::field::server, "pvfleet-edge");
                for (const auto& [k, v] : out.headers) res.set(k, v);
                if (r.method == "HEAD")
                    res.body().clear();
                else
                    res.body() = std::move(out.body);
            }
            res.keep_alive(keep_alive);
            res.prepare_payload();
            auto [wec, wn] = co_await http::async_write(*stream, res, asio::as_tuple(asio::use_awaitable));
            (void)wn;
            if (wec || !keep_alive) break;
        }
        beast::error_code ignored;
        stream->socket().shutdown(tcp::socket::shutdown_send, ignored);
        stream->close();
    }
};

Result<std::unique_ptr<HttpServer>> HttpServer::create(asio::any_io_executor executor,
                                                       HttpServerOptions options, LocalUi& ui) {
    auto impl = std::make_shared<HttpServer::Impl>(executor, std::move(options), ui);
    beast::error_code ec;
    const auto address = asio::ip::make_address(impl->options.address, ec);
    if (ec) return Error::at("local_ui/listen", "not an IP address: '" + impl->options.address + "'");
    const tcp::endpoint ep(address, static_cast<unsigned short>(impl->options.port));
    impl->acceptor.open(ep.protocol(), ec);
    if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) impl->acceptor.bind(ep, ec);
    if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return Error{"local_ui: cannot listen on " + impl->options.address + ":" +
                         std::to_string(impl->options.port) + ": " + ec.message(),
                     ErrorKind::io};
    return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

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
    return ec ? impl_->options.port : ep.port();
}

std::string HttpServer::address() const {
    return impl_->options.address;
}

}  // namespace pvfleet::local_ui
