#pragma once
// A raw-socket HTTP client for the local page's integration tests (one request per connection), and waits on
// the agent's log and the page's jobs.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "support/wait.hpp"

namespace pvfleet::test {

using namespace std::chrono_literals;
using nlohmann::json;

struct HttpReply {
    int status = 0;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

// One request per connection (Connection: close), read to EOF: all a test needs, no client library.
inline HttpReply http(int port, const std::string& method, const std::string& path, const std::string& body = "",
               const std::string& cookie = "") {
    HttpReply reply;
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!cookie.empty()) req += "Cookie: " + cookie + "\r\n";
    if (method == "POST")
        req += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    for (size_t sent = 0; sent < req.size();) {
        const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        REQUIRE(n > 0);
        sent += static_cast<size_t>(n);
    }
    std::string raw;
    char buf[8192];
    for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) raw.append(buf, static_cast<size_t>(n));
    ::close(fd);
    const auto head_end = raw.find("\r\n\r\n");
    REQUIRE_MESSAGE(head_end != std::string::npos, raw);
    reply.status = std::stoi(raw.substr(9, 3));
    std::istringstream head(raw.substr(0, head_end));
    std::string line;
    std::getline(head, line);
    while (std::getline(head, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const auto colon = line.find(':');
        if (colon == std::string::npos) continue;
        std::string name = line.substr(0, colon);
        for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        reply.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    reply.body = raw.substr(head_end + 4);
    return reply;
}

inline std::string find_after(const std::filesystem::path& log, const std::string& marker,
                       std::chrono::seconds timeout) {
    std::string found;
    test::wait_until(
        [&] {
            std::ifstream in(log);  // the child may not have created it yet
            const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (auto at = text.find(marker); at != std::string::npos) {
                const auto end = text.find_first_of(" \n", at + marker.size());
                if (end != std::string::npos) found = text.substr(at + marker.size(), end - at - marker.size());
            }
            return !found.empty();
        },
        timeout, 50ms);
    return found;
}

inline json wait_for_job(int port, const std::string& cookie, HttpReply started, std::chrono::seconds timeout) {
    REQUIRE_MESSAGE(started.status == 202, started.body);
    auto job = json::parse(started.body);
    const std::string id = job["id"].get<std::string>();
    test::wait_until(
        [&] {
            if (job["state"] != "running") return true;
            job = json::parse(http(port, "GET", "/local/api/jobs/" + id, "", cookie).body);
            return job["state"] != "running";
        },
        timeout, 200ms);
    return job;
}


}  // namespace pvfleet::test
