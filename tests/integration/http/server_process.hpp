#pragma once
// pvfleet-server as a child process (API only: no broker) on a free port, and raw-socket HTTP for requests a
// well-behaved client library would never send.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace pvfleet::itest {

struct ApiServerOptions {
    std::filesystem::path web_root;  // empty: the default (the build tree's staged share/pvfleet/web)
    int max_connections = 0;         // 0: the default
    std::vector<std::string> prefix;  // run the server through this (e.g. prlimit --nofile=64:64)
};

class ApiServer {
public:
    ApiServer(std::filesystem::path dir, ApiServerOptions options = {});
    // Starts and waits for "http listening on"; false (see log()) when the server exited or never listened.
    bool start();
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] int pid() const { return proc_ ? proc_->pid() : -1; }
    [[nodiscard]] std::string log() const;
    [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }
    test::ChildProcess& process() { return *proc_; }

private:
    std::filesystem::path dir_;
    std::filesystem::path log_path_;
    std::unique_ptr<test::ChildProcess> proc_;
    int port_ = 0;
};

// A raw TCP connection to 127.0.0.1:port with a receive timeout.
class RawConnection {
public:
    explicit RawConnection(int port, std::chrono::milliseconds timeout = std::chrono::seconds(20));
    ~RawConnection();
    RawConnection(const RawConnection&) = delete;
    RawConnection& operator=(const RawConnection&) = delete;
    [[nodiscard]] bool connected() const { return fd_ >= 0; }
    bool send(const std::string& bytes);
    // Everything until the peer closes (or the timeout, then `closed` is false).
    std::string read_to_close(bool& closed);
    void close();

private:
    int fd_ = -1;
};

struct RawReply {
    int status = 0;  // 0: no HTTP response
    std::string head;
    std::string body;
    bool closed = false;  // the server closed the connection after it
    [[nodiscard]] std::string header(const std::string& lower_name) const;
};

// Sends `request` as is on a fresh connection, reads until the server closes it.
RawReply raw_request(int port, const std::string& request);

}  // namespace pvfleet::itest
