#pragma once
// What the local page needs from the running agent: a narrow seam, so the routes are tested with a fake
// (tests/unit/local_ui) and the real one (edge_app, cmd_run) forwards to pvfleet::agent::Agent.
// Every member is called on the agent's executor; scan() and probe() must not block it: they hand the work
// to a poll thread or a worker thread and call `done` back on the executor.
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/result.hpp"

namespace pvfleet::local_ui {

struct ScanRequest {
    std::string endpoint_id;  // a configured endpoint (scanned on its poll thread), or
    std::string tcp;          // "HOST:PORT" not in the config (scanned on a worker thread)
    uint8_t unit_from = 1;
    uint8_t unit_to = 247;
    uint16_t register_address = 40000;
    int timeout_ms = 300;
};

struct ProbeRequest {
    std::string device_id;    // a configured device, or
    std::string endpoint_id;  // a configured endpoint / a "HOST:PORT" with a unit and a profile
    std::string tcp;
    uint8_t unit = 1;
    std::string profile = "auto";
};

// The enrollment screen (docs/fleet-enrollment.md): the server and the code as read (XXXX-XXXX-XXXX-XXXX).
struct EnrollPageRequest {
    std::string server;
    std::string code;
};

using JsonDone = std::function<void(Result<nlohmann::json>)>;

class LocalUiBackend {
public:
    virtual ~LocalUiBackend() = default;
    // docs/local-ui.md, "GET /local/api/state".
    virtual Result<nlohmann::json> state() = 0;
    // The same path as the downlink ack_ticket / resolve_ticket commands: recorded in the store as a
    // technician's action, the ticket event queued for the server. Returns the ticket after the change.
    virtual Result<nlohmann::json> acknowledge(const std::string& ticket_id, const std::string& by,
                                               const std::string& note) = 0;
    virtual Result<nlohmann::json> resolve(const std::string& ticket_id, const std::string& by,
                                           const std::string& note) = 0;
    virtual void scan(const ScanRequest& request, JsonDone done) = 0;
    virtual void probe(const ProbeRequest& request, JsonDone done) = 0;
    // The config file as installed (JSON text), for the page's editor.
    virtual Result<std::string> config_text() = 0;
    // Every error with its key path (one per line), nothing saved.
    virtual Status validate_config(std::string_view config_json) = 0;
    // Validated, installed atomically as the config file and applied by restarting the agent (the set_config
    // path). Returns the config_version being applied.
    virtual Result<std::string> save_config(std::string_view config_json) = 0;
    // Enrolls the gateway (pvfleet-edge enroll's path) off the executor; `done` with {site_id, serial, not_after,
    // broker_uri, config_installed, lines} or the error, which carries the server's reason.
    virtual void enroll(const EnrollPageRequest& /*request*/, JsonDone done) {
        done(Error{"this gateway cannot enroll from its page", ErrorKind::unsupported});
    }
};

}  // namespace pvfleet::local_ui
