#pragma once
// What `pvfleet-edge check-config` and the start of `run` check before anything is opened: the site config
// file (every error with its key path, docs/site-config.md) and then the register maps it needs — `maps_dir`
// (or the default folder) loads, and every device's `profile` names a map. Nothing is written and no device
// or broker is contacted.
#include <filesystem>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::agent {

// The register maps `config` needs: every error with its key path (`maps_dir: …`, `inverters/1/profile: …`).
Status check_register_maps(const SiteConfig& config);
// load_site_config, then check_register_maps.
Result<SiteConfig> check_site_config_file(const std::filesystem::path& file);

}  // namespace pvfleet::agent
