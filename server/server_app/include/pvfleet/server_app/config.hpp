#pragma once
// The server config file (JSON, documented in docs/server.md; example firmware-config/server/example.json).
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "pvfleet/ingest/ingestor.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::server_app {

struct HttpConfig {
    std::string listen = "127.0.0.1";
    int port = 8080;  // 0: any free port (tests)
    int max_connections = 512;  // served at once (fits the default open-file limit of 1024)
};

struct ServerConfig {
    storage::DbOptions database;
    ingest::IngestOptions ingest;
    bool mqtt_enabled = true;
    HttpConfig http;
    std::string web_root;         // static web app folder (default: the installed/bundled server/web)
    std::string secret_key_file;  // 32 bytes (raw or hex): AES-256-GCM key of personal customer fields
};

// Collects every error, each with its key path ("mqtt/uri: required").
Result<ServerConfig> parse_server_config(const nlohmann::json& doc, const std::filesystem::path& base_dir);
Result<ServerConfig> load_server_config(const std::filesystem::path& file);
// The effective config as JSON (passwords masked), logged at start.
std::string describe(const ServerConfig& config);

}  // namespace pvfleet::server_app
