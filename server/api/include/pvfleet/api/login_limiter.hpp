#pragma once
// Limits on failed logins, kept in memory with a fixed maximum of entries whatever names and addresses
// arrive. Failures are counted per account (across every address) and per address; an IPv6 peer counts by its
// /64 network, which is what one client usually holds. The per-account count of an existing user is also
// kept in the database (records::record_login_failure) so that a lockout survives a restart; this table
// covers every name, so an unknown name is limited exactly like a real one.
#include <chrono>
#include <cstddef>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::api {

// Failures per key within a window that starts at the key's first failure; once `allowed` failures are in,
// the key waits until the window ends. At most `max_entries` keys: keys whose window has ended are dropped as
// the table is used, and when it is full the key with the oldest last failure makes room.
class FailureTable {
public:
    FailureTable(std::size_t max_entries, int allowed, std::chrono::seconds window);

    // How long `key` must wait before its next attempt; nullopt: it may try now.
    [[nodiscard]] std::optional<std::chrono::seconds> blocked(const std::string& key, TimePoint now) const;
    void add_failure(const std::string& key, TimePoint now);
    // Takes back one failure counted ahead of an attempt that turned out not to be one.
    void remove_failure(const std::string& key);
    void clear(const std::string& key);
    [[nodiscard]] std::size_t size() const { return index_.size(); }

private:
    struct Entry {
        std::string key;
        int failures = 0;
        TimePoint window_start;
    };
    void drop_expired(TimePoint now);

    std::size_t max_entries_;
    int allowed_;
    std::chrono::seconds window_;
    std::list<Entry> entries_;                                                // most recent failure first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // keys point into entries_
};

struct LoginLimits {
    int per_account = 5;   // failed logins of one user name, from any address
    int per_address = 20;  // failed logins from one address (or IPv6 /64), whatever the names
    std::chrono::seconds window{300};
    std::size_t max_entries = 10'000;  // of each table (accounts, addresses)
};

// The key an address counts under: the address itself, or the /64 network of an IPv6 address.
std::string address_key(std::string_view remote);

class LoginLimiter {
public:
    explicit LoginLimiter(LoginLimits limits);

    // Blocked: how long to wait. Otherwise the attempt is counted as a failure of the account and the
    // address right away (concurrent attempts cannot slip past the limit while their passwords are checked)
    // until succeeded() or not_attempted() takes it back.
    std::optional<std::chrono::seconds> begin(std::string_view remote, const std::string& account,
                                              TimePoint now);
    // The password was right: the account's failures are forgotten, the address's count is taken back.
    void succeeded(std::string_view remote, const std::string& account);
    // The password was not checked (the server was busy): the attempt is taken back.
    void not_attempted(std::string_view remote, const std::string& account);

    [[nodiscard]] const LoginLimits& limits() const { return limits_; }
    [[nodiscard]] std::size_t entries() const;  // of both tables

private:
    LoginLimits limits_;
    mutable std::mutex mutex_;
    FailureTable accounts_;
    FailureTable addresses_;
};

}  // namespace pvfleet::api
