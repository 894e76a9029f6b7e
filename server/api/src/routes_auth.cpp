// Authentication: the session check before every route that declares roles, login (limited per account and
// per address, the password checked on the worker pool), logout, the current user, the creation of users
// (their password hashed on the worker pool); and the transport security headers when the server is reached
// over HTTPS.
#include "routes_auth.hpp"

#include <boost/asio/awaitable.hpp>

#include "common.hpp"
#include "offload.hpp"
#include "pvfleet/records/passwords.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::api::detail {
namespace {

constexpr const char* kSessionCookie = "pvfleet_session";
// User names are at most 64 characters (records::create_user); anything beyond this is refused before it is
// hashed, counted or stored anywhere.
constexpr std::size_t kMaxLoginNameBytes = 128;
constexpr std::size_t kMaxLoginPasswordBytes = 1024;  // as records::create_user
constexpr const char* kHsts = "max-age=31536000";     // one year

std::optional<std::string> token_of(const Request& req) {
    if (auto a = req.header("authorization"); a && a->rfind("Bearer ", 0) == 0) return a->substr(7);
    if (auto c = req.header("cookie")) return http::cookie_value(*c, kSessionCookie);
    return std::nullopt;
}

std::string session_cookie(const ApiContext& ctx, const std::string& value, std::string_view extra = {}) {
    std::string c = std::string(kSessionCookie) + "=" + value + "; Path=/; HttpOnly; SameSite=Strict";
    if (ctx.served_over_tls) c += "; Secure";
    return c + std::string(extra);
}

Response too_many_logins(std::chrono::seconds wait) {
    Response r = problem(429, "Too Many Requests",
                         "too many failed logins; try again in " + std::to_string(wait.count()) + " s");
    r.headers.emplace("Retry-After", std::to_string(wait.count()));
    return r;
}

// The body of POST /api/login, or a 400 problem naming the field.
Checked<> login_fields(const Request& req, std::string& name, std::string& password) {
    json body;
    if (auto p = parse_body(req, {"user", "password"}, body); !p) return p;
    if (!body.contains("user") || !body["user"].is_string())
        return problem(400, "Bad Request", "user: required", "user");
    if (!body.contains("password") || !body["password"].is_string())
        return problem(400, "Bad Request", "password: required", "password");
    name = body["user"].get<std::string>();
    if (name.size() > kMaxLoginNameBytes)
        return problem(400, "Bad Request", "user: at most " + std::to_string(kMaxLoginNameBytes) + " bytes",
                       "user");
    password = body["password"].get<std::string>();
    if (password.size() > kMaxLoginPasswordBytes)
        return problem(400, "Bad Request",
                       "password: at most " + std::to_string(kMaxLoginPasswordBytes) + " bytes", "password");
    return {};
}

boost::asio::awaitable<Response> login(ApiContext& ctx, LoginLimiter& limiter, Request& req) {
    std::string name;
    std::string password;
    if (auto p = login_fields(req, name, password); !p) co_return p.refusal();
    const TimePoint now = ctx.clock->now();
    const records::LockoutPolicy policy{limiter.limits().per_account, limiter.limits().window};
    // The account's lockout as stored (it outlives restarts), then the limits in memory.
    auto stored = records::account_lockout(*ctx.db, name, now, policy);
    if (!stored) co_return from_error(stored.error());
    if (*stored) co_return too_many_logins(**stored);
    if (auto wait = limiter.begin(req.remote, name, now)) co_return too_many_logins(*wait);

    auto candidate = records::find_login(*ctx.db, name);
    if (!candidate) {
        limiter.not_attempted(req.remote, name);
        co_return from_error(candidate.error());
    }
    const std::optional<records::User> user = candidate->user;
    // Named before the co_await: see WorkPool::run.
    auto check = [found = std::move(*candidate), password]() {
        return records::password_matches(found, password);
    };
    auto matched = co_await offload(ctx, std::move(check));
    if (!matched) {
        limiter.not_attempted(req.remote, name);
        co_return busy(matched.error());
    }
    if (!*matched) {
        if (auto s = records::record_login_failure(*ctx.db, name, ctx.clock->now(), policy); !s)
            PVF_LOG(warn, "api", "failed login not stored: " << s.error().message);
        co_return problem(401, "Unauthorized", "wrong user name or password");
    }
    limiter.succeeded(req.remote, name);
    if (auto s = records::clear_login_failures(*ctx.db, name); !s) co_return from_error(s.error());
    // create_session reads the user again: one disabled while the password was checked gets no session.
    auto session = records::create_session(*ctx.db, *user, ctx.clock->now());
    if (!session) co_return from_error(session.error());
    Response r = json_response(200, {{"token", session->token},
                                     {"user", session->user},
                                     {"display_name", user->display_name},
                                     {"role", records::to_string(session->role)},
                                     {"expires_at", format_iso8601(session->expires_at)}});
    r.headers.emplace("Set-Cookie", session_cookie(ctx, session->token));
    co_return r;
}

}  // namespace

