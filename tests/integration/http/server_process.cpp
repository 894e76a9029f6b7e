#include "server_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>

#include "support/paths.hpp"
#include "support/wait.hpp"

namespace pvfleet::itest {

ApiServer::ApiServer(std::filesystem::path dir, ApiServerOptions options)
    : dir_(std::move(dir)), log_path_(dir_ / "server.log") {
    std::filesystem::create_directories(dir_);
    std::ofstream conf(dir_ / "server.json");
    conf << "{\"database\": {\"kind\": \"sqlite\", \"path\": \"server.db\"}, \"http\": {\"port\": 0";
    if (options.max_connections > 0) conf << ", \"max_connections\": " << options.max_connections;
    conf << "}";
    if (!options.web_root.empty()) conf << ", \"web_root\": \"" << options.web_root.string() << "\"";
    conf << "}\n";
    conf.close();
    std::vector<std::string> argv = options.prefix;
    for (const char* a : {PVFLEET_SERVER_BIN, "run", "--config"}) argv.emplace_back(a);
    argv.push_back((dir_ / "server.json").string());
    proc_ = std::make_unique<test::ChildProcess>(std::move(argv), log_path_);
}

bool ApiServer::start() {
    bool exited = false;
    const bool listening = test::wait_until(
        [&] {
            const std::string log = this->log();
            const auto p = log.rfind("http listening on ");
            if (p != std::string::npos && log.find('\n', p) != std::string::npos) {
                const auto colon = log.find(':', p + 18);
                port_ = std::stoi(log.substr(colon + 1));
                return true;
            }
            exited = !proc_->running();
            return exited;
        },
        std::chrono::seconds{30}, std::chrono::milliseconds{50});
    return listening && !exited && port_ > 0;
}

std::string ApiServer::log() const {
    return std::filesystem::exists(log_path_) ? test::read_file(log_path_) : std::string();
}

RawConnection::RawConnection(int port, std::chrono::milliseconds timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) close();
}

RawConnection::~RawConnection() {
    close();
}

void RawConnection::close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

bool RawConnection::send(const std::string& bytes) {
    for (std::size_t sent = 0; sent < bytes.size();) {
        const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<std::size_t>(n);
    }
    return true;
}

std::string RawConnection::read_to_close(bool& closed) {
    std::string raw;
    char buf[8192];
    closed = false;
    for (;;) {
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n > 0) {
            raw.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        closed = n == 0 || errno == ECONNRESET;
        return raw;
    }
}

std::string RawReply::header(const std::string& lower_name) const {
    std::string lower_head = head;
    std::transform(lower_head.begin(), lower_head.end(), lower_head.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    const auto p = lower_head.find("\r\n" + lower_name + ":");
    if (p == std::string::npos) return {};
    const auto start = head.find_first_not_of(' ', p + 3 + lower_name.size());
    return head.substr(start, head.find("\r\n", start) - start);
}

RawReply raw_request(int port, const std::string& request) {
    RawReply reply;
    RawConnection c(port);
    if (!c.connected() || !c.send(request)) return reply;
    const std::string raw = c.read_to_close(reply.closed);
    const auto head_end = raw.find("\r\n\r\n");
    if (raw.rfind("HTTP/1.", 0) != 0 || head_end == std::string::npos) return reply;
    reply.status = std::stoi(raw.substr(9, 3));
    reply.head = raw.substr(0, head_end);
    reply.body = raw.substr(head_end + 4);
    return reply;
}

}  // namespace pvfleet::itest
