#include "server_fixture.hpp"

#include <doctest/doctest.h>

#include <fstream>

#include "support/paths.hpp"
#include "support/wait.hpp"

namespace pvfleet::itest {
namespace fs = std::filesystem;

void make_certificate(const fs::path& cert, const fs::path& key, const std::string& cn) {
    // openssl writes progress to stderr: kept in the captured output instead.
    const auto r = test::run_command({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                      "ec_paramgen_curve:P-256", "-nodes", "-days", "2", "-subj", "/CN=" + cn,
                                      "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key.string(), "-out",
                                      cert.string()});
    REQUIRE_MESSAGE(r.status == 0, "openssl req failed for " << cn);
    fs::permissions(key, fs::perms::owner_read | fs::perms::owner_write);
}

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

Outcome run_server_verb(const fs::path& dir, std::vector<std::string> args, const std::string& name) {
    const fs::path log = dir / (name + ".log");
    args.insert(args.begin(), PVFLEET_SERVER_BIN);
    test::ChildProcess proc(args, log);
    const auto status = proc.wait(std::chrono::seconds(60));
    REQUIRE_MESSAGE(status.has_value(), "pvfleet-server " << name << " did not end");
    return {*status, test::read_file(log)};
}

RunningServer::RunningServer(const fs::path& config, const fs::path& log, std::vector<std::string> env)
    : log_(log) {
    proc_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{PVFLEET_SERVER_BIN, "run", "--config", config.string()}, log_, std::move(env));
}

bool RunningServer::start() {
    bool exited = false;
    const bool listening = test::wait_until(
        [&] {
            const std::string text = log();
            const auto p = text.rfind("http listening on ");
            if (p != std::string::npos && text.find('\n', p) != std::string::npos) {
                const auto colon = text.find(':', p + 18);
                port_ = std::stoi(text.substr(colon + 1));
                return true;
            }
            exited = !proc_->running();
            return exited;
        },
        std::chrono::seconds(30), std::chrono::milliseconds(50));
    return listening && !exited && port_ > 0;
}

std::string RunningServer::log() const {
    return fs::exists(log_) ? test::read_file(log_) : std::string();
}

bool RunningServer::wait_for_log(const std::string& text, int count, std::chrono::milliseconds timeout) const {
    return test::wait_until(
        [&] {
            const std::string all = log();
            int seen = 0;
            for (auto p = all.find(text); p != std::string::npos; p = all.find(text, p + 1)) ++seen;
            return seen >= count;
        },
        timeout, std::chrono::milliseconds(50));
}

}  // namespace pvfleet::itest
