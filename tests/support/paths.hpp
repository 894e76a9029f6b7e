#pragma once
// Where tests find the repository, the reference data beside it, and scratch space.
#include <filesystem>
#include <string>

namespace pvfleet::test {

std::filesystem::path source_dir();
std::filesystem::path binary_dir();
// ../shared beside the repo, or $PVFLEET_REFERENCE_DIR.
std::filesystem::path reference_dir();

// A fresh empty directory, removed when the object goes out of scope. In `base` when given and usable (e.g.
// memory_temp_dir()), else in the system's temporary directory.
class TempDir {
public:
    TempDir();
    explicit TempDir(const std::filesystem::path& base);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

// A memory-backed directory (/dev/shm) for tests whose files need no disk — fsync costs nothing there —, or an
// empty path when there is none.
std::filesystem::path memory_temp_dir();

std::string read_file(const std::filesystem::path& p);

}  // namespace pvfleet::test
