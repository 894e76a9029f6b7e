#pragma once
// A blocking HTTP/1.1 client for tests (Boost.Beast over a fresh TCP connection per request).
#include <map>
#include <string>

namespace pvfleet::test {

struct HttpResponse {
    int status = 0;  // 0: connection failed
    std::string body;
    std::map<std::string, std::string> headers;  // names lower-cased
    [[nodiscard]] std::string header(const std::string& lower_name) const {
        auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

HttpResponse http_request(const std::string& host, int port, const std::string& method,
                          const std::string& target, const std::string& body = {},
                          const std::map<std::string, std::string>& headers = {});

}  // namespace pvfleet::test
