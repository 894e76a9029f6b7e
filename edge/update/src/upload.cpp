// An upload to the server (a log bundle): one HTTPS PUT over the verified connection of https_client.hpp.
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "pvfleet/update/https_client.hpp"

namespace pvfleet::update {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

constexpr std::size_t kAnswerLimit = 64 * 1024;  // a problem+json answer; never the bundle back
constexpr std::size_t kQuotedAnswer = 300;

asio::awaitable<void> put(TlsStream& stream, std::string& stage, bhttp::request<bhttp::string_body>& req,
                          int& status, std::string& answer) {
    stage = "uploading";
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    stage = "reading the answer";
    beast::flat_buffer buffer;
    bhttp::response_parser<bhttp::string_body> parser;
    parser.body_limit(kAnswerLimit);
    co_await bhttp::async_read(stream, buffer, parser, asio::use_awaitable);
    status = static_cast<int>(parser.get().result_int());
    answer = parser.get().body().substr(0, kQuotedAnswer);
}

}  // namespace

Status upload(const std::string& url, std::string body, const UploadOptions& options) {
    PVF_TRY(const HttpsUrl where, parse_https_url(url));
    bhttp::request<bhttp::string_body> req{bhttp::verb::put, where.target, 11};
    req.set(bhttp::field::host, where.host_header());
    req.set(bhttp::field::user_agent, "pvfleet-edge log-bundle");
    req.set(bhttp::field::content_type, options.content_type);
    req.body() = std::move(body);
    req.prepare_payload();
    int status = 0;
    std::string answer;
    const HttpsExchange exchange = [&](TlsStream& stream, std::string& stage) {
        return put(stream, stage, req, status, answer);
    };
    PVF_CHECK(run_https(where, options.ca_file, options.timeout, exchange));
    if (status < 200 || status > 299)
        return Error{"https://" + where.host + ":" + where.port + ": the server answered " +
                         std::to_string(status) + (answer.empty() ? "" : ": " + answer),
                     ErrorKind::rejected};
    return {};
}

}  // namespace pvfleet::update
