#pragma once
// HTTP request/response values and the router of the REST API. Handlers are plain functions of a Request: the
// Beast transport (http_server.hpp) stays apart from what the routes do, so routes are testable without
// sockets.
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pvfleet::http {

struct Request {
    std::string method;  // "GET", "POST", …
    std::string target;  // as received, with the query
    std::string path;    // decoded path without the query
    std::map<std::string, std::string> query;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    std::string remote;                         // peer address (rate limits, logs)
    std::map<std::string, std::string> params;  // path parameters, filled by the router ({id} → "42")
    std::string user;                           // authenticated user name (set by the auth hook)
    std::string role;                           // their role: admin, back_office, technician, manager
    [[nodiscard]] std::optional<std::string> header(const std::string& lower_name) const;
    [[nodiscard]] std::optional<std::string> query_param(const std::string& name) const;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::map<std::string, std::string> headers;
};

Response json_response(int status, const nlohmann::json& body);
// RFC 9457 problem details: {"type","title","status","detail"} as application/problem+json; `field`
// (optional) names the offending member of the request.
Response problem(int status, std::string_view title, std::string_view detail, std::string_view field = {});

// 415 unless a state-changing request (POST, PUT, PATCH, DELETE) declares Content-Type: application/json
// (parameters such as "; charset=utf-8" allowed), also when its body is empty: a cross-site form or a
// no-cors fetch cannot send that type without a CORS preflight, which is never granted. nullopt: fine.
std::optional<Response> require_json_content_type(const Request& request);

// The headers every response of both servers carries (HttpServerOptions::default_headers): a
// Content-Security-Policy that allows only the app's own files (no inline script or style) and no framing,
// X-Frame-Options, Referrer-Policy and X-Content-Type-Options.
const std::map<std::string, std::string>& security_headers();

using Handler = std::function<Response(Request&)>;

struct RouteInfo {
    std::string summary;
    std::vector<std::string> roles;  // who may call it; empty: anyone (login, openapi, static files)
    std::string tag;                 // OpenAPI grouping
};

struct Route {
    std::string method;
    std::string pattern;  // "/api/work-orders/{id}"
    RouteInfo info;
    Handler handler;
};

class Router {
public:
    void add(std::string method, std::string pattern, RouteInfo info, Handler handler);
    // Finds the route (404 / 405 problems otherwise), fills request.params, checks the content type of
    // state-changing requests (415, before anything else runs), runs `before` (auth) then the handler; an
    // exception becomes a 500 problem without internals.
    Response handle(Request& request) const;
    [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }
    // Called after a route matched and before its handler; a returned response short-circuits (401, 403).
    std::function<std::optional<Response>(Request&, const Route&)> before;
    // Paths not under /api/ go here (static web assets); nullptr: 404.
    Handler fallback;

private:
    std::vector<Route> routes_;
};

// Splits "a/b?x=1&y=%20" into a decoded path and query map; false if the percent-encoding is broken.
bool parse_target(std::string_view target, std::string& path, std::map<std::string, std::string>& query);

}  // namespace pvfleet::http
