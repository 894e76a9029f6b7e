#pragma once
// HTTP request/response values and the router of the REST API. Handlers are plain functions of a Request: the
// Beast transport (http_server.hpp) stays apart from what the routes do, so routes are testable without
// sockets. A handler that hands CPU-heavy work to a worker (work_pool.hpp) is a coroutine (add_async).
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace pvfleet::http {

struct Request {
    std::string method;  // "GET", "POST", …
    std::string target;  // as received, with the query
    std::string path;    // decoded path without the query
    std::map<std::string, std::string> query;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    // Set instead of `body` when the transport wrote the body to a file (HttpServerOptions::spool_dir): its path.
    // The handler may move the file away (rename); otherwise it is removed after the handler returns.
    std::string body_file;
    std::string remote;                         // peer address (rate limits, logs)
    std::map<std::string, std::string> params;  // path parameters, filled by the router ({id} → "42")
    std::string user;                           // authenticated user name (set by the auth hook)
    std::string role;                           // their role: admin, back_office, technician, manager
    [[nodiscard]] std::optional<std::string> header(const std::string& lower_name) const;
    [[nodiscard]] std::optional<std::string> query_param(const std::string& name) const;
};

// A part of a file sent as the body (downloads): the transport reads and writes it in 64 kB pieces, so a large
// file is never held in memory. The file is opened when the response is written; one that cannot be read then
// closes the connection.
struct FileSlice {
    std::string path;
    std::uint64_t offset = 0;
    std::uint64_t length = 0;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::map<std::string, std::string> headers;
    std::optional<FileSlice> file;  // set: the body is this part of a file (and `body` is ignored)
};

Response json_response(int status, const nlohmann::json& body);
// RFC 9457 problem details: {"type","title","status","detail"} as application/problem+json; `field`
// (optional) names the offending member of the request.
Response problem(int status, std::string_view title, std::string_view detail, std::string_view field = {});

// The outcome of a step that may refuse a request: its value, or the response to send instead — a problem with
// its status and whatever headers it needs (WWW-Authenticate, ETag, Retry-After). It is the one way handlers, their
// helpers and the router's hooks say "stop here": a Result (util/result.hpp) whose failure is a Response, as a
// refusal is an HTTP answer rather than a kind and a message.
//     auto limit = query_int(req, "limit", 1, 500, 50);
//     if (!limit) return limit.refusal();
template <class T = void>
class [[nodiscard]] Checked {
public:
    Checked(T value) : data_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
    Checked(Response refusal)                                              // NOLINT(google-explicit-constructor)
        : data_(std::in_place_index<1>, std::move(refusal)) {}
    [[nodiscard]] bool ok() const noexcept { return data_.index() == 0; }
    explicit operator bool() const noexcept { return ok(); }
    T& operator*() & { return std::get<0>(data_); }
    const T& operator*() const& { return std::get<0>(data_); }
    T* operator->() { return &std::get<0>(data_); }
    const T* operator->() const { return &std::get<0>(data_); }
    [[nodiscard]] const Response& refusal() const& { return std::get<1>(data_); }

private:
    std::variant<T, Response> data_;
};

template <>
class [[nodiscard]] Checked<void> {
public:
    Checked() = default;
    Checked(Response refusal) : refusal_(std::move(refusal)) {}  // NOLINT(google-explicit-constructor)
    [[nodiscard]] bool ok() const noexcept { return !refusal_; }
    explicit operator bool() const noexcept { return ok(); }
    [[nodiscard]] const Response& refusal() const& { return *refusal_; }

private:
    std::optional<Response> refusal_;
};

// 415 unless a state-changing request (POST, PUT, PATCH, DELETE) declares Content-Type: application/json
// (parameters such as "; charset=utf-8" allowed), also when its body is empty: a cross-site form or a
// no-cors fetch cannot send that type without a CORS preflight, which is never granted.
Checked<> require_json_content_type(const Request& request);
// The same for another media type (lower case), e.g. a route's RouteInfo::body_type.
Checked<> require_content_type(const Request& request, std::string_view type);

// The headers every response of both servers carries (HttpServerOptions::default_headers): a
// Content-Security-Policy that allows only the app's own files (no inline script or style) and no framing,
// X-Frame-Options, Referrer-Policy and X-Content-Type-Options.
const std::map<std::string, std::string>& security_headers();

using Handler = std::function<Response(Request&)>;
// Runs on the connection's executor and may co_await (e.g. WorkPool::run); the request outlives it.
using AsyncHandler = std::function<boost::asio::awaitable<Response>(Request&)>;

struct RouteInfo {
    std::string summary;
    std::vector<std::string> roles;  // who may call it; empty: anyone (login, openapi, static files)
    std::string tag;                 // OpenAPI grouping
};

struct Route {
    std::string method;
    std::string pattern;  // "/api/work-orders/{id}"
    RouteInfo info;
    Handler handler;  // exactly one of handler and async_handler is set
    AsyncHandler async_handler;
};

class Router {
public:
    void add(std::string method, std::string pattern, RouteInfo info, Handler handler);
    void add_async(std::string method, std::string pattern, RouteInfo info, AsyncHandler handler);
    // The media type (lower case) the body of the route added last must have instead of JSON — a release
    // upload's application/vnd.debian.binary-package: no form or no-cors fetch can send it either. Checked after
    // `before`, so an unauthenticated request is refused as such first.
    void set_body_type(std::string type);
    [[nodiscard]] const std::string& body_type(const Route& route) const;
    // Finds the route (404 / 405 problems otherwise), fills request.params, checks the content type of
    // state-changing requests (415, before anything else runs), runs `before` (auth) then the handler, then
    // `after`; an exception becomes a 500 problem without internals. The transport awaits handle_async on the
    // connection's executor; handle runs an async route to completion on a private io_context on the calling
    // thread (tests, callers without an executor).
    Response handle(Request& request) const;
    boost::asio::awaitable<Response> handle_async(Request& request) const;
    [[nodiscard]] const std::vector<Route>& routes() const { return routes_; }
    // The checks a request's head alone decides — the route's content type and `before` (auth, roles) —, for the
    // transport to run before it reads a large body: the refusal (401, 403, 415), or nullopt when the body may
    // come (also for an unknown route or method: the body limit was not raised for those).
    std::optional<Response> refuse_head(Request& head) const;
    // Called after a route matched and before its handler; a refusal short-circuits (401, 403).
    std::function<Checked<>(Request&, const Route&)> before;
    // Paths not under /api/ go here (static web assets); nullptr: 404.
    Handler fallback;
    // Called on every response, whichever produced it (headers every response carries).
    std::function<void(const Request&, Response&)> after;

private:
    // Everything but running an async route: that one is returned in `async_route` for the caller to run.
    Response dispatch(Request& request, const Route*& async_route) const;
    std::vector<Route> routes_;
    std::map<std::size_t, std::string> body_types_;  // route index → media type
};

// The value of cookie `name` in a Cookie header ("a=1; b=2"): pairs are split at ';', blanks around them
// ignored, and the name must match exactly (neither "xname" nor "name2"); nullopt when absent.
std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name);

// The client's address for rate limits and logs. `peer` is the TCP peer; only when it is one of `trusted_proxies`
// (a reverse proxy the operator runs) is X-Forwarded-For believed, and then only its right-most entry that is not
// itself a trusted proxy — the entries to the left of it are whatever the client chose to send. A malformed entry
// there, or no header, leaves the peer's address.
std::string client_address(std::string_view peer, const std::optional<std::string>& forwarded_for,
                           const std::vector<std::string>& trusted_proxies);

// Splits "a/b?x=1&y=%20" into a decoded path and query map; false if the percent-encoding is broken.
bool parse_target(std::string_view target, std::string& path, std::map<std::string, std::string>& query);

}  // namespace pvfleet::http
