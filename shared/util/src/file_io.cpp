#include "pvfleet/util/file_io.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace pvfleet::util {
namespace fs = std::filesystem;

Status write_file_synced(const fs::path& file, std::string_view bytes, unsigned mode) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return Error{"'" + file.string() + "' cannot be created: " + std::strerror(errno), ErrorKind::io};
    std::size_t done = 0;
    int failure = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            failure = n < 0 ? errno : ENOSPC;
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (failure == 0 && ::fsync(fd) != 0) failure = errno;
    ::close(fd);
    if (failure == 0) return {};
    std::error_code ec;
    fs::remove(file, ec);
    return Error{"'" + file.string() + "' cannot be written: " + std::strerror(failure), ErrorKind::io};
}

Status sync_directory(const fs::path& dir) {
    const fs::path where = dir.empty() ? fs::path(".") : dir;
    const int fd = ::open(where.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return Error{"'" + where.string() + "' cannot be opened: " + std::strerror(errno), ErrorKind::io};
    const int synced = ::fsync(fd);
    const int failure = synced == 0 ? 0 : errno;
    ::close(fd);
    if (failure != 0)
        return Error{"'" + where.string() + "': fsync: " + std::strerror(failure), ErrorKind::io};
    return {};
}

Status replace_file_atomically(const fs::path& file, std::string_view bytes, unsigned mode) {
    const fs::path tmp = file.string() + ".tmp";
    if (auto w = write_file_synced(tmp, bytes, mode); !w) return w;
    std::error_code ec;
    fs::rename(tmp, file, ec);
    if (ec) {
        const std::string why = ec.message();
        fs::remove(tmp, ec);
        return Error{"'" + tmp.string() + "' cannot be renamed to '" + file.string() + "': " + why,
                     ErrorKind::io};
    }
    return sync_directory(file.parent_path());
}

}  // namespace pvfleet::util
