#include "pvfleet/local_ui/local_ui.hpp"

#include <algorithm>
#include <sstream>
#include <variant>

#include "assets.hpp"
#include "pvfleet/enroll/enroll.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::local_ui {
namespace {

using nlohmann::json;
constexpr const char* kCookie = "pvfleet_session";
constexpr const char* kLog = "local-ui";
constexpr Millis kJobTimeout{10 * 60 * 1000};

Response json_response(int status, const json& body) {
    Response r;
    r.status = status;
    r.body = body.dump();
    return r;
}

Response problem(int status, const std::string& detail) {
    return json_response(status, {{"error", detail}});
}

Response error_response(const Error& e) {
    int status = 422;
    switch (e.kind) {
        case ErrorKind::not_found:
            status = 404;
            break;
        case ErrorKind::conflict:
            status = 409;
            break;
        case ErrorKind::busy:
            status = 503;
            break;
        case ErrorKind::io:
        case ErrorKind::timeout:
            status = 502;
            break;
        default:
            break;
    }
    return problem(status, e.message);
}

json lines(const std::string& text) {
    json out = json::array();
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty()) out.push_back(line);
    }
    return out;
}

// Path segments of "/local/api/tickets/t-1/acknowledge" after the prefix: {"tickets", "t-1", "acknowledge"}.
std::vector<std::string> segments(std::string_view path) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= path.size()) {
        const auto slash = path.find('/', start);
        const auto part =
            path.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
        if (!part.empty()) out.emplace_back(part);
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return out;
}

// Ticket ids are made by the gateway (letters, digits, '-', '_', ':' and '.'); anything else is refused
// rather than decoded, so no percent-encoding is needed.
bool valid_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '-' || c == '_' || c == ':' || c == '.';
    });
}

std::optional<json> json_body(const Request& r) {
    if (r.body.empty()) return json::object();
    auto j = json::parse(r.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    return j;
}

std::string string_field(const json& j, const char* key, std::size_t max = 1000) {
    auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return {};
    auto s = it->get<std::string>();
    if (s.size() > max) s.resize(max);
    return s;
}

Response asset(const char* content_type, std::string_view body) {
    Response r;
    r.content_type = content_type;
    r.body = std::string(body);
    r.headers["Cache-Control"] = "no-cache";
    return r;
}

}  // namespace

LocalUi::LocalUi(LocalUiBackend& backend, LocalUiOptions options, const Clock& clock)
    : backend_(backend), options_(std::move(options)), clock_(clock) {}

std::size_t LocalUi::asset_bytes() {
    return assets::kIndexHtml.size() + assets::kAppJs.size() + assets::kAppCss.size();
}

Response LocalUi::handle(const Request& request) {
    std::string path = request.target.substr(0, request.target.find('?'));
    Response r;
    if (path == "/" || path == "/local" || path == "/local/") {
        if (request.method != "GET" && request.method != "HEAD")
            r = problem(405, "method not allowed");
        else
            r = asset("text/html; charset=utf-8", assets::kIndexHtml);
    } else if (path == "/local/app.js" || path == "/local/app.css") {
        if (request.method != "GET" && request.method != "HEAD")
            r = problem(405, "method not allowed");
        else if (path == "/local/app.js")
            r = asset("text/javascript; charset=utf-8", assets::kAppJs);
        else
            r = asset("text/css; charset=utf-8", assets::kAppCss);
    } else if (path.rfind("/local/api/", 0) == 0) {
        r = api(request, path.substr(std::string_view("/local/api/").size()));
        r.headers["Cache-Control"] = "no-store";
    } else {
        r = problem(404, "no such page");
    }
    // The security headers (the page loads only its own script and style; nobody may frame it: clickjacking
    // on the ack buttons) come from the transport, http::security_headers(), on every response.
    return r;
}

std::optional<std::string> LocalUi::session_token(const Request& request) const {
    auto it = request.headers.find("cookie");
    if (it == request.headers.end()) return std::nullopt;
    const std::string& c = it->second;
    const std::string key = std::string(kCookie) + "=";
    for (std::size_t pos = 0; pos < c.size();) {
        while (pos < c.size() && (c[pos] == ' ' || c[pos] == ';')) ++pos;
        const auto end = std::min(c.find(';', pos), c.size());
        if (c.compare(pos, key.size(), key) == 0) return c.substr(pos + key.size(), end - pos - key.size());
        pos = end;
    }
    return std::nullopt;
}

