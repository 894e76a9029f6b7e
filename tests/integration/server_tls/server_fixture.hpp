#pragma once
// pvfleet-server runs for the service tests: certificates made with the openssl CLI, a config in a temporary
// folder, a verb run to its end, and `run` as a child process whose port is read from its log.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace pvfleet::itest {

// A self-signed EC P-256 certificate for 127.0.0.1 (subjectAltName) with this CN; the key is mode 0600.
void make_certificate(const std::filesystem::path& cert, const std::filesystem::path& key, const std::string& cn);

void write_file(const std::filesystem::path& path, const std::string& text);

struct Outcome {
    int status = -1;
    std::string output;  // stdout and stderr
};

// Runs pvfleet-server with these arguments to its end.
Outcome run_server_verb(const std::filesystem::path& dir, std::vector<std::string> args, const std::string& name);

// `pvfleet-server run --config CONFIG` as a child process.
class RunningServer {
public:
    RunningServer(const std::filesystem::path& config, const std::filesystem::path& log,
                  std::vector<std::string> env = {});
    // Waits for "http listening on"; false when the server exited first or never listened.
    bool start();
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] std::string log() const;
    // Waits until the log holds `text` `count` times.
    bool wait_for_log(const std::string& text, int count = 1,
                      std::chrono::milliseconds timeout = std::chrono::seconds(20)) const;
    test::ChildProcess& process() { return *proc_; }

private:
    std::filesystem::path log_;
    std::unique_ptr<test::ChildProcess> proc_;
    int port_ = 0;
};

}  // namespace pvfleet::itest
