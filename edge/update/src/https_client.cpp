// The gateway's HTTPS exchanges with its server (Beast over OpenSSL): the URL, the verified TLS connection
// and the deadline, shared by the update download and the log bundle upload.
#include "pvfleet/update/https_client.hpp"

#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

#include "pvfleet/util/number.hpp"

namespace pvfleet::update {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;

asio::awaitable<void> connect_and_exchange(asio::ssl::context& ctx, const HttpsUrl& url,
                                           const HttpsExchange& exchange, std::string& stage) {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    const auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
    TlsStream stream(ex, ctx);
    if (SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1)
        throw std::runtime_error("the server name cannot be sent (SNI)");
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    stage = "checking the server's certificate";
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    co_await exchange(stream, stage);
    beast::error_code ec;
    beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace

Result<HttpsUrl> parse_https_url(const std::string& url) {
    constexpr std::string_view kScheme = "https://";
    if (url.rfind(kScheme, 0) != 0) return Error::at("url", "not an https:// URL");
    const std::string rest = url.substr(kScheme.size());
    const auto slash = rest.find('/');
    if (slash == std::string::npos) return Error::at("url", "no path");
    HttpsUrl u;
    std::string authority = rest.substr(0, slash);
    u.target = rest.substr(slash);
    if (!authority.empty() && authority.front() == '[') {
        const auto close = authority.find(']');
        if (close == std::string::npos) return Error::at("url", "unclosed [");
        u.host = authority.substr(1, close - 1);
        if (close + 1 < authority.size() && authority[close + 1] == ':') u.port = authority.substr(close + 2);
    } else if (const auto colon = authority.rfind(':'); colon != std::string::npos) {
        u.host = authority.substr(0, colon);
        u.port = authority.substr(colon + 1);
    } else {
        u.host = authority;
    }
    if (u.host.empty() || !parse_number<int>(u.port)) return Error::at("url", "bad host or port");
    return u;
}

std::string server_ca_file(const std::filesystem::path& config_dir) {
    const auto ca = config_dir / "pki" / "server-ca.crt";
    std::error_code ec;
    return std::filesystem::exists(ca, ec) ? ca.string() : std::string();
}

Status run_https(const HttpsUrl& url, const std::string& ca_file, std::chrono::seconds timeout,
                 const HttpsExchange& exchange) {
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (!ca_file.empty())
        ctx.load_verify_file(ca_file, ec);
    else
        ctx.set_default_verify_paths(ec);
    if (ec) return Error{"the CA certificates cannot be loaded: " + ec.message(), ErrorKind::not_found};
    // Before the io_context: an unfinished exchange's frame, destroyed with it, may still refer to them.
    std::string stage = "connecting";
    bool finished = false;
    std::exception_ptr failure;
    asio::io_context ioc;
    asio::co_spawn(ioc, connect_and_exchange(ctx, url, exchange, stage), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    ioc.run_for(timeout);
    const std::string where = "https://" + url.host + ":" + url.port;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            return Error{where + ": " + stage + ": " + e.what(), ErrorKind::io};
        }
    }
    if (!finished)
        return Error{
            where + ": not finished within " + std::to_string(timeout.count()) + " s (" + stage + ")",
            ErrorKind::timeout};
    return {};
}

}  // namespace pvfleet::update
