#include "pvfleet/records/users.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "encoding.hpp"
#include "pvfleet/records/passwords.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/records/field_checks.hpp"

namespace pvfleet::records {
namespace {

using storage::Row;

constexpr std::size_t kMinPasswordCharacters = 10;
constexpr std::size_t kMaxPasswordBytes = 1024;  // PBKDF2 hashes any length; this keeps requests small
constexpr std::size_t kTokenBytes = 32;

std::size_t utf8_characters(std::string_view s) {
    std::size_t n = 0;
    for (const char c : s)
        if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++n;
    return n;
}

bool valid_user_name(std::string_view name) {
    if (name.size() < 2 || name.size() > 64) return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return false;
    return true;
}

Result<User> user_from_row(const Row& row) {
    auto role = parse_role(row.text(2));
    if (!role)
        return Error{"user " + row.text(0) + ": stored role '" + row.text(2) + "' is unknown", ErrorKind::io};
    return User{row.text(0), row.text(1), *role, row.integer(3) != 0, row.integer(4), std::nullopt};
}

// A staff member's display name is personal data too: the audit log keeps only its length.
std::string user_audit_json(const User& u) {
    return nlohmann::json{{"name", u.name},
                          {"display_name", detail::mask(u.display_name)},
                          {"role", to_string(u.role)},
                          {"disabled", u.disabled},
                          {"version", u.version}}
        .dump();
}

// Compared against when the user name is unknown, so a wrong name takes as long as a wrong password and
// response times do not tell which names exist.
const std::string& dummy_hash() {
    static const std::string hash = hash_password(detail::random_bytes(16));
    return hash;
}

}  // namespace

std::string_view to_string(Role role) {
    switch (role) {
        case Role::admin:
            return "admin";
        case Role::back_office:
            return "back_office";
        case Role::technician:
            return "technician";
        case Role::manager:
            return "manager";
        case Role::sales:
            return "sales";
        case Role::project_manager:
            return "project_manager";
    }
    return "unknown";
}

std::optional<Role> parse_role(std::string_view text) {
    for (const Role r :
         {Role::admin, Role::back_office, Role::technician, Role::manager, Role::sales, Role::project_manager})
        if (to_string(r) == text) return r;
    return std::nullopt;
}

std::string role_names() {
    return "admin, back_office, technician, manager, sales, project_manager";
}

Status check_new_user(const std::string& name, const std::string& display_name, std::string_view password) {
    if (!valid_user_name(name)) return Error::at("name", "2 to 64 characters of a-z, 0-9, '.', '_' and '-'");
    if (auto p = detail::check_text(detail::trim(display_name), 200)) return Error::at("display_name", *p);
    if (utf8_characters(password) < kMinPasswordCharacters)
        return Error::at("password", "at least " + std::to_string(kMinPasswordCharacters) + " characters");
    if (password.size() > kMaxPasswordBytes)
        return Error::at("password", "at most " + std::to_string(kMaxPasswordBytes) + " bytes");
    return {};
}

Result<User> create_user(storage::Db& db, const std::string& name, const std::string& display_name, Role role,
                         std::string_view password, const std::string& actor, TimePoint now) {
    if (auto c = check_new_user(name, display_name, password); !c) return c.error();
    return create_user_with_hash(db, name, display_name, role, hash_password(password), actor, now);
}

Result<User> create_user_with_hash(storage::Db& db, const std::string& name, const std::string& display_name,
                                   Role role, const std::string& password_hash, const std::string& actor,
                                   TimePoint now) {
    if (!valid_user_name(name)) return Error::at("name", "2 to 64 characters of a-z, 0-9, '.', '_' and '-'");
    const std::string display = detail::trim(display_name);
    if (auto p = detail::check_text(display, 200)) return Error::at("display_name", *p);
    const std::string& hash = password_hash;
    const User user{name, display, role, false, 1, std::nullopt};
    return storage::in_transaction(db, [&]() -> Result<User> {
        auto existing = db.run("SELECT 1 FROM users WHERE name = $1", {name});
        if (!existing) return existing.error();
        if (!existing->rows.empty())
            return Error::at("name", "user '" + name + "' already exists", ErrorKind::conflict);
        auto r = db.run(
            "INSERT INTO users (name, display_name, role, password_hash, disabled, created_at_ms, version) "
            "VALUES "
            "($1, $2, $3, $4, 0, $5, 1)",
            {name, display, std::string(to_string(role)), hash, std::int64_t{to_epoch_ms(now)}});
        if (!r) return r.error();
        if (auto a = storage::append_audit(db, now, actor, "create", "user", name, std::nullopt,
                                           user_audit_json(user));
            !a)
            return a.error();
        return user;
    });
}

Result<std::vector<User>> list_users(storage::Db& db) {
    auto r = db.run("SELECT name, display_name, role, disabled, version, supervisor FROM users ORDER BY name");
    if (!r) return r.error();
    std::vector<User> out;
    for (const Row& row : r->rows) {
        auto u = user_from_row(row);
        if (!u) return u.error();
        u->supervisor = row.opt_text(5);
        out.push_back(std::move(*u));
    }
    return out;
}

Result<User> set_supervisor(storage::Db& db, const std::string& name, const std::optional<std::string>& supervisor,
                            const std::string& actor, TimePoint now) {
    if (supervisor && *supervisor == name) return Error::at("supervisor", "a user cannot supervise themselves");
    return storage::in_transaction(db, [&]() -> Result<User> {
        auto r = db.run("SELECT name, display_name, role, disabled, version, supervisor FROM users WHERE name = $1",
                        {name});
        if (!r) return r.error();
        if (r->rows.empty()) return Error{"user " + name + ": not found", ErrorKind::not_found};
        auto user = user_from_row(r->rows[0]);
        if (!user) return user.error();
        const auto before = r->rows[0].opt_text(5);
        // Walk up from the new supervisor: reaching `name` would make a circle no escalation leaves.
        std::optional<std::string> up = supervisor;
        for (int depth = 0; up; ++depth) {
            auto s = db.run("SELECT supervisor FROM users WHERE name = $1", {*up});
            if (!s) return s.error();
            if (s->rows.empty())
                return Error::at("supervisor", depth == 0 ? "no user '" + *up + "'" : "chain broken at '" + *up + "'");
            up = s->rows[0].opt_text(0);
            if (up && *up == name)
                return Error::at("supervisor", "'" + *supervisor + "' is supervised by '" + name +
                                                   "' (directly or through others): no circles");
            if (depth > 64) return Error::at("supervisor", "chain of supervisors longer than 64");
        }
        user->supervisor = supervisor;
        if (before == supervisor) return *user;
        auto u = db.run("UPDATE users SET supervisor = $1, version = version + 1 WHERE name = $2",
                        {supervisor ? storage::Value{*supervisor} : storage::Value{nullptr}, name});
        if (!u) return u.error();
        ++user->version;
        if (auto a = storage::append_audit(db, now, actor, "set_supervisor", "user", name,
                                           nlohmann::json{{"supervisor", before ? nlohmann::json(*before) : nlohmann::json()}}.dump(),
                                           nlohmann::json{{"supervisor", supervisor ? nlohmann::json(*supervisor) : nlohmann::json()}}.dump());
            !a)
            return a.error();
        return *user;
    });
}

Result<LoginCandidate> find_login(storage::Db& db, const std::string& name) {
    auto r =
        db.run("SELECT name, display_name, role, disabled, version, password_hash FROM users WHERE name = $1",
               {name});
    if (!r) return r.error();
    if (r->rows.empty()) return LoginCandidate{};
    const Row& row = r->rows[0];
    auto u = user_from_row(row);
    if (!u) return u.error();
    return LoginCandidate{std::move(*u), row.text(5)};
}

bool password_matches(const LoginCandidate& candidate, std::string_view password) {
    if (!candidate.user) {
        (void)verify_password(password, dummy_hash());
        return false;
    }
    const bool password_ok = verify_password(password, candidate.password_hash);
    return password_ok && !candidate.user->disabled;
}

Result<std::optional<User>> authenticate(storage::Db& db, const std::string& name,
                                         std::string_view password) {
    auto candidate = find_login(db, name);
    if (!candidate) return candidate.error();
    if (!password_matches(*candidate, password)) return std::optional<User>{};
    return std::optional<User>{std::move(candidate->user)};
}

Result<std::optional<std::chrono::seconds>> account_lockout(storage::Db& db, const std::string& name,
                                                            TimePoint now, const LockoutPolicy& policy) {
    auto r = db.run("SELECT failures, window_start_ms FROM login_failures WHERE user_name = $1", {name});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<std::chrono::seconds>{};
    const TimePoint window_end = from_epoch_ms(r->rows[0].integer(1)) + policy.window;
    if (r->rows[0].integer(0) < policy.failures_allowed || now >= window_end)
        return std::optional<std::chrono::seconds>{};
    return std::optional<std::chrono::seconds>{
        std::max(std::chrono::ceil<std::chrono::seconds>(window_end - now), std::chrono::seconds(1))};
}

Status record_login_failure(storage::Db& db, const std::string& name, TimePoint now,
                            const LockoutPolicy& policy) {
    // One statement: a new window when the last one has ended, else one more failure in it. The SELECT
    // inserts nothing for an unknown name.
    auto r = db.run(
        "INSERT INTO login_failures (user_name, failures, window_start_ms) "
        "SELECT name, 1, CAST($2 AS BIGINT) FROM users WHERE name = $1 "
        "ON CONFLICT (user_name) DO UPDATE SET "
        "failures = CASE WHEN login_failures.window_start_ms + CAST($3 AS BIGINT) <= CAST($2 AS BIGINT) "
        "THEN 1 ELSE login_failures.failures + 1 END, "
        "window_start_ms = CASE WHEN login_failures.window_start_ms + CAST($3 AS BIGINT) <= CAST($2 AS "
        "BIGINT) "
        "THEN CAST($2 AS BIGINT) ELSE login_failures.window_start_ms END",
        {name, std::int64_t{to_epoch_ms(now)},
         std::int64_t{std::chrono::duration_cast<Millis>(policy.window).count()}});
    if (!r) return r.error();
    return {};
}

Status clear_login_failures(storage::Db& db, const std::string& name) {
    // Most logins have nothing to clear: a read then, not a write transaction.
    auto found = db.run("SELECT 1 FROM login_failures WHERE user_name = $1", {name});
    if (!found) return found.error();
    if (found->rows.empty()) return {};
    auto r = db.run("DELETE FROM login_failures WHERE user_name = $1", {name});
    if (!r) return r.error();
    return {};
}

Result<Session> create_session(storage::Db& db, const User& user, TimePoint now, std::chrono::hours ttl) {
    if (ttl <= std::chrono::hours(0)) return Error::at("ttl", "must be positive");
    const std::string token = detail::hex_encode(detail::random_bytes(kTokenBytes));
    const TimePoint expires = now + ttl;
    return storage::in_transaction(db, [&]() -> Result<Session> {
        auto u = db.run("SELECT disabled, role FROM users WHERE name = $1", {user.name});
        if (!u) return u.error();
        if (u->rows.empty()) return Error{"user " + user.name + ": not found", ErrorKind::not_found};
        if (u->rows[0].integer(0) != 0) return Error{"user " + user.name + ": disabled", ErrorKind::rejected};
        auto role = parse_role(u->rows[0].text(1));
        if (!role) return Error{"user " + user.name + ": stored role is unknown", ErrorKind::io};
        // Housekeeping: expired sessions are useless and would only grow the table.
        if (auto d =
                db.run("DELETE FROM sessions WHERE expires_at_ms <= $1", {std::int64_t{to_epoch_ms(now)}});
            !d)
            return d.error();
        auto r = db.run(
            "INSERT INTO sessions (token_hash, user_name, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, "
            "$4)",
            {detail::sha256_hex(token), user.name, std::int64_t{to_epoch_ms(now)},
             std::int64_t{to_epoch_ms(expires)}});
        if (!r) return r.error();
        if (auto a = storage::append_audit(db, now, user.name, "login", "user", user.name, std::nullopt,
                                           nlohmann::json{{"expires_at_ms", to_epoch_ms(expires)}}.dump());
            !a)
            return a.error();
        return Session{token, user.name, *role, expires};
    });
}

Result<std::optional<User>> user_for_token(storage::Db& db, const std::string& token, TimePoint now) {
    if (token.size() != 2 * kTokenBytes || !detail::hex_decode(token)) return std::optional<User>{};
    auto r = db.run(
        "SELECT u.name, u.display_name, u.role, u.disabled, u.version FROM sessions s JOIN users u ON u.name "
        "= "
        "s.user_name WHERE s.token_hash = $1 AND s.expires_at_ms > $2 AND u.disabled = 0",
        {detail::sha256_hex(token), std::int64_t{to_epoch_ms(now)}});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<User>{};
    auto u = user_from_row(r->rows[0]);
    if (!u) return u.error();
    return std::optional<User>{std::move(*u)};
}

Status delete_session(storage::Db& db, const std::string& token) {
    return storage::in_transaction(db, [&]() -> Status {
        const std::string hash = detail::sha256_hex(token);
        auto r = db.run("DELETE FROM sessions WHERE token_hash = $1 RETURNING user_name", {hash});
        if (!r) return r.error();
        if (r->rows.empty()) return {};
        const std::string user = r->rows[0].text(0);
        // Logging out has no clock parameter; the audit time is the server's.
        const auto now = std::chrono::time_point_cast<Millis>(std::chrono::system_clock::now());
        return storage::append_audit(db, now, user, "logout", "user", user, std::nullopt, std::nullopt);
    });
}

}  // namespace pvfleet::records
