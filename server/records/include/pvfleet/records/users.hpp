#pragma once
// Server users (back office, technicians, managers, admins, sales reps, project managers) and their login
// sessions. Passwords are stored
// as PBKDF2 hashes (passwords.hpp); session tokens are handed out once and only their SHA-256 is stored, so a
// copy of the database does not let anyone log in.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::records {

// sales: their own leads (server/leads) and the customers converted from them; project_manager: their own
// projects and those projects' customers (server/projects, docs/projects.md "Roles").
enum class Role { admin, back_office, technician, manager, sales, project_manager };
std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);
// "admin, back_office, technician, manager, sales, project_manager", for error texts.
std::string role_names();

struct User {
    std::string name, display_name;
    Role role = Role::technician;
    bool disabled = false;
    std::int64_t version = 1;
    // Whom reminders escalate to (the CRM's stall rules); read by list_users only.
    std::optional<std::string> supervisor;
};

// name [a-z0-9._-]{2,64}; password at least 10 characters. ErrorKind::conflict when the name is taken.
Result<User> create_user(storage::Db& db, const std::string& name, const std::string& display_name, Role role,
                         std::string_view password, const std::string& actor, TimePoint now);
Result<std::vector<User>> list_users(storage::Db& db);  // ordered by name, with their supervisor
// Sets (or clears, nullopt) the user's supervisor: an existing user, not the user, and no chain of supervisors
// that leads back to the user. Errors at "supervisor"; ErrorKind::not_found for an unknown `name`. Audited.
Result<User> set_supervisor(storage::Db& db, const std::string& name, const std::optional<std::string>& supervisor,
                            const std::string& actor, TimePoint now);
// nullopt for an unknown name, a wrong password or a disabled user (the caller cannot tell which).
Result<std::optional<User>> authenticate(storage::Db& db, const std::string& name, std::string_view password);

// authenticate() in two steps, so that the slow password check can run on a worker thread while the
// database stays with its connection's thread: find_login reads the user, password_matches (pure CPU, no
// database) checks the password.
struct LoginCandidate {
    std::optional<User> user;   // nullopt: no such user
    std::string password_hash;  // empty for an unknown name (a dummy hash is checked instead)
};
Result<LoginCandidate> find_login(storage::Db& db, const std::string& name);
// False for an unknown name, a wrong password or a disabled user; as slow in each case.
bool password_matches(const LoginCandidate& candidate, std::string_view password);

// create_user in steps for the same reason: check the input, hash the password (slow, any thread), store.
Status check_new_user(const std::string& name, const std::string& display_name, std::string_view password);
Result<User> create_user_with_hash(storage::Db& db, const std::string& name, const std::string& display_name,
                                   Role role, const std::string& password_hash, const std::string& actor,
                                   TimePoint now);

// Failed logins of existing users, kept in the database so that a lockout outlives a restart. A window
// starts at the first failure; `failures_allowed` failures within it lock the account until it ends.
struct LockoutPolicy {
    int failures_allowed = 5;
    std::chrono::seconds window{300};
};
// How long `name` must wait before its next login attempt; nullopt: it may try now.
Result<std::optional<std::chrono::seconds>> account_lockout(storage::Db& db, const std::string& name,
                                                            TimePoint now, const LockoutPolicy& policy);
// Counts a failed login of `name` if such a user exists: unknown names are not stored (they cannot fill the
// table).
Status record_login_failure(storage::Db& db, const std::string& name, TimePoint now,
                            const LockoutPolicy& policy);
Status clear_login_failures(storage::Db& db, const std::string& name);

struct Session {
    std::string token;  // 32 random bytes as hex; returned once, only its SHA-256 is stored
    std::string user;
    Role role = Role::technician;
    TimePoint expires_at;
};

Result<Session> create_session(storage::Db& db, const User& user, TimePoint now,
                               std::chrono::hours ttl = std::chrono::hours(12));
// nullopt for an unknown or expired token and for a user disabled since the login.
Result<std::optional<User>> user_for_token(storage::Db& db, const std::string& token, TimePoint now);
Status delete_session(storage::Db& db, const std::string& token);  // logging out twice is fine

}  // namespace pvfleet::records
