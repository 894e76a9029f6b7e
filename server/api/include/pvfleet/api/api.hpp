#pragma once
// The REST API of pvfleet-server: routes over the records, tickets, telemetry and work orders, auth by
// session token (Authorization: Bearer or the pvfleet_session cookie), roles, problem+json errors,
// ETag/If-Match, cursor pagination, the OpenAPI document and the static web app. docs/api.md lists every
// route.
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "pvfleet/api/login_limiter.hpp"
#include "pvfleet/api/web_assets.hpp"
#include "pvfleet/diagnostics/log_bundles.hpp"
#include "pvfleet/documents/documents.hpp"
#include "pvfleet/enrollment/crl.hpp"
#include "pvfleet/enrollment/enroll.hpp"
#include "pvfleet/enrollment/limiter.hpp"
#include "pvfleet/http/http.hpp"
#include "pvfleet/http/work_pool.hpp"
#include "pvfleet/leads/limiter.hpp"
#include "pvfleet/leads/rules.hpp"
#include "pvfleet/projects/settings.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/records/crypto.hpp"
#include "pvfleet/releases/rollouts.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/webhooks/webhooks.hpp"
#include "pvfleet/workorders/policy.hpp"

namespace pvfleet::api {

// The HTTP values and router are shared with the gateway's local page (shared/http).
using http::Checked;
using http::json_response;
using http::problem;
using http::Request;
using http::Response;
using http::Route;
using http::RouteInfo;
using http::Router;

struct ApiContext {
    storage::Db* db = nullptr;  // the API's own connection (not the ingest's)
    const records::FieldCipher* cipher = nullptr;
    const Clock* clock = nullptr;
    // Sends a downlink command to a gateway (ticket acknowledgements from the back office); may be empty when
    // the server runs without MQTT.
    std::function<Status(const protocol::Command&, const std::string& issued_by)> send_command;
    std::function<nlohmann::json()> ingest_stats;
    const WebAssets* web_assets = nullptr;  // the web app's files (loaded at start); nullptr: none
    workorders::Policy policy;
    LoginLimits login_limits;
    // Failed logins in memory; nullptr: add_routes makes one from login_limits.
    std::shared_ptr<LoginLimiter> login_limiter;
    // Password hashing runs here; nullptr: on the thread serving the request (tests, tools).
    http::WorkPool* work_pool = nullptr;
    // Clients reach the server over HTTPS (http/public_url is https://…, or a TLS listener of its own):
    // the session cookie gets Secure and every response Strict-Transport-Security.
    bool served_over_tls = false;
    // Enrollment of gateways (docs/fleet-enrollment.md): the fleet's issuing CA (nullptr: POST /api/enroll
    // answers 503), the enrollment settings, and the limits of the public route (nullptr limiter: add_routes makes
    // one from enroll_limits).
    std::shared_ptr<const enrollment::IssuingCa> issuing_ca;
    enrollment::Settings enrollment;
    enrollment::RateLimits enroll_limits;
    std::shared_ptr<enrollment::RateLimiter> enroll_limiter;
    // The CRL the broker reads, written again after each revocation; nullptr: none is written.
    std::shared_ptr<enrollment::CrlPublisher> crl;
    // Over-the-air updates (docs/updates.md): releases, download links, rollouts; nullptr: those routes answer 503.
    std::shared_ptr<releases::Runtime> releases;
    // Remote diagnostics (docs/updates.md): log bundles; nullptr: those routes answer 503.
    std::shared_ptr<diagnostics::Runtime> diagnostics;
    // Outbound webhooks (docs/webhooks.md): the `webhooks` section's address policy and limits, and the sender's
    // wake-up after a test ping or a retry (empty: the sender's next pass, within a second, takes them).
    webhooks::Settings webhook_settings;
    std::function<void()> wake_webhook_sender;
    // ---- CRM: leads (docs/crm.md) ----
    // The `leads` section of the server config: scoring, assignment, SLA and the limits of the public route and
    // the import.
    leads::Settings lead_settings = leads::default_settings();
    // The public capture route's limits per client address and per channel; nullptr: add_routes makes them from
    // leads.public_capture.
    std::shared_ptr<leads::RateLimiter> lead_address_limiter;
    std::shared_ptr<leads::RateLimiter> lead_channel_limiter;
    // The `projects` section: stage templates (docs/projects.md).
    projects::ProjectSettings project_settings = projects::default_project_settings();
    // Documents and photos (docs/documents.md): the blob store; nullptr: the upload and content routes answer
    // 503.
    std::shared_ptr<documents::Library> documents;
    // ---- end of the CRM's block ----
};

// Builds every route into `router` (the context must outlive it).
void add_routes(Router& router, ApiContext& context);

// The OpenAPI 3.1 document of the routes in `router`.
nlohmann::json openapi_document(const Router& router);

}  // namespace pvfleet::api
