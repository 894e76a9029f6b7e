#include "pvfleet/util/systemd.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "pvfleet/util/number.hpp"

namespace pvfleet::systemd {
namespace {
std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v == nullptr ? std::string() : std::string(v);
}
}  // namespace

bool notify(std::string_view state) {
    const std::string path = env("NOTIFY_SOCKET");
    if (path.empty() || path.size() >= sizeof(sockaddr_un::sun_path)) return false;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                               static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size()));
    ::close(fd);
    return sent == static_cast<ssize_t>(state.size());
}

std::optional<Millis> watchdog_interval() {
    const auto usec = parse_number<long long>(env("WATCHDOG_USEC"));
    if (!usec || *usec <= 0) return std::nullopt;
    if (const std::string pid = env("WATCHDOG_PID"); !pid.empty()) {
        const auto p = parse_number<long long>(pid);
        if (!p || *p != static_cast<long long>(::getpid())) return std::nullopt;
    }
    return Millis{std::max(1LL, *usec / 2000)};
}

bool stderr_is_journal() {
    const std::string stream = env("JOURNAL_STREAM");  // "DEVICE:INODE"
    const auto colon = stream.find(':');
    if (colon == std::string::npos) return false;
    const auto dev = parse_number<unsigned long long>(stream.substr(0, colon));
    const auto ino = parse_number<unsigned long long>(stream.substr(colon + 1));
    struct stat st {};
    if (!dev || !ino || ::fstat(STDERR_FILENO, &st) != 0) return false;
    return static_cast<unsigned long long>(st.st_dev) == *dev && static_cast<unsigned long long>(st.st_ino) == *ino;
}

}  // namespace pvfleet::systemd
