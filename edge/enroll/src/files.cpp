// The enrolled credentials and config on disk: each file written whole, synced and renamed into place.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pvfleet/enroll/enroll.hpp"

namespace pvfleet::enroll {
namespace {

Error io_error(const std::filesystem::path& p, const std::string& what) {
    return Error{p.string() + ": " + what + ": " + std::strerror(errno), ErrorKind::io};
}

}  // namespace

Status sync_directory(const std::filesystem::path& dir) {
    const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error(dir, "cannot open the folder");
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) return io_error(dir, "cannot sync the folder");
    return {};
}

Status write_file_atomically(const std::filesystem::path& file, std::string_view text, unsigned mode) {
    std::filesystem::path tmp = file;
    tmp += ".tmp";
    ::unlink(tmp.c_str());  // a leftover of an interrupted run; created anew below with `mode`
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, static_cast<mode_t>(mode));
    if (fd < 0) return io_error(tmp, "cannot create");
    // The umask may only narrow the mode; make it exact (a key stays 0600 whatever the umask).
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
        const Error e = io_error(tmp, "cannot set its mode");
        ::close(fd);
        return e;
    }
    std::size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const Error e = io_error(tmp, "cannot write");
            ::close(fd);
            ::unlink(tmp.c_str());
            return e;
        }
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const Error e = io_error(tmp, "cannot sync");
        ::close(fd);
        ::unlink(tmp.c_str());
        return e;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        const Error e = io_error(file, "cannot rename " + tmp.filename().string() + " over it");
        ::unlink(tmp.c_str());
        return e;
    }
    return sync_directory(file.parent_path());
}

nlohmann::ordered_json site_config_after(const std::optional<nlohmann::ordered_json>& existing,
                                         const EnrollReply& reply) {
    nlohmann::ordered_json out;
    if (existing) {
        out = *existing;
    } else {
        // The server's initial config, in its order.
        out = nlohmann::ordered_json::parse(reply.config.dump());
    }
    out["site_id"] = reply.site_id;
    // Relative paths are read from the config file's folder (docs/site-config.md).
    out["mqtt"] = {{"uri", reply.broker_uri},
                   {"ca_file", "pki/ca.crt"},
                   {"cert_file", "pki/site.crt"},
                   {"key_file", "pki/site.key"}};
    return out;
}

}  // namespace pvfleet::enroll
