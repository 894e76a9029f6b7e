#pragma once
// Where the programs find the data they ship with (register maps, the web app, simulator sites): the install
// layout, never a source checkout (docs/operations.md, "File locations").
//   1. an explicit folder (a command-line flag or a config key), which must exist;
//   2. the environment variable named by the caller (e.g. PVFLEET_DEVICES_DIR), when set and not empty;
//   3. ../share/pvfleet/<sub> beside the running executable: an installed tree (/usr/bin -> /usr/share,
//      P/bin -> P/share after `cmake --install --prefix P`) and a build tree, which stages the data at
//      <build>/share/pvfleet and puts the programs in <build>/bin;
//   4. /usr/share/pvfleet/<sub>.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/util/result.hpp"

namespace pvfleet {

// The folder the running executable lives in (from /proc/self/exe); nullopt when it cannot be read.
std::optional<std::filesystem::path> executable_dir();

// The candidate folders of steps 2-4 above, in order (the environment variable's only when it is set).
std::vector<std::filesystem::path> data_dir_candidates(const std::string& sub, const char* env_var);

// The first existing folder of steps 1-4. `what` names the data in the error ("register-map folder"), which
// lists every place tried and how to point at another: "no register-map folder found (tried A, B, C; use
// --maps DIR or PVFLEET_DEVICES_DIR)".
Result<std::filesystem::path> find_data_dir(const std::string& sub, const std::optional<std::filesystem::path>& explicit_dir,
                                            const char* env_var, const std::string& what, const std::string& flag);

}  // namespace pvfleet
