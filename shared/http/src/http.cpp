#include "pvfleet/http/http.hpp"

#include "internal.hpp"

#include <algorithm>
#include <cctype>
#include <boost/asio/ip/address.hpp>
#include <exception>

#include "pvfleet/util/log.hpp"

namespace pvfleet::http {
namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

bool percent_decode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = hex_value(in[i + 1]);
            const int lo = hex_value(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return true;
}

std::vector<std::string_view> split_path(std::string_view p) {
    std::vector<std::string_view> parts;
    std::size_t start = 1;
    while (start <= p.size()) {
        const auto slash = p.find('/', start);
        const auto end = slash == std::string_view::npos ? p.size() : slash;
        parts.push_back(p.substr(start, end - start));
        if (slash == std::string_view::npos) break;
        start = slash + 1;
    }
    return parts;
}

bool match(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
    const auto pp = split_path(pattern);
    const auto ap = split_path(path);
    if (pp.size() != ap.size()) return false;
    std::map<std::string, std::string> found;
    for (std::size_t i = 0; i < pp.size(); ++i) {
        if (pp[i].size() > 2 && pp[i].front() == '{' && pp[i].back() == '}') {
            if (ap[i].empty()) return false;
            found.emplace(std::string(pp[i].substr(1, pp[i].size() - 2)), std::string(ap[i]));
        } else if (pp[i] != ap[i]) {
            return false;
        }
    }
    params = std::move(found);
    return true;
}


}  // namespace

std::optional<std::string> cookie_value(std::string_view cookie_header, std::string_view name) {
    constexpr std::string_view kBlank = " \t";
    while (!cookie_header.empty()) {
        const auto semi = cookie_header.find(';');
        std::string_view pair = cookie_header.substr(0, semi);
        cookie_header = semi == std::string_view::npos ? std::string_view{} : cookie_header.substr(semi + 1);
        const auto first = pair.find_first_not_of(kBlank);
        if (first == std::string_view::npos) continue;
        pair = pair.substr(first, pair.find_last_not_of(kBlank) - first + 1);
        const auto eq = pair.find('=');
        if (eq == std::string_view::npos) continue;
        std::string_view key = pair.substr(0, eq);
        key = key.substr(0, key.find_last_not_of(kBlank) + 1);
        if (key != name) continue;
        std::string_view value = pair.substr(eq + 1);
        const auto v = value.find_first_not_of(kBlank);
        value = v == std::string_view::npos ? std::string_view{} : value.substr(v);
        if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
            value = value.substr(1, value.size() - 2);
        return std::string(value);
    }
    return std::nullopt;
}

std::optional<std::string> Request::header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::nullopt : std::optional<std::string>(it->second);
}
std::optional<std::string> Request::query_param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::nullopt : std::optional<std::string>(it->second);
}

Response json_response(int status, const nlohmann::json& body) {
    Response r;
    r.status = status;
    r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return r;
}

Response problem(int status, std::string_view title, std::string_view detail, std::string_view field) {
    nlohmann::json j = {{"type", "about:blank"}, {"title", title}, {"status", status}, {"detail", detail}};
    if (!field.empty()) j["field"] = field;
    Response r = json_response(status, j);
    r.content_type = "application/problem+json";
    return r;
}

Checked<> require_content_type(const Request& request, std::string_view type) {
    const auto& m = request.method;
    if (m != "POST" && m != "PUT" && m != "PATCH" && m != "DELETE") return {};
    const auto value = request.header("content-type").value_or("");
    std::string_view media(value);
    media = media.substr(0, media.find(';'));
    const auto first = media.find_first_not_of(" \t");
    const auto last = media.find_last_not_of(" \t");
    media = first == std::string_view::npos ? std::string_view() : media.substr(first, last - first + 1);
    const bool same = media.size() == type.size() &&
                      std::equal(media.begin(), media.end(), type.begin(), [](char a, char b) {
                          return std::tolower(static_cast<unsigned char>(a)) == b;
                      });
    if (same) return {};
    return problem(415, "Unsupported Media Type",
                   m + " requests must be sent as Content-Type: " + std::string(type) + ", also without a body");
}

Checked<> require_json_content_type(const Request& request) {
    return require_content_type(request, "application/json");
}

