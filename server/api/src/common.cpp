#include "common.hpp"

#include <algorithm>
#include <string_view>

namespace pvfleet::api::detail {

const std::vector<std::string> kAllRoles{"admin", "back_office", "technician", "manager"};
const std::vector<std::string> kOfficeRoles{"admin", "back_office"};
const std::vector<std::string> kReadRoles{"admin", "back_office", "manager"};

namespace {

constexpr int kMaxBodyDepth = 64;

// The deepest nesting of arrays and objects in `text` (brackets inside strings do not count); only
// meaningful for valid JSON, which the parser checks afterwards.
int nesting_depth(std::string_view text) {
    int depth = 0;
    int deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return deepest;
}

}  // namespace

std::optional<Response> parse_body(const Request& req, const std::set<std::string>& allowed, json& out) {
    const auto ct = req.header("content-type").value_or("");
    if (ct.rfind("application/json", 0) != 0)
        return problem(415, "Unsupported Media Type", "send the body as application/json");
    // Bounded before parsing: every level costs the parser and whoever walks the document later.
    if (nesting_depth(req.body) > kMaxBodyDepth)
        return problem(400, "Bad Request",
                       "body: arrays and objects nest deeper than " + std::to_string(kMaxBodyDepth) + " levels");
    try {
        out = json::parse(req.body);
    } catch (const json::parse_error& e) {
        return problem(400, "Bad Request", std::string("body is not valid JSON: ") + e.what());
    }
    if (!out.is_object()) return problem(400, "Bad Request", "body must be a JSON object");
    for (const auto& [k, v] : out.items())
        if (allowed.count(k) == 0) {
            std::string list;
            for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
            return problem(400, "Bad Request", k + ": unknown field (expected " + list + ")", k);
        }
    return std::nullopt;
}

Response bad_request(const Error& e) {
    const auto colon = e.message.find(": ");
    const std::string field =
        colon != std::string::npos && e.message.find(' ') > colon ? e.message.substr(0, colon) : "";
    return problem(400, "Bad Request", e.message, field);
}

Response from_error(const Error& e) {
    switch (e.kind) {
        case ErrorKind::invalid:
            return bad_request(e);
        case ErrorKind::not_found:
            return problem(404, "Not Found", e.message);
        case ErrorKind::conflict:
            return problem(412, "Precondition Failed", e.message);
        case ErrorKind::rejected:
            return problem(403, "Forbidden", e.message);
        case ErrorKind::busy:
            return problem(503, "Service Unavailable", e.message);
        default:
            return problem(500, "Internal Server Error", "the server could not complete the request");
    }
}

std::string etag_of(std::int64_t version) {
    return "\"v" + std::to_string(version) + "\"";
}

std::optional<std::int64_t> if_match_version(const Request& req) {
    auto h = req.header("if-match");
    if (!h) return std::nullopt;
    std::string v = *h;
    if (v.rfind("W/", 0) == 0) v = v.substr(2);
    if (v.size() < 4 || v.front() != '"' || v.back() != '"' || v[1] != 'v') return std::nullopt;
    try {
        return std::stoll(v.substr(2, v.size() - 3));
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::optional<Response> check_if_match(const Request& req, std::int64_t version) {
    if (!req.header("if-match"))
        return problem(428, "Precondition Required",
                       "send If-Match with the ETag you read, so concurrent edits are not lost");
    const auto v = if_match_version(req);
    if (!v || *v != version) {
        Response r = problem(
            412, "Precondition Failed",
            "the resource changed since you read it (now " + etag_of(version) + "); reload and retry");
        r.headers.emplace("ETag", etag_of(version));
        return r;
    }
    return std::nullopt;
}

std::optional<Response> query_int(const Request& req, const std::string& name, long long lo, long long hi,
                                  long long& out) {
    auto v = req.query_param(name);
    if (!v) return std::nullopt;
    try {
        std::size_t used = 0;
        const long long n = std::stoll(*v, &used);
        if (used != v->size() || n < lo || n > hi) throw std::out_of_range(name);
        out = n;
        return std::nullopt;
    } catch (const std::exception&) {
        return problem(400, "Bad Request",
                       name + ": expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi),
                       name);
    }
}

std::optional<Response> query_time(const Request& req, const std::string& name,
                                   std::optional<TimePoint>& out) {
    auto v = req.query_param(name);
    if (!v) return std::nullopt;
    auto t = parse_iso8601(*v);
    if (!t) return problem(400, "Bad Request", name + ": " + t.error().message, name);
    out = *t;
    return std::nullopt;
}

bool has_role(const Request& req, std::initializer_list<const char*> roles) {
    for (const char* r : roles)
        if (req.role == r) return true;
    return false;
}

}  // namespace pvfleet::api::detail
