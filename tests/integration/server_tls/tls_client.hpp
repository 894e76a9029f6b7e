#pragma once
// A blocking HTTPS/1.1 client for the server's TLS tests (Asio SSL + Beast): one connection that can carry
// several requests (keep-alive), the protocol versions it offers, and the certificate the server presented.
#include <map>
#include <memory>
#include <string>

namespace pvfleet::itest {

struct TlsClientOptions {
    int min_version = 0;  // OpenSSL version constants (TLS1_2_VERSION …); 0: library default
    int max_version = 0;
    std::string ca_file;  // verify the server against this certificate (and 127.0.0.1); empty: no verification
};

struct TlsReply {
    int status = 0;  // 0: no response (see error)
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased
    [[nodiscard]] std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

class TlsClient {
public:
    explicit TlsClient(TlsClientOptions options = {});
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    // TCP connect and TLS handshake to 127.0.0.1:port; false with error() set when either fails.
    bool connect(int port);
    TlsReply request(const std::string& method, const std::string& target, const std::string& body = {},
                     const std::map<std::string, std::string>& headers = {});
    [[nodiscard]] const std::string& error() const { return error_; }
    // The server certificate's subject ("CN=…") and the negotiated protocol ("TLSv1.3").
    [[nodiscard]] std::string peer_subject() const;
    [[nodiscard]] std::string protocol() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    TlsClientOptions options_;
    std::string error_;
};

}  // namespace pvfleet::itest
