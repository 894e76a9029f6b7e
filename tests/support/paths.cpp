#include "support/paths.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace pvfleet::test {

std::filesystem::path source_dir() { return PVFLEET_SOURCE_DIR; }
std::filesystem::path binary_dir() { return PVFLEET_BINARY_DIR; }

std::filesystem::path reference_dir() {
    if (const char* env = std::getenv("PVFLEET_REFERENCE_DIR"); env && *env) return env;
    return std::filesystem::weakly_canonical(PVFLEET_REFERENCE_DIR_DEFAULT);
}

TempDir::TempDir() : TempDir(std::filesystem::path{}) {}

TempDir::TempDir(const std::filesystem::path& base) {
    std::error_code ec;
    const bool usable = !base.empty() && std::filesystem::is_directory(base, ec);
    std::string tmpl = ((usable ? base : std::filesystem::temp_directory_path()) / "pvfleet-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}

std::filesystem::path memory_temp_dir() {
    std::error_code ec;
    const std::filesystem::path shm = "/dev/shm";
    if (!std::filesystem::is_directory(shm, ec) || ::access(shm.c_str(), W_OK) != 0) return {};
    return shm;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace pvfleet::test
