#pragma once
// The local page's routes (docs/local-ui.md), without sockets: LocalUi::handle() takes a parsed request and
// returns the response, so tests drive it directly and HttpServer only moves bytes.
//
// Security model: one password (PBKDF2 hash in the site config); a login sets an HttpOnly SameSite=Strict
// session cookie with a random 32-byte token kept in memory for 12 h; 5 failed logins per 5 minutes per
// client IP and the next attempt is answered 429 without checking; API POSTs must be application/json (a
// cross-site form cannot send that without a CORS preflight, which is never granted).
//
// Single-threaded: call handle() and let the backend call its `done` callbacks on one executor.
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "pvfleet/http/http.hpp"
#include "pvfleet/local_ui/backend.hpp"
#include "pvfleet/local_ui/password.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::local_ui {

// The request/response values of shared/http (the page is served by http::HttpServer).
using Request = http::Request;
using Response = http::Response;

struct LocalUiOptions {
    PasswordHash password;
    Millis session_lifetime{12 * 3600 * 1000};
    int max_failures = 5;
    Millis failure_window{5 * 60 * 1000};
    std::size_t max_sessions = 64;  // oldest dropped beyond this
    std::size_t kept_jobs = 16;     // finished scan/probe results kept for the page to fetch
};

class LocalUi {
public:
    LocalUi(LocalUiBackend& backend, LocalUiOptions options, const Clock& clock);
    ~LocalUi() { *alive_ = false; }
    LocalUi(const LocalUi&) = delete;
    LocalUi& operator=(const LocalUi&) = delete;
    Response handle(const Request& request);

    // Bytes of the embedded page, script and style sheet (docs/local-ui.md reports them).
    static std::size_t asset_bytes();

private:
    struct Job {
        std::string kind;
        std::string state = "running";  // running, done, failed
        nlohmann::json result;
        std::string error;
        TimePoint started;
    };
    Response api(const Request& request, const std::string& path);
    Response login(const Request& request);
    Response logout(const Request& request);
    Response ticket_action(const Request& request, const std::string& id, const std::string& action,
                           const nlohmann::json& body);
    // POST scan / probe: starts a job the backend finishes later.
    Response start_device_job(const std::string& kind, const nlohmann::json& body);
    // POST enroll: the server and the code checked here (the code's check symbol: a typo is caught before it
    // travels), then a job the backend finishes.
    Response start_enroll_job(const nlohmann::json& body);
    // POST config/validate / config/save.
    Response config_post(const Request& request, const std::string& path);
    bool authenticated(const Request& request);
    std::optional<std::string> session_token(const Request& request) const;
    std::string start_job(const std::string& kind);
    void finish_job(const std::string& id, Result<nlohmann::json> result);
    nlohmann::json job_json(const std::string& id, const Job& job) const;

    LocalUiBackend& backend_;
    LocalUiOptions options_;
    const Clock& clock_;
    std::map<std::string, TimePoint> sessions_;              // token -> expiry
    std::map<std::string, std::deque<TimePoint>> failures_;  // client IP -> failed logins in the window
    std::map<std::string, Job> jobs_;
    long long next_job_ = 1;
    // Jobs finish on the executor after a request returned; they must not reach a destroyed LocalUi.
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pvfleet::local_ui