bool LocalUi::authenticated(const Request& request) {
    const auto token = session_token(request);
    if (!token) return false;
    auto it = sessions_.find(*token);
    if (it == sessions_.end()) return false;
    if (it->second <= clock_.now()) {
        sessions_.erase(it);
        return false;
    }
    return true;
}

Response LocalUi::login(const Request& request) {
    const TimePoint now = clock_.now();
    auto& failed = failures_[request.remote];
    while (!failed.empty() && failed.front() + options_.failure_window <= now) failed.pop_front();
    if (static_cast<int>(failed.size()) >= options_.max_failures) {
        const auto wait =
            std::chrono::duration_cast<std::chrono::seconds>(failed.front() + options_.failure_window - now);
        Response r = problem(429, "too many failed logins from this address; try again in " +
                                      std::to_string(wait.count() + 1) + " s");
        r.headers["Retry-After"] = std::to_string(wait.count() + 1);
        return r;
    }
    auto body = json_body(request);
    const std::string password = body ? string_field(*body, "password", 1024) : std::string{};
    if (password.empty() || !verify_password(options_.password, password)) {
        failed.push_back(now);
        PVF_LOG(warn, kLog,
                "failed login from " << request.remote << " (" << failed.size() << " in the last "
                                     << options_.failure_window.count() / 60000 << " min)");
        return problem(401, "wrong password");
    }
    failures_.erase(request.remote);
    // Expired sessions go first; beyond the cap the one expiring soonest (the oldest) makes room.
    std::erase_if(sessions_, [&](const auto& s) { return s.second <= now; });
    while (sessions_.size() >= options_.max_sessions) {
        sessions_.erase(std::min_element(sessions_.begin(), sessions_.end(),
                                         [](const auto& a, const auto& b) { return a.second < b.second; }));
    }
    const std::string token = random_hex(32);
    sessions_[token] = now + options_.session_lifetime;
    PVF_LOG(info, kLog, "login from " << request.remote);
    Response r;
    r.status = 204;
    r.headers["Set-Cookie"] = std::string(kCookie) + "=" + token +
                              "; Path=/local; HttpOnly; SameSite=Strict; Max-Age=" +
                              std::to_string(options_.session_lifetime.count() / 1000);
    return r;
}

std::string LocalUi::start_job(const std::string& kind) {
    // Only the newest results are worth keeping: the page polls its own job and then forgets it.
    while (jobs_.size() >= options_.kept_jobs) {
        auto oldest = std::min_element(jobs_.begin(), jobs_.end(), [](const auto& a, const auto& b) {
            return a.second.started < b.second.started;
        });
        jobs_.erase(oldest);
    }
    const std::string id = "j" + std::to_string(next_job_++);
    jobs_[id] = Job{kind, "running", {}, {}, clock_.now()};
    return id;
}

void LocalUi::finish_job(const std::string& id, Result<nlohmann::json> result) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return;
    if (result) {
        it->second.state = "done";
        it->second.result = std::move(*result);
    } else {
        it->second.state = "failed";
        it->second.error = result.error().message;
    }
}

nlohmann::json LocalUi::job_json(const std::string& id, const Job& job) const {
    json j = {{"id", id}, {"kind", job.kind}, {"state", job.state}};
    // A job queued to a poll thread is dropped when the agent restarts: the page must not wait for ever.
    if (job.state == "running" && clock_.now() - job.started > kJobTimeout) {
        j["state"] = "failed";
        j["error"] = "no result after " + std::to_string(kJobTimeout.count() / 60000) +
                     " minutes (the agent restarted, or the scan is still going)";
        return j;
    }
    if (job.state == "done") j["result"] = job.result;
    if (job.state == "failed") j["error"] = job.error;
    return j;
}

