// The package's download: HTTPS GET over Beast/OpenSSL (the server's certificate and name verified, as for
// enrollment), resumed from the bytes already in the partial file with one Range request.
#include <openssl/ssl.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <stdexcept>

#include "pvfleet/update/update.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::update {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct Url {
    std::string host, port = "443", target;
};

Result<Url> parse_url(const std::string& url) {
    constexpr std::string_view kScheme = "https://";
    if (url.rfind(kScheme, 0) != 0) return Error::at("url", "not an https:// URL");
    const std::string rest = url.substr(kScheme.size());
    const auto slash = rest.find('/');
    if (slash == std::string::npos) return Error::at("url", "no path");
    Url u;
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

struct Transfer {
    std::string stage = "connecting";
    std::uint64_t received = 0;
    int status = 0;
    std::string error;
    bool done = false;
};

asio::awaitable<void> fetch(asio::ssl::context& ctx, Url url, std::string etag, fs::path partial,
                            std::uint64_t size, Transfer& out) {
    auto ex = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(ex);
    const auto endpoints = co_await resolver.async_resolve(url.host, url.port, asio::use_awaitable);
    beast::ssl_stream<beast::tcp_stream> stream(ex, ctx);
    if (SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str()) != 1)
        throw std::runtime_error("the server name cannot be sent (SNI)");
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    out.stage = "checking the server's certificate";
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    std::error_code fec;
    const std::uint64_t have = fs::exists(partial) ? fs::file_size(partial, fec) : 0;
    out.stage = "sending the request";
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, url.target, 11};
    req.set(bhttp::field::host, url.port == "443" ? url.host : url.host + ":" + url.port);
    req.set(bhttp::field::user_agent, "pvfleet-edge update");
    if (have > 0 && have < size) {
        req.set(bhttp::field::range, "bytes=" + std::to_string(have) + "-");
        req.set(bhttp::field::if_range, etag);
    }
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    out.stage = "reading the answer";
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::file_body> parser;
    parser.body_limit(size + 1);
    co_await bhttp::async_read_header(stream, buffer, parser, asio::use_awaitable);
    out.status = static_cast<int>(parser.get().result_int());
    beast::error_code ec;
    if (out.status == 206) {
        parser.get().body().open(partial.c_str(), beast::file_mode::append, ec);
    } else if (out.status == 200) {
        parser.get().body().open(partial.c_str(), beast::file_mode::write, ec);  // starts over
    } else {
        out.error = "the server answered " + std::to_string(out.status);
        co_return;
    }
    if (ec) throw std::runtime_error("'" + partial.string() + "': " + ec.message());
    out.stage = "downloading";
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
    out.received = parser.content_length().value_or(0);
    out.done = true;
    beast::get_lowest_layer(stream).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
}

}  // namespace

Result<std::uint64_t> download(const Request& r, const fs::path& partial, const DownloadOptions& options) {
    PVF_TRY(const Url url, parse_url(r.url));
    std::error_code fec;
    fs::create_directories(partial.parent_path(), fec);
    if (fs::exists(partial) && fs::file_size(partial, fec) > r.size) fs::remove(partial, fec);  // not this file
    if (fs::exists(partial) && fs::file_size(partial, fec) == r.size) return std::uint64_t{0};
    asio::ssl::context ctx(asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
    ctx.set_verify_mode(asio::ssl::verify_peer);
    beast::error_code ec;
    if (!options.ca_file.empty())
        ctx.load_verify_file(options.ca_file, ec);
    else
        ctx.set_default_verify_paths(ec);
    if (ec) return Error{"the CA certificates cannot be loaded: " + ec.message(), ErrorKind::not_found};
    asio::io_context ioc;
    Transfer out;
    std::exception_ptr failure;
    asio::co_spawn(ioc, fetch(ctx, url, "\"" + r.sha256 + "\"", partial, r.size, out),
                   [&](std::exception_ptr e) { failure = e; });
    ioc.run_for(options.timeout);
    const std::string where = "https://" + url.host + ":" + url.port;
    if (failure) {
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            return Error{where + ": " + out.stage + ": " + e.what(), ErrorKind::io};
        }
    }
    if (!out.error.empty()) return Error{where + ": " + out.error, ErrorKind::rejected};
    if (!out.done)
        return Error{where + ": not finished within " + std::to_string(options.timeout.count()) + " s (" + out.stage + ")",
                     ErrorKind::timeout};
    return out.received;
}

}  // namespace pvfleet::update
