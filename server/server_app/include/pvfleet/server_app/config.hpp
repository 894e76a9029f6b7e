#pragma once
// The server config file (JSON, documented in docs/server.md; example firmware-config/server/example.json).
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/diagnostics/log_bundles.hpp"
#include "pvfleet/documents/documents.hpp"
#include "pvfleet/enrollment/crl.hpp"
#include "pvfleet/enrollment/enroll.hpp"
#include "pvfleet/enrollment/issuing_ca.hpp"
#include "pvfleet/enrollment/limiter.hpp"
#include "pvfleet/http/tls.hpp"
#include "pvfleet/ingest/ingestor.hpp"
#include "pvfleet/leads/rules.hpp"
#include "pvfleet/notifications/email.hpp"
#include "pvfleet/projects/settings.hpp"
#include "pvfleet/releases/releases.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/result.hpp"
#include "pvfleet/webhooks/webhooks.hpp"

namespace pvfleet::server_app {

struct HttpConfig {
    std::string listen = "127.0.0.1";
    int port = 8080;  // 0: any free port (tests)
    int max_connections = 512;  // served at once (fits the default open-file limit of 1024)
    // The address clients use (e.g. https://pv.example.com behind a TLS proxy); empty: not configured.
    std::string public_url;
    int worker_threads = 2;  // password hashing off the thread that serves requests
    int worker_queue = 32;   // jobs waiting for a worker before requests get 503
    // Reverse proxies in front of the server: their X-Forwarded-For names the client (login limits per address).
    std::vector<std::string> trusted_proxies;
    // HTTPS served by the server itself (http.tls); absent: plain HTTP (localhost, demo, or a TLS proxy in front).
    std::optional<http::TlsFiles> tls;
    // Clients reach the server over HTTPS — its own TLS or a TLS proxy's (public_url https): the session cookie
    // is Secure and responses carry HSTS.
    [[nodiscard]] bool served_over_tls() const { return tls.has_value() || public_url.rfind("https://", 0) == 0; }
};

// Enrollment of gateways (docs/fleet-enrollment.md): the issuing CA's files (read and checked at start), what a
// gateway is told, the codes' lifetimes and the limits of POST /api/enroll.
struct EnrollmentConfig {
    enrollment::CaFiles ca;
    enrollment::Settings settings;
    enrollment::RateLimits limits;
    enrollment::CrlSettings crl;  // crl.file empty: no CRL is written
};

// Over-the-air updates (docs/updates.md): where releases are kept, the trusted keys, the gateways' download
// address; absent: the release and rollout routes answer 503.
struct ReleasesConfig {
    releases::Settings settings;
    std::chrono::seconds site_deadline{std::chrono::hours(6)};
    std::chrono::seconds tick{std::chrono::seconds(10)};
};

struct ServerConfig {
    storage::DbOptions database;
    ingest::IngestOptions ingest;
    bool mqtt_enabled = true;
    HttpConfig http;
    std::string web_root;         // static web app folder (default: share/pvfleet/web, see data_dir.hpp)
    std::string secret_key_file;  // 32 bytes (raw or hex): AES-256-GCM key of personal customer fields
    std::optional<EnrollmentConfig> enrollment;  // absent: the server enrolls no gateway
    std::optional<ReleasesConfig> releases;      // absent: no over-the-air updates
    std::optional<diagnostics::Settings> diagnostics;           // absent: no log bundles
    // CRM: documents and photos (docs/documents.md). Always on: without a `documents` section the folder is
    // `documents` beside the SQLite file, or /var/lib/pvfleet/documents with PostgreSQL.
    documents::Settings documents;
    bool documents_configured =
        false;  // the section was there (a folder that cannot be used stops the start)
    leads::Settings lead_settings = leads::default_settings();  // CRM: the `leads` section (docs/crm.md)
    // CRM: the `projects` (stage templates) and `reminders` (stall rules, interval) sections (docs/projects.md).
    projects::ProjectSettings project_settings = projects::default_project_settings();
    projects::ReminderSettings reminder_settings = projects::default_reminder_settings();
    // Outbound webhooks (docs/webhooks.md): the `webhooks` section — where webhooks may point, and the sender's limits.
    webhooks::Settings webhook_settings;
    // E-mail of notifications (the `smtp` section, docs/notifications.md); absent: the inbox only, no e-mail.
    std::optional<notifications::SmtpConfig> smtp;
};

// Collects every error, each with its key path ("mqtt/uri: required").
Result<ServerConfig> parse_server_config(const nlohmann::json& doc, const std::filesystem::path& base_dir);
Result<ServerConfig> load_server_config(const std::filesystem::path& file);
// The effective config as JSON (passwords masked), logged at start.
std::string describe(const ServerConfig& config);

}  // namespace pvfleet::server_app
