#pragma once
// The local page's password: kept only as a PBKDF2-HMAC-SHA256 hash in the site config (or a file it names),
//   pbkdf2-sha256$ITERATIONS$SALT$HASH   (SALT and HASH in standard base64)
// made by `pvfleet-edge hash-password`. Checked with a constant-time compare.
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::local_ui {

struct PasswordHash {
    int iterations = 0;
    std::string salt;  // raw bytes
    std::string hash;  // raw bytes (32 for SHA-256)
    friend bool operator==(const PasswordHash&, const PasswordHash&) = default;
};

// Enough to make guessing slow, little enough that one login costs a Raspberry Pi well under 100 ms (the
// check runs on the agent's executor; the per-client limit bounds how often).
inline constexpr int kDefaultIterations = 100'000;

Result<PasswordHash> parse_password_hash(std::string_view text);
std::string format_password_hash(const PasswordHash& hash);
// A new hash with a random 16-byte salt.
Result<std::string> make_password_hash(std::string_view password, int iterations = kDefaultIterations);
bool verify_password(const PasswordHash& stored, std::string_view password);

// Random bytes from OpenSSL's CSPRNG, as lowercase hex (2 characters per byte).
std::string random_hex(std::size_t bytes);

}  // namespace pvfleet::local_ui
