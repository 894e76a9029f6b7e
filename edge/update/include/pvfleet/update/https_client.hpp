#pragma once
// The gateway's HTTPS client to its server, shared by the update download and the log bundle upload:
// TLS 1.2+, the server's certificate verified against one CA file (pki/server-ca.crt beside the site config)
// or the system's trust store, and the URL's host name checked against it (SNI sent). One exchange runs on an
// io_context of its own within a deadline; errors name the server and the stage it reached.
#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>

#include "pvfleet/util/result.hpp"

namespace pvfleet::update {

struct HttpsUrl {
    std::string host, port = "443", target;
    // The Host header's value (the port only when it is not 443).
    [[nodiscard]] std::string host_header() const { return port == "443" ? host : host + ":" + port; }
};
// https://HOST[:PORT]/PATH?QUERY, IPv6 literals in brackets; anything else is refused (errors name "url").
Result<HttpsUrl> parse_https_url(const std::string& url);

// The server's CA: pki/server-ca.crt beside the site config when it exists; "" (the system's trust store)
// else.
std::string server_ca_file(const std::filesystem::path& config_dir);

using TlsStream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
// What an exchange does once the stream is connected and the server verified; it keeps `stage` current, so a
// failure or a timeout says where it stopped ("sending the request", "uploading", …).
using HttpsExchange = std::function<boost::asio::awaitable<void>(TlsStream& stream, std::string& stage)>;

// Connects to `url`, verifies the server (with `ca_file`, or the system's trust store when empty), and runs
// `exchange`, all within `timeout`. Errors: not_found (the CA file cannot be loaded), io (connection, TLS or
// an exception of the exchange: "https://HOST:PORT: STAGE: WHAT"), timeout.
Status run_https(const HttpsUrl& url, const std::string& ca_file, std::chrono::seconds timeout,
                 const HttpsExchange& exchange);

// ---- upload (the log bundle's) ----
struct UploadOptions {
    std::string ca_file;  // the server's CA; empty: the system's trust store
    std::chrono::seconds timeout{std::chrono::minutes(5)};
    std::string content_type = "application/json";
};
// PUTs `body` to `url` in one request. Ok on a 2xx answer; any other answer is `rejected`
// ("https://HOST:PORT: the server answered 413: …" with the start of the answer's text).
Status upload(const std::string& url, std::string body, const UploadOptions& options);

}  // namespace pvfleet::update