const std::map<std::string, std::string>& security_headers() {
    static const std::map<std::string, std::string> headers{
        {"Content-Security-Policy",
         "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
         "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
        {"X-Frame-Options", "DENY"},
        {"Referrer-Policy", "no-referrer"},
        {"X-Content-Type-Options", "nosniff"},
    };
    return headers;
}

namespace {
std::string_view trim_blanks(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The address in canonical text form, or nullopt when `s` is not one.
std::optional<std::string> canonical_address(std::string_view s) {
    boost::system::error_code ec;
    const auto a = boost::asio::ip::make_address(std::string(s), ec);
    if (ec) return std::nullopt;
    // A server listening on :: sees an IPv4 proxy as ::ffff:a.b.c.d: the same host as a.b.c.d.
    if (a.is_v6() && a.to_v6().is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6()).to_string();
    return a.to_string();
}
}  // namespace

std::string client_address(std::string_view peer, const std::optional<std::string>& forwarded_for,
                           const std::vector<std::string>& trusted_proxies) {
    auto trusted = [&](const std::string& address) {
        for (const auto& t : trusted_proxies)
            if (canonical_address(t) == address) return true;
        return false;
    };
    const auto self = canonical_address(peer);
    if (!self || !forwarded_for || !trusted(*self)) return std::string(peer);
    std::string_view rest = *forwarded_for;
    while (!rest.empty()) {
        const auto comma = rest.rfind(',');
        const std::string_view entry =
            trim_blanks(comma == std::string_view::npos ? rest : rest.substr(comma + 1));
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(0, comma);
        const auto address = canonical_address(entry);
        if (!address) return std::string(peer);
        if (!trusted(*address)) return *address;
    }
    return std::string(peer);
}

bool parse_target(std::string_view target, std::string& path, std::map<std::string, std::string>& query) {
    const auto q = target.find('?');
    if (!percent_decode(target.substr(0, q), path, false)) return false;
    query.clear();
    if (q == std::string_view::npos) return true;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        std::string k;
        std::string v;
        if (!percent_decode(pair.substr(0, eq), k, true)) return false;
        if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), v, true)) return false;
        if (!k.empty()) query[k] = v;
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return true;
}

void Router::add(std::string method, std::string pattern, RouteInfo info, Handler handler) {
    routes_.push_back({std::move(method), std::move(pattern), std::move(info), std::move(handler), {}});
}

void Router::add_async(std::string method, std::string pattern, RouteInfo info, AsyncHandler handler) {
    routes_.push_back({std::move(method), std::move(pattern), std::move(info), {}, std::move(handler)});
}

void Router::set_body_type(std::string type) {
    if (!routes_.empty()) body_types_[routes_.size() - 1] = std::move(type);
}

const std::string& Router::body_type(const Route& route) const {
    static const std::string kNone;
    const auto index = static_cast<std::size_t>(&route - routes_.data());
    const auto it = body_types_.find(index);
    return it == body_types_.end() ? kNone : it->second;
}

std::optional<Response> Router::refuse_head(Request& head) const {
    try {
        for (const auto& route : routes_) {
            std::map<std::string, std::string> params;
            if (route.method != head.method || !match(route.pattern, head.path, params)) continue;
            head.params = std::move(params);
            const std::string& wanted_type = this->body_type(route);
            if (wanted_type.empty())
                if (auto typed = require_json_content_type(head); !typed) return typed.refusal();
            if (before)
                if (auto go = before(head, route); !go) return go.refusal();
            if (!wanted_type.empty())
                if (auto typed = require_content_type(head, wanted_type); !typed) return typed.refusal();
            return std::nullopt;
        }
        return std::nullopt;
    } catch (const std::exception& e) {
        PVF_LOG(error, "http", head.method << " " << head.path << ": " << e.what());
        return problem(500, "Internal Server Error", "the server could not complete the request");
    }
}

Response Router::dispatch(Request& request, const Route*& async_route) const {
    try {
        bool path_known = false;
        std::vector<std::string> allowed;
        for (const auto& route : routes_) {
            std::map<std::string, std::string> params;
            if (!match(route.pattern, request.path, params)) continue;
            path_known = true;
            if (route.method != request.method) {
                allowed.push_back(route.method);
                continue;
            }
            request.params = std::move(params);
            const std::string& wanted_type = this->body_type(route);
            if (wanted_type.empty())
                if (auto typed = require_json_content_type(request); !typed) return typed.refusal();
            if (before)
                if (auto go = before(request, route); !go) return go.refusal();
            if (!wanted_type.empty())
                if (auto typed = require_content_type(request, wanted_type); !typed) return typed.refusal();
            if (route.async_handler) {
                async_route = &route;
                return {};
            }
            return route.handler(request);
        }
        if (path_known) {
            Response r =
                problem(405, "Method Not Allowed", request.method + " is not allowed on " + request.path);
            std::string list;
            for (const auto& m : allowed) list += (list.empty() ? "" : ", ") + m;
            r.headers.emplace("Allow", list);
            return r;
        }
        if (fallback && request.path.rfind("/api/", 0) != 0) return fallback(request);
        return problem(404, "Not Found", "no resource at " + request.path);
    } catch (const std::exception& e) {
        PVF_LOG(error, "http", request.method << " " << request.path << ": " << e.what());
        return problem(500, "Internal Server Error", "the server could not complete the request");
    }
}

namespace detail {
// A 500 problem without internals; the cause goes to the log.
Response internal_error(const Request& request, const std::exception_ptr& failure) {
    try {
        std::rethrow_exception(failure);
    } catch (const std::exception& e) {
        PVF_LOG(error, "http", request.method << " " << request.path << ": " << e.what());
    } catch (...) {
        PVF_LOG(error, "http", request.method << " " << request.path << ": unknown exception");
    }
    return problem(500, "Internal Server Error", "the server could not complete the request");
}
}  // namespace detail

}  // namespace pvfleet::http
