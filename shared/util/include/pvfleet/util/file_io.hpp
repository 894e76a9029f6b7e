#pragma once
// Files written so that a power cut or a crash never leaves half of one: the bytes written and fsynced before
// anyone relies on them, and a file that replaces another one renamed over it with its folder fsynced.
#include <filesystem>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::util {

// `bytes` into `file` (created or truncated, `mode` when created), then fsync. On failure the file is removed
// and the error names it and the system's reason.
Status write_file_synced(const std::filesystem::path& file, std::string_view bytes, unsigned mode = 0640);
// The folder's entries on disk (after a rename or a new file in it).
Status sync_directory(const std::filesystem::path& dir);
// `file` replaced whole: FILE.tmp written and fsynced, renamed over FILE, the folder fsynced. A power cut
// leaves the old file or the new one.
Status replace_file_atomically(const std::filesystem::path& file, std::string_view bytes,
                               unsigned mode = 0640);

}  // namespace pvfleet::util