Response LocalUi::api(const Request& request, const std::string& path) {
    const auto& m = request.method;
    // JSON only, also for an empty body: a cross-site form can post text/plain or form data, never
    // application/json.
    if (!http::require_json_content_type(request))
        return problem(415, m + " requests must be sent as Content-Type: application/json");
    if (path == "login") {
        if (m != "POST") return problem(405, "method not allowed");
        return login(request);
    }
    if (!authenticated(request)) return problem(401, "log in first");
    const auto parts = segments(path);
    auto body = m == "POST" ? json_body(request) : std::optional<json>(json::object());
    // The config routes take the site config itself, whose own parser reports what is wrong with it.
    if (!body && path.rfind("config/", 0) != 0) return problem(400, "the body must be a JSON object");
    if (!body) body = json::object();

    if (path == "logout" && m == "POST") return logout(request);
    if (path == "state" && m == "GET") {
        auto s = backend_.state();
        return s ? json_response(200, *s) : error_response(s.error());
    }
    if (parts.size() == 3 && parts[0] == "tickets" && (parts[2] == "acknowledge" || parts[2] == "resolve")) {
        if (m != "POST") return problem(405, "method not allowed");
        return ticket_action(request, parts[1], parts[2], *body);
    }
    if (path == "scan" || path == "probe") {
        if (m != "POST") return problem(405, "method not allowed");
        return start_device_job(path, *body);
    }
    if (parts.size() == 2 && parts[0] == "jobs" && m == "GET") {
        auto it = jobs_.find(parts[1]);
        if (it == jobs_.end()) return problem(404, "no job '" + parts[1] + "'");
        return json_response(200, job_json(it->first, it->second));
    }
    if (path == "config" && m == "GET") {
        auto text = backend_.config_text();
        if (!text) return error_response(text.error());
        Response r;
        r.body = std::move(*text);
        return r;
    }
    if (path == "enroll") {
        if (m != "POST") return problem(405, "method not allowed");
        return start_enroll_job(*body);
    }
    if (path == "config/validate" || path == "config/save") {
        if (m != "POST") return problem(405, "method not allowed");
        return config_post(request, path);
    }
    return problem(404, "no such API route");
}

Response LocalUi::logout(const Request& request) {
    if (auto token = session_token(request)) sessions_.erase(*token);
    Response r;
    r.status = 204;
    r.headers["Set-Cookie"] = std::string(kCookie) + "=; Path=/local; HttpOnly; SameSite=Strict; Max-Age=0";
    return r;
}

Response LocalUi::ticket_action(const Request& request, const std::string& id, const std::string& action,
                                const nlohmann::json& body) {
    if (!valid_id(id)) return problem(404, "no ticket '" + id + "'");
    std::string by = string_field(body, "by", 100);
    if (by.empty()) by = "local page (" + request.remote + ")";
    const std::string note = string_field(body, "note", 2000);
    auto t = action == "acknowledge" ? backend_.acknowledge(id, by, note) : backend_.resolve(id, by, note);
    if (!t) return error_response(t.error());
    PVF_LOG(info, kLog, "ticket " << id << " " << action << "d by " << by << " from " << request.remote);
    return json_response(200, *t);
}

