#include "support/process.hpp"

#include "support/paths.hpp"
#include "support/wait.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace pvfleet::test {
namespace {

int decode_status(int raw) {
    if (WIFEXITED(raw)) return WEXITSTATUS(raw);
    if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
    return -1;
}

// Cross builds: our own executables are ARM binaries and the host has no binfmt handler for them, so they
// run under the emulator ctest uses (PVFLEET_TEST_EMULATOR, space-separated, set by tests/CMakeLists.txt).
std::vector<std::string> with_emulator(std::vector<std::string> argv) {
    const char* emulator = std::getenv("PVFLEET_TEST_EMULATOR");
    if (!emulator || !*emulator || argv.empty()) return argv;
    if (argv[0].rfind(binary_dir().string(), 0) != 0) return argv;  // host program (mosquitto, mbpoll, ...)
    std::vector<std::string> out;
    std::string word;
    for (const char* c = emulator;; ++c) {
        if (*c == ' ' || *c == '\0') {
            if (!word.empty()) out.push_back(word);
            word.clear();
            if (*c == '\0') break;
        } else {
            word += *c;
        }
    }
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
}

std::vector<char*> c_argv(std::vector<std::string>& args) {
    std::vector<char*> out;
    for (auto& a : args) out.push_back(a.data());
    out.push_back(nullptr);
    return out;
}

}  // namespace

int free_tcp_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        throw std::runtime_error("bind to port 0 failed");
    }
    socklen_t len = sizeof addr;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
}

bool wait_for_tcp_port(int port, std::chrono::milliseconds timeout) {
    return wait_until(
        [port] {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            addr.sin_port = htons(static_cast<uint16_t>(port));
            const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
            ::close(fd);
            return ok;
        },
        timeout);
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::filesystem::path log_path,
                           std::vector<std::string> extra_env) {
    argv = with_emulator(std::move(argv));
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    for (auto& e : extra_env) env.push_back(std::move(e));
    auto cargv = c_argv(argv);
    auto cenv = c_argv(env);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        if (!log_path.empty()) {
            const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                ::dup2(fd, 1);
                ::dup2(fd, 2);
                ::close(fd);
            }
        }
        ::execve(cargv[0], cargv.data(), cenv.data());
        std::fprintf(stderr, "exec %s failed: %s\n", cargv[0], std::strerror(errno));
        ::_exit(127);
    }
}

ChildProcess::~ChildProcess() {
    if (pid_ > 0 && !status_) stop();
}

void ChildProcess::signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
    if (status_) return status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int raw = 0;
        const pid_t r = ::waitpid(pid_, &raw, WNOHANG);
        if (r == pid_) {
            status_ = decode_status(raw);
            return status_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
}

bool ChildProcess::running() { return !wait(std::chrono::milliseconds{0}).has_value(); }

int ChildProcess::stop(std::chrono::milliseconds grace) {
    if (status_) return *status_;
    signal(SIGTERM);
    if (auto s = wait(grace)) return *s;
    signal(SIGKILL);
    return wait(std::chrono::seconds{10}).value_or(-1);
}

RunResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
    int pipefd[2];
    if (::pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
    std::vector<std::string> args = with_emulator(argv);
    auto cargv = c_argv(args);
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::dup2(pipefd[1], 1);
        ::close(pipefd[0]);
        ::close(pipefd[1]);
        ::execvp(cargv[0], cargv.data());
        ::_exit(127);
    }
    ::close(pipefd[1]);
    RunResult result;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
        pollfd p{pipefd[0], POLLIN, 0};
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            ::kill(pid, SIGKILL);
            break;
        }
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
        const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
        if (n <= 0) break;
        result.out.append(buf, static_cast<std::size_t>(n));
    }
    ::close(pipefd[0]);
    int raw = 0;
    ::waitpid(pid, &raw, 0);
    result.status = decode_status(raw);
    return result;
}

std::string find_program(const std::string& name) {
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/local/sbin";
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto end = path.find(':', start);
        const std::string dir = path.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!dir.empty()) {
            const auto candidate = std::filesystem::path(dir) / name;
            if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
        }
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return {};
}

}  // namespace pvfleet::test

namespace pvfleet::test {

std::string wait_for_log_line(const std::filesystem::path& log, const std::string& prefix, std::chrono::milliseconds timeout) {
    std::string rest;
    wait_until(
        [&] {
            std::ifstream in(log);
            for (std::string line; std::getline(in, line);) {
                if (line.rfind(prefix, 0) == 0) {
                    rest = line.substr(prefix.size());
                    return true;
                }
            }
            return false;
        },
        timeout);
    return rest;
}

}  // namespace pvfleet::test