boost::asio::awaitable<Response> create_user(ApiContext& ctx, Request& req) {
    json b;
    if (auto p = parse_body(req, {"name", "display_name", "role", "password"}, b); !p) co_return p.refusal();
    std::string name;
    std::string display_name;
    std::string role_name;
    std::string password;
    BodyReader read(b);
    read.text("name", name, 64, true)
        .text("display_name", display_name, 1000)
        .text("role", role_name, 64, true)
        .text("password", password, kMaxLoginPasswordBytes, true);
    if (auto s = read.status(); !s) co_return s.refusal();
    auto role = records::parse_role(role_name);
    if (!role)
        co_return problem(400, "Bad Request",
                          "role: unknown '" + role_name + "' (expected " + records::role_names() + ")",
                          "role");
    // Checked before the slow hash, which runs on the worker pool; the row is stored back here.
    if (auto c = records::check_new_user(name, display_name, password); !c) co_return from_error(c.error());
    auto hashing = [secret = std::move(password)] { return records::hash_password(secret); };
    auto hash = co_await offload(ctx, std::move(hashing));
    if (!hash) co_return busy(hash.error());
    auto u =
        records::create_user_with_hash(*ctx.db, name, display_name, *role, *hash, req.user, ctx.clock->now());
    if (!u) co_return from_error(u.error());
    co_return json_response(
        201, {{"name", u->name}, {"display_name", u->display_name}, {"role", records::to_string(u->role)}});
}

void add_auth_routes(Router& router, ApiContext& ctx) {
    router.before = [&ctx](Request& req, const Route& route) -> Checked<> {
        if (route.info.roles.empty()) return {};
        auto token = token_of(req);
        auto unauthorized = [] {
            Response r = problem(401, "Unauthorized",
                                 "log in first (POST /api/login), then send Authorization: Bearer <token>");
            r.headers.emplace("WWW-Authenticate", "Bearer realm=\"pvfleet\"");
            return r;
        };
        if (!token || token->empty()) return unauthorized();
        auto user = records::user_for_token(*ctx.db, *token, ctx.clock->now());
        if (!user) return from_error(user.error());
        if (!*user) return unauthorized();
        req.user = (*user)->name;
        req.role = std::string(records::to_string((*user)->role));
        for (const auto& r : route.info.roles)
            if (r == req.role) return {};
        return problem(403, "Forbidden",
                       "the role " + req.role + " may not " + route.method + " " + route.pattern);
    };
    // A browser that reached us over HTTPS once must never fall back to plain HTTP (and leak the cookie).
    router.after = [&ctx](const Request&, Response& r) {
        if (ctx.served_over_tls) r.headers.emplace("Strict-Transport-Security", kHsts);
    };

    if (!ctx.login_limiter) ctx.login_limiter = std::make_shared<LoginLimiter>(ctx.login_limits);
    router.add_async(
        "POST", "/api/login",
        {"Log in with user name and password; returns a session token (also set as a cookie)", {}, "auth"},
        [&ctx, limiter = ctx.login_limiter](Request& req) { return login(ctx, *limiter, req); });
    router.add("POST", "/api/logout", {"End the session", kEveryRole, "auth"}, [&ctx](Request& req) {
        if (auto t = token_of(req)) (void)records::delete_session(*ctx.db, *t);
        Response r = json_response(200, {{"logged_out", true}});
        r.headers.emplace("Set-Cookie", session_cookie(ctx, "", "; Max-Age=0"));
        return r;
    });
    router.add("GET", "/api/me", {"The logged-in user", kEveryRole, "auth"}, [](Request& req) {
        return json_response(200, {{"user", req.user}, {"role", req.role}});
    });
}

}  // namespace pvfleet::api::detail
