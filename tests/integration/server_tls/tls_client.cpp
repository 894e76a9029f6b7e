#include "tls_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace pvfleet::itest {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

struct TlsClient::Impl {
    asio::io_context ioc;
    asio::ssl::context ctx{asio::ssl::context::tls_client};
    std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream;
    beast::flat_buffer buffer;
};

TlsClient::TlsClient(TlsClientOptions options) : impl_(std::make_unique<Impl>()), options_(std::move(options)) {
    SSL_CTX* native = impl_->ctx.native_handle();
    if (options_.max_version != 0 && options_.max_version < TLS1_2_VERSION) {
        // Let this client offer what OpenSSL 3 refuses by default, so that the refusal is the server's.
        SSL_CTX_set_security_level(native, 0);
        SSL_CTX_set_cipher_list(native, "DEFAULT:@SECLEVEL=0");
    }
    if (options_.min_version != 0) SSL_CTX_set_min_proto_version(native, options_.min_version);
    if (options_.max_version != 0) SSL_CTX_set_max_proto_version(native, options_.max_version);
    if (!options_.ca_file.empty()) {
        impl_->ctx.load_verify_file(options_.ca_file);
        impl_->ctx.set_verify_mode(asio::ssl::verify_peer);
    } else {
        impl_->ctx.set_verify_mode(asio::ssl::verify_none);
    }
}

TlsClient::~TlsClient() = default;

bool TlsClient::connect(int port) {
    try {
        impl_->stream = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(impl_->ioc, impl_->ctx);
        auto& tcp = beast::get_lowest_layer(*impl_->stream);
        tcp.expires_after(std::chrono::seconds(20));
        tcp.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
        if (!options_.ca_file.empty())
            impl_->stream->set_verify_callback(asio::ssl::host_name_verification("127.0.0.1"));
        impl_->stream->handshake(asio::ssl::stream_base::client);
        return true;
    } catch (const std::exception& e) {
        error_ = e.what();
        impl_->stream.reset();
        return false;
    }
}

TlsReply TlsClient::request(const std::string& method, const std::string& target, const std::string& body,
                            const std::map<std::string, std::string>& headers) {
    TlsReply out;
    if (!impl_->stream) return out;
    try {
        bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
        req.set(bhttp::field::host, "127.0.0.1");
        for (const auto& [k, v] : headers) req.set(k, v);
        if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
        beast::get_lowest_layer(*impl_->stream).expires_after(std::chrono::seconds(20));
        bhttp::write(*impl_->stream, req);
        bhttp::response<bhttp::string_body> res;
        bhttp::read(*impl_->stream, impl_->buffer, res);
        out.status = static_cast<int>(res.result_int());
        out.body = res.body();
        for (const auto& f : res) {
            std::string name(f.name_string());
            std::transform(name.begin(), name.end(), name.begin(),
                           [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
            out.headers[name] = std::string(f.value());
        }
    } catch (const std::exception& e) {
        error_ = e.what();
    }
    return out;
}

std::string TlsClient::peer_subject() const {
    if (!impl_->stream) return {};
    X509* cert = SSL_get1_peer_certificate(impl_->stream->native_handle());
    if (cert == nullptr) return {};
    char buf[512];
    X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
    X509_free(cert);
    return buf;
}

std::string TlsClient::protocol() const {
    return impl_->stream ? SSL_get_version(impl_->stream->native_handle()) : std::string();
}

}  // namespace pvfleet::itest