namespace {

// An optional integer field of a scan/probe body, within [lo, hi].
Result<int> int_field(const json& b, const char* key, int lo, int hi, int fallback) {
    auto it = b.find(key);
    if (it == b.end()) return fallback;
    if (!it->is_number_integer() || it->get<int>() < lo || it->get<int>() > hi)
        return Error::at(key, "expected an integer " + std::to_string(lo) + ".." + std::to_string(hi));
    return it->get<int>();
}

// The scan request of a body, or the response refusing it.
std::variant<ScanRequest, Response> scan_request(const json& b, const std::string& endpoint, const std::string& tcp) {
    ScanRequest s;
    s.endpoint_id = endpoint;
    s.tcp = tcp;
    auto from = int_field(b, "unit_from", 0, 247, 1);
    auto to = int_field(b, "unit_to", 0, 247, 247);
    auto reg = int_field(b, "register", 0, 65535, 40000);
    auto timeout = int_field(b, "timeout_ms", 10, 10000, 300);
    for (const auto* r : {&from, &to, &reg, &timeout}) {
        if (!*r) return error_response(r->error());
    }
    if (endpoint.empty() == tcp.empty()) {
        return problem(422, "scan: give exactly one of endpoint (a configured endpoint id), tcp (HOST:PORT)");
    }
    if (*from > *to) return problem(422, "unit_from: must not be above unit_to");
    s.unit_from = static_cast<uint8_t>(*from);
    s.unit_to = static_cast<uint8_t>(*to);
    s.register_address = static_cast<uint16_t>(*reg);
    s.timeout_ms = *timeout;
    return s;
}

// The probe request of a body, or the response refusing it.
std::variant<ProbeRequest, Response> probe_request(const json& b, const std::string& endpoint,
                                                   const std::string& tcp) {
    ProbeRequest p;
    p.device_id = string_field(b, "device_id", 100);
    p.endpoint_id = endpoint;
    p.tcp = tcp;
    p.profile = string_field(b, "profile", 100);
    if (p.profile.empty()) p.profile = "auto";
    auto unit = int_field(b, "unit", 0, 247, 1);
    if (!unit) return error_response(unit.error());
    p.unit = static_cast<uint8_t>(*unit);
    const int given = int{!p.device_id.empty()} + int{!endpoint.empty()} + int{!tcp.empty()};
    if (given != 1) {
        return problem(422,
                       "probe: give exactly one of device_id, endpoint (+ unit, profile), tcp (+ "
                       "unit, profile)");
    }
    return p;
}

}  // namespace

Response LocalUi::start_device_job(const std::string& kind, const nlohmann::json& b) {
    const std::string endpoint = string_field(b, "endpoint", 100);
    const std::string tcp = string_field(b, "tcp", 300);
    const std::string id = start_job(kind);
    auto done = [this, alive = alive_, id](Result<json> r) {
        if (*alive) finish_job(id, std::move(r));
    };
    if (kind == "scan") {
        auto s = scan_request(b, endpoint, tcp);
        if (auto* refused = std::get_if<Response>(&s)) {
            jobs_.erase(id);
            return std::move(*refused);
        }
        backend_.scan(std::get<ScanRequest>(s), done);
    } else {
        auto p = probe_request(b, endpoint, tcp);
        if (auto* refused = std::get_if<Response>(&p)) {
            jobs_.erase(id);
            return std::move(*refused);
        }
        backend_.probe(std::get<ProbeRequest>(p), done);
    }
    // The backend may have answered at once (an unknown device): the job then already says so.
    return json_response(202, job_json(id, jobs_.at(id)));
}

Response LocalUi::start_enroll_job(const nlohmann::json& b) {
    const auto server = enroll::parse_server_url(string_field(b, "server", 300));
    if (!server) return json_response(400, {{"error", server.error().message}, {"field", "server"}});
    const auto code = enroll::read_typed_code(string_field(b, "code", 100));
    if (!code) return json_response(400, {{"error", code.error().message}, {"field", "code"}});
    const std::string id = start_job("enroll");
    backend_.enroll({string_field(b, "server", 300), *code}, [this, alive = alive_, id](Result<json> r) {
        if (*alive) finish_job(id, std::move(r));
    });
    return json_response(202, job_json(id, jobs_.at(id)));
}

Response LocalUi::config_post(const Request& request, const std::string& path) {
    // The body is the site config itself.
    if (path == "config/validate") {
        auto s = backend_.validate_config(request.body);
        if (!s) return json_response(422, {{"valid", false}, {"errors", lines(s.error().message)}});
        return json_response(200, {{"valid", true}, {"errors", json::array()}});
    }
    auto saved = backend_.save_config(request.body);
    if (!saved) {
        if (saved.error().kind != ErrorKind::invalid) return error_response(saved.error());
        return json_response(422, {{"valid", false}, {"errors", lines(saved.error().message)}});
    }
    PVF_LOG(info, kLog, "config " << *saved << " saved from " << request.remote << "; the agent restarts with it");
    return json_response(202, {{"valid", true}, {"config_version", *saved}, {"restarting", true}});
}

}  // namespace pvfleet::local_ui
