// One HTTPS POST with the server's certificate verified (peer chain and host name), over the Asio/Beast/OpenSSL
// the agent already links; the whole exchange is bounded by a deadline.
#include <openssl/ssl.h>

#include <stdexcept>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "pvfleet/enroll/enroll.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::enroll {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

constexpr std::size_t kMaxReplyBytes = 64 * 1024;

struct Exchange {
    std::string stage = "connecting";  // what was under way when it failed or timed out
    std::string error;
    HttpReply reply;
    bool done = false;
};

asio::awaitable<void> exchange(asio::ssl::context& ctx, ServerUrl server, std::string target, std::string body,
                               Exchange& out) {
    auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(executor);
    const auto endpoints = co_await resolver.async_resolve(server.host, server.port, asio::use_awaitable);
    beast::ssl_stream<beast::tcp_stream> stream(executor, ctx);
    // SNI and the host name the certificate must carry (a DNS name or an IP address).
    const std::string host = server.host;
    if (SSL_set_tlsext_host_name(stream.native_handle(), host.c_str()) != 1)
        throw std::runtime_error("the server name cannot be sent (SNI)");
    stream.set_verify_callback(asio::ssl::host_name_verification(host));
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    out.stage = "checking the server's certificate";
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    out.stage = "sending the request";
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, target, 11};
    req.set(bhttp::field::host, server.port == "443" ? host : host + ":" + server.port);
    req.set(bhttp::field::content_type, "application/json");
    req.set(bhttp::field::user_agent, "pvfleet-edge enroll");
    req.body() = std::move(body);
    req.prepare_payload();
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    out.stage = "reading the answer";
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kMaxReplyBytes);
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
    out.reply.status = static_cast<int>(parser.get().result_int());
    out.reply.body = parser.get().body();
    out.done = true;
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace

Result<ServerUrl> parse_server_url(std::string_view url) {
    const auto bad = [&](const std::string& why) {
        return Error::at("--server", "'" + std::string(url) + "': " + why + " (expected https://HOST[:PORT])");
    };
    constexpr std::string_view kScheme = "https://";
    if (url.substr(0, kScheme.size()) != kScheme) return bad("not an https:// address");
    std::string_view rest = url.substr(kScheme.size());
    while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
    if (rest.empty()) return bad("host missing");
    for (const char c : rest)
        if (c == '/' || c == '?' || c == '#' || c == '@' || static_cast<unsigned char>(c) <= ' ')
            return bad("no path, query, user or blanks allowed");
    ServerUrl out;
    std::string_view host = rest;
    std::string_view port;
    if (rest.front() == '[') {
        const auto close = rest.find(']');
        if (close == std::string_view::npos) return bad("unclosed [");
        host = rest.substr(1, close - 1);
        const auto after = rest.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("unexpected text after ]");
            port = after.substr(1);
        }
    } else if (const auto colon = rest.rfind(':'); colon != std::string_view::npos) {
        host = rest.substr(0, colon);
        port = rest.substr(colon + 1);
    }
    if (host.empty()) return bad("host missing");
    out.host = std::string(host);
    if (!port.empty()) {
        const auto n = parse_number<int>(port);
        if (!n || *n < 1 || *n > 65535) return bad("port '" + std::string(port) + "'");
        out.port = std::to_string(*n);
    }
    return out;
}

Result<HttpReply> post_json(const ServerUrl& server, const std::string& target, const std::string& body,
                            const std::string& ca_file, std::chrono::seconds timeout) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (!ca_file.empty())
        ctx.load_verify_file(ca_file, ec);
    else
        ctx.set_default_verify_paths(ec);
    if (ec)
        return Error::at(ca_file.empty() ? "trust store" : "--ca",
                         (ca_file.empty() ? std::string("the system's CA certificates") : "'" + ca_file + "'") +
                             " could not be loaded: " + ec.message(),
                         ErrorKind::not_found);
    asio::io_context ioc;
    Exchange out;
    std::exception_ptr failure;
    asio::co_spawn(ioc, exchange(ctx, server, target, body, out), [&](std::exception_ptr e) { failure = e; });
    ioc.run_for(timeout);
    const std::string where = "https://" + server.host + ":" + server.port;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            std::string what = e.what();
            if (out.stage == "checking the server's certificate")
                what += " (is --ca the CA of the server's HTTPS certificate, and is the gateway's clock set?)";
            return Error{where + ": " + out.stage + ": " + what, ErrorKind::io};
        }
    }
    if (!out.done)
        return Error{where + ": no answer within " + std::to_string(timeout.count()) + " s (" + out.stage + ")",
                     ErrorKind::timeout};
    return out.reply;
}

}  // namespace pvfleet::enroll
