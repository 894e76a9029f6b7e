#include "pvfleet/enrollment/crl.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "pvfleet/enrollment/lifecycle.hpp"
#include "pvfleet/util/file_io.hpp"
#include "pvfleet/util/log.hpp"

extern char** environ;

namespace pvfleet::enrollment {
namespace {

// Runs `command` with /bin/sh -c and waits, at most `timeout` (then kills it); its exit status as an error when
// not 0.
Status run_command(const std::string& command, std::chrono::seconds timeout) {
    const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
    pid_t pid = 0;
    if (const int rc = ::posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char**>(argv), environ); rc != 0)
        return Error{"cannot start '" + command + "': " + std::strerror(rc), ErrorKind::io};
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return Error{"cannot wait for '" + command + "'", ErrorKind::io};
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid, SIGKILL);
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            return Error{"'" + command + "' did not finish in " + std::to_string(timeout.count()) + " s: killed",
                         ErrorKind::io};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return Error{"'" + command + "' failed (status " + std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1) + ")",
                     ErrorKind::io};
    return {};
}

}  // namespace

CrlPublisher::CrlPublisher(std::shared_ptr<const IssuingCa> ca, CrlSettings settings)
    : ca_(std::move(ca)), settings_(std::move(settings)) {}

CrlPublisher::~CrlPublisher() {
    {
        std::lock_guard lock(reload_mutex_);
        stopping_ = true;
    }
    reload_wake_.notify_all();
    if (reload_thread_.joinable()) reload_thread_.join();
}

void CrlPublisher::reload_loop() {
    std::unique_lock lock(reload_mutex_);
    for (;;) {
        reload_wake_.wait(lock, [&] { return reload_asked_ || stopping_; });
        if (!reload_asked_) return;   // stopping, nothing asked
        reload_asked_ = false;
        lock.unlock();
        if (auto s = run_command(settings_.reload_command, kReloadTimeout); !s)
            PVF_LOG(error, "enroll", "CRL written, but the reload command failed: " << s.error().message);
        lock.lock();
        ++reloads_done_;
    }
}

std::uint64_t CrlPublisher::reloads_done() const {
    std::lock_guard lock(reload_mutex_);
    return reloads_done_;
}

Status CrlPublisher::publish(storage::Db& db, TimePoint now) {
    if (settings_.file.empty() || !ca_) return {};
    std::lock_guard lock(mutex_);
    PVF_TRY(auto entries, crl_entries(db, now));
    // The CRL number only grows: seconds since the epoch, at least one more than the last one.
    const std::int64_t number =
        std::max(last_number_ + 1, std::int64_t{std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()});
    // thisUpdate strictly later than the last CRL's (whole seconds): a broker that adds the new CRL to the ones it
    // holds (mosquitto on SIGHUP) uses the newest of an issuer's CRLs, and would keep the old one on a tie.
    TimePoint this_update = std::chrono::floor<std::chrono::seconds>(now);
    if (last_ && this_update <= std::chrono::floor<std::chrono::seconds>(*last_))
        this_update = std::chrono::floor<std::chrono::seconds>(*last_) + std::chrono::seconds(1);
    PVF_TRY(auto pem, ca_->sign_crl(entries, this_update, settings_.validity, number));
    if (!settings_.root_crl_file.empty()) {
        std::ifstream in(settings_.root_crl_file, std::ios::binary);
        std::ostringstream root;
        root << in.rdbuf();
        if (!in || root.str().find("-----BEGIN X509 CRL-----") == std::string::npos)
            return Error::at("enrollment/crl/root_crl_file", "'" + settings_.root_crl_file + "' holds no PEM CRL");
        pem += root.str();
    }
    // Mode 0644: the broker runs as another user.
    PVF_CHECK(util::replace_file_atomically(settings_.file, pem, 0644));
    last_ = this_update;
    last_number_ = number;
    PVF_LOG(info, "enroll", "CRL written to " << settings_.file << ": " << entries.size() << " revoked certificate(s)");
    if (!settings_.reload_command.empty()) {
        std::lock_guard reload_lock(reload_mutex_);
        reload_asked_ = true;
        if (!reload_thread_.joinable()) reload_thread_ = std::thread([this] { reload_loop(); });
        reload_wake_.notify_all();
    }
    return {};
}

bool CrlPublisher::due(TimePoint now) const {
    std::lock_guard lock(mutex_);
    return !last_ || now - *last_ >= std::chrono::duration_cast<Millis>(settings_.validity) / 2;
}

}  // namespace pvfleet::enrollment
