#include "support/paths.hpp"

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

TempDir::TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pvfleet-test-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
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
