// The package's download: an HTTPS GET (https_client.hpp: the server's certificate and name verified),
// resumed from the bytes already in the partial file with one Range request.
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

#include "pvfleet/update/https_client.hpp"
#include "pvfleet/update/update.hpp"

namespace pvfleet::update {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct Transfer {
    std::uint64_t received = 0;
    int status = 0;
    std::string error;
};

asio::awaitable<void> fetch(TlsStream& stream, std::string& stage, const HttpsUrl& url,
                            const std::string& etag, const fs::path& partial, std::uint64_t size,
                            Transfer& out) {
    std::error_code fec;
    const std::uint64_t have = fs::exists(partial) ? fs::file_size(partial, fec) : 0;
    stage = "sending the request";
    bhttp::request<bhttp::empty_body> req{bhttp::verb::get, url.target, 11};
    req.set(bhttp::field::host, url.host_header());
    req.set(bhttp::field::user_agent, "pvfleet-edge update");
    if (have > 0 && have < size) {
        req.set(bhttp::field::range, "bytes=" + std::to_string(have) + "-");
        req.set(bhttp::field::if_range, etag);
    }
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    stage = "reading the answer";
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
    stage = "downloading";
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
    out.received = parser.content_length().value_or(0);
}

}  // namespace

Result<std::uint64_t> download(const Request& r, const fs::path& partial, const DownloadOptions& options) {
    PVF_TRY(const HttpsUrl url, parse_https_url(r.url));
    std::error_code fec;
    fs::create_directories(partial.parent_path(), fec);
    if (fs::exists(partial) && fs::file_size(partial, fec) > r.size)
        fs::remove(partial, fec);  // not this file
    if (fs::exists(partial) && fs::file_size(partial, fec) == r.size) return std::uint64_t{0};
    Transfer out;
    const std::string etag = "\"" + r.sha256 + "\"";
    const HttpsExchange exchange = [&](TlsStream& stream, std::string& stage) {
        return fetch(stream, stage, url, etag, partial, r.size, out);
    };
    PVF_CHECK(run_https(url, options.ca_file, options.timeout, exchange));
    if (!out.error.empty())
        return Error{"https://" + url.host + ":" + url.port + ": " + out.error, ErrorKind::rejected};
    return out.received;
}

}  // namespace pvfleet::update
