#include "pvfleet/util/data_dir.hpp"

#include <cstdlib>

namespace pvfleet {

namespace fs = std::filesystem;

std::optional<fs::path> executable_dir() {
    std::error_code ec;
    const auto exe = fs::read_symlink("/proc/self/exe", ec);
    if (ec || exe.empty()) return std::nullopt;
    return exe.parent_path();
}

std::vector<fs::path> data_dir_candidates(const std::string& sub, const char* env_var) {
    std::vector<fs::path> out;
    if (env_var != nullptr) {
        if (const char* env = std::getenv(env_var); env != nullptr && *env != '\0') out.emplace_back(env);
    }
    if (auto dir = executable_dir()) out.push_back((dir->parent_path() / "share/pvfleet" / sub).lexically_normal());
    out.push_back(fs::path("/usr/share/pvfleet") / sub);
    return out;
}

Result<fs::path> find_data_dir(const std::string& sub, const std::optional<fs::path>& explicit_dir, const char* env_var,
                               const std::string& what, const std::string& flag) {
    std::error_code ec;
    if (explicit_dir) {
        if (!fs::is_directory(*explicit_dir, ec))
            return Error{explicit_dir->string() + ": not a " + what, ErrorKind::not_found};
        return *explicit_dir;
    }
    std::string tried;
    for (const auto& c : data_dir_candidates(sub, env_var)) {
        if (fs::is_directory(c, ec)) return c;
        tried += (tried.empty() ? "" : ", ") + c.string();
    }
    std::string hint = flag;
    if (env_var != nullptr) hint += (hint.empty() ? "" : " or ") + std::string(env_var);
    return Error{"no " + what + " found (tried " + tried + (hint.empty() ? "" : "; use " + hint) + ")",
                 ErrorKind::not_found};
}

}  // namespace pvfleet
