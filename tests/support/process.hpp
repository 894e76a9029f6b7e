#pragma once
// Child processes for integration tests (simulator, mosquitto, agents), and free loopback ports.
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace pvfleet::test {

// A port that was free a moment ago on 127.0.0.1 (bind to port 0, read it back, close).
int free_tcp_port();

// True once something accepts TCP connections on 127.0.0.1:port, false after the timeout.
bool wait_for_tcp_port(int port, std::chrono::milliseconds timeout);
// Waits for a line starting with `prefix` in a child's log file and returns the rest of it ("" on timeout).
std::string wait_for_log_line(const std::filesystem::path& log, const std::string& prefix,
                              std::chrono::milliseconds timeout = std::chrono::seconds(20));

// A child process; its stdout and stderr go to `log_path` (or are inherited when empty).
// The destructor sends SIGTERM, waits briefly, then SIGKILL: no orphan outlives a test.
class ChildProcess {
public:
    ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path = {},
                 std::vector<std::string> extra_env = {});
    ~ChildProcess();
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    [[nodiscard]] int pid() const { return pid_; }
    void signal(int sig) const;
    // Exit status once the process ended (code, or 128+signal), nullopt if still running at the deadline.
    std::optional<int> wait(std::chrono::milliseconds timeout);
    [[nodiscard]] bool running();
    // Stops with SIGTERM then SIGKILL after `grace`; returns the exit status.
    int stop(std::chrono::milliseconds grace = std::chrono::milliseconds{3000});

private:
    int pid_ = -1;
    std::optional<int> status_;
};

// Runs a command to completion; returns exit status and captured stdout (stderr inherited).
struct RunResult {
    int status = -1;
    std::string out;
};
RunResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds{60});

// Path of an executable found on PATH or in the usual sbin folders, empty when absent.
std::string find_program(const std::string& name);

}  // namespace pvfleet::test
