#pragma once
// Where tests find the repository, the reference data beside it, and scratch space.
#include <filesystem>
#include <string>

namespace pvfleet::test {

std::filesystem::path source_dir();
std::filesystem::path binary_dir();
// ../shared beside the repo, or $PVFLEET_REFERENCE_DIR.
std::filesystem::path reference_dir();

// A fresh empty directory, removed when the object goes out of scope.
class TempDir {
public:
    TempDir();
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const { return path_; }
    [[nodiscard]] std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
    std::filesystem::path path_;
};

std::string read_file(const std::filesystem::path& p);

}  // namespace pvfleet::test
