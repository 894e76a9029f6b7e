#include "pvfleet/agent/config_install.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pvfleet/agent/config_check.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::agent {
namespace {

Error os_error(const std::string& what, int err) {
    return Error{what + ": " + std::strerror(err), ErrorKind::io};
}

// Writes the whole text and fsyncs it before closing: a rename that follows never exposes a half-written
// file.
Status write_synced(const std::filesystem::path& file, std::string_view text) {
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return os_error("cannot create " + file.string(), errno);
    size_t written = 0;
    while (written < text.size()) {
        const ssize_t n = ::write(fd, text.data() + written, text.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            return os_error("cannot write " + file.string(), err);
        }
        written += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) {
        const int err = errno;
        ::close(fd);
        return os_error("cannot sync " + file.string(), err);
    }
    if (::close(fd) != 0) return os_error("cannot close " + file.string(), errno);
    return {};
}

// A rename is durable only once the folder holding the names is synced.
Status sync_folder(const std::filesystem::path& file) {
    const auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return os_error("cannot open " + dir.string(), errno);
    const int rc = ::fsync(fd);
    const int err = errno;
    ::close(fd);
    if (rc != 0) return os_error("cannot sync " + dir.string(), err);
    return {};
}

Result<std::string> read_whole(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    if (!in) return Error{"cannot read " + file.string(), ErrorKind::not_found};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

}  // namespace

Result<SiteConfig> check_pushed_config(std::string_view config_json, const SiteConfig& running) {
    const auto doc = nlohmann::json::parse(config_json, nullptr, false);
    if (doc.is_discarded()) return Error{"config: not JSON"};
    const auto base_dir = running.config_file ? running.config_file->parent_path() : std::filesystem::path{};
    auto parsed = parse_site_config(doc, base_dir);
    if (!parsed) return parsed.error();
    if (parsed->site_id != running.site_id)
        return Error::at("site_id", "'" + parsed->site_id + "' is not this site ('" + running.site_id + "')");
    parsed->config_file = running.config_file;
    return parsed;
}

Result<SiteConfig> check_first_config(std::string_view config_json, const std::filesystem::path& file) {
    const auto doc = nlohmann::json::parse(config_json, nullptr, false);
    if (doc.is_discarded()) return Error{"config: not JSON"};
    auto parsed = parse_site_config(doc, file.parent_path());
    if (!parsed) return parsed.error();
    if (auto s = check_register_maps(*parsed); !s) return s.error();
    parsed->config_file = file;
    return parsed;
}

Result<std::string> apply_config_patch(std::string_view file_text, std::string_view patch_json,
                                       const std::string& config_version) {
    // Ordered: the installed file keeps the installer's key order, patched keys where they were.
    auto config = nlohmann::ordered_json::parse(file_text, nullptr, false);
    if (config.is_discarded() || !config.is_object()) return Error{"is not a JSON object"};
    const auto patch = nlohmann::ordered_json::parse(patch_json, nullptr, false);
    if (patch.is_discarded() || !patch.is_object()) return Error::at("patch", "not a JSON object");
    config.merge_patch(patch);
    config["config_version"] = config_version;
    return config.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool is_stale_config(TimePoint issued_at, std::optional<TimePoint> last_applied) {
    return last_applied && issued_at < *last_applied;
}

std::string encode_issued_at(TimePoint t) {
    return std::to_string(to_epoch_ms(t));
}

std::optional<TimePoint> decode_issued_at(std::string_view text) {
    long long ms = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
    if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
    return from_epoch_ms(ms);
}

std::filesystem::path new_config_path(const std::filesystem::path& file) {
    return file.string() + ".new";
}
std::filesystem::path previous_config_path(const std::filesystem::path& file) {
    return file.string() + ".prev";
}

Status install_config_file(const std::filesystem::path& file, std::string_view text) {
    const auto next = new_config_path(file);
    if (auto s = write_synced(next, text); !s) return s;
    auto current = read_whole(file);
    if (!current) {
        std::error_code ec;
        std::filesystem::remove(next, ec);
        return current.error();
    }
    // A copy rather than a hard link: the folder may be on a file system without links (FAT on a boot
    // partition), and a config file is a few kB.
    if (auto s = write_synced(previous_config_path(file), *current); !s) {
        std::error_code ec;
        std::filesystem::remove(next, ec);
        return s;
    }
    if (::rename(next.c_str(), file.c_str()) != 0) {
        const int err = errno;
        std::error_code ec;
        std::filesystem::remove(next, ec);
        return os_error("cannot rename " + next.string() + " to " + file.string(), err);
    }
    return sync_folder(file);
}

Status install_first_config_file(const std::filesystem::path& file, std::string_view text) {
    std::error_code ec;
    if (std::filesystem::exists(file, ec))
        return Error{file.string() + " exists: a config is installed already", ErrorKind::conflict};
    std::filesystem::create_directories(file.parent_path(), ec);
    const auto next = new_config_path(file);
    if (auto s = write_synced(next, text); !s) return s;
    if (::rename(next.c_str(), file.c_str()) != 0) {
        const int err = errno;
        std::filesystem::remove(next, ec);
        return os_error("cannot rename " + next.string() + " to " + file.string(), err);
    }
    return sync_folder(file);
}

Status restore_previous_config_file(const std::filesystem::path& file) {
    const auto prev = previous_config_path(file);
    if (::rename(prev.c_str(), file.c_str()) != 0)
        return os_error("cannot rename " + prev.string() + " to " + file.string(), errno);
    return sync_folder(file);
}
}  // namespace pvfleet::agent
