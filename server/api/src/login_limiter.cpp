#include "pvfleet/api/login_limiter.hpp"

#include <algorithm>
#include <boost/asio/ip/address.hpp>

namespace pvfleet::api {

FailureTable::FailureTable(std::size_t max_entries, int allowed, std::chrono::seconds window)
    : max_entries_(std::max<std::size_t>(max_entries, 1)), allowed_(allowed), window_(window) {}

std::optional<std::chrono::seconds> FailureTable::blocked(const std::string& key, TimePoint now) const {
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    const Entry& e = *it->second;
    const TimePoint window_end = e.window_start + window_;
    if (now >= window_end || e.failures < allowed_) return std::nullopt;
    // Whole seconds, rounded up: a client that waits that long is let in.
    const auto wait = std::chrono::ceil<std::chrono::seconds>(window_end - now);
    return std::max(wait, std::chrono::seconds(1));
}

void FailureTable::drop_expired(TimePoint now) {
    while (!entries_.empty() && entries_.back().window_start + window_ <= now) {
        index_.erase(entries_.back().key);
        entries_.pop_back();
    }
}

void FailureTable::add_failure(const std::string& key, TimePoint now) {
    drop_expired(now);
    if (const auto it = index_.find(key); it != index_.end()) {
        Entry& e = *it->second;
        if (e.window_start + window_ <= now) {
            e.failures = 1;
            e.window_start = now;
        } else {
            ++e.failures;
        }
        entries_.splice(entries_.begin(), entries_, it->second);
        return;
    }
    if (index_.size() >= max_entries_) {
        index_.erase(entries_.back().key);
        entries_.pop_back();
    }
    entries_.push_front(Entry{key, 1, now});
    index_.emplace(entries_.front().key, entries_.begin());
}

void FailureTable::remove_failure(const std::string& key) {
    const auto it = index_.find(key);
    if (it == index_.end()) return;
    if (--it->second->failures > 0) return;
    const auto entry = it->second;
    index_.erase(it);
    entries_.erase(entry);
}

void FailureTable::clear(const std::string& key) {
    const auto it = index_.find(key);
    if (it == index_.end()) return;
    const auto entry = it->second;
    index_.erase(it);
    entries_.erase(entry);
}

std::string address_key(std::string_view remote) {
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(std::string(remote), ec);
    if (ec || !address.is_v6()) return std::string(remote);
    const auto v6 = address.to_v6();
    if (v6.is_v4_mapped())
        return boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    for (std::size_t i = 8; i < bytes.size(); ++i) bytes[i] = 0;
    return boost::asio::ip::address_v6(bytes).to_string() + "/64";
}

LoginLimiter::LoginLimiter(LoginLimits limits)
    : limits_(limits),
      accounts_(limits.max_entries, limits.per_account, limits.window),
      addresses_(limits.max_entries, limits.per_address, limits.window) {}

std::optional<std::chrono::seconds> LoginLimiter::begin(std::string_view remote, const std::string& account,
                                                        TimePoint now) {
    const std::string address = address_key(remote);
    std::lock_guard lock(mutex_);
    const auto by_address = addresses_.blocked(address, now);
    const auto by_account = accounts_.blocked(account, now);
    if (by_address || by_account)
        return std::max(by_address.value_or(std::chrono::seconds(0)),
                        by_account.value_or(std::chrono::seconds(0)));
    addresses_.add_failure(address, now);
    accounts_.add_failure(account, now);
    return std::nullopt;
}

void LoginLimiter::succeeded(std::string_view remote, const std::string& account) {
    const std::string address = address_key(remote);
    std::lock_guard lock(mutex_);
    addresses_.remove_failure(address);
    accounts_.clear(account);
}

void LoginLimiter::not_attempted(std::string_view remote, const std::string& account) {
    const std::string address = address_key(remote);
    std::lock_guard lock(mutex_);
    addresses_.remove_failure(address);
    accounts_.remove_failure(account);
}

std::size_t LoginLimiter::entries() const {
    std::lock_guard lock(mutex_);
    return accounts_.size() + addresses_.size();
}

}  // namespace pvfleet::api
