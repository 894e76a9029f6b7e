#pragma once
// Password hashes for server users: PBKDF2-HMAC-SHA256 from OpenSSL, stored as
// "pbkdf2-sha256$<iterations>$<salt base64>$<hash base64>" so the cost can be raised later without breaking
// stored hashes (each hash carries its own iteration count).
#include <string>
#include <string_view>

namespace pvfleet::records {

// 210 000 iterations (OWASP 2023 for PBKDF2-HMAC-SHA256); PVFLEET_KDF_ITERATIONS may lower it for tests,
// never below 1000.
int kdf_iterations();
std::string hash_password(std::string_view password);
// False for a wrong password and for anything that is not a hash in the format above. Constant-time compare.
bool verify_password(std::string_view password, std::string_view stored_hash);

}  // namespace pvfleet::records
