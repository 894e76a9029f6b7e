#include "pvfleet/records/passwords.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "encoding.hpp"

namespace pvfleet::records {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr int kDefaultIterations = 210'000;
constexpr int kMinIterations = 1'000;
// A stored hash names its own cost; a forged one must not make a login take hours.
constexpr int kMaxIterations = 10'000'000;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;

std::string pbkdf2(std::string_view password, std::string_view salt, int iterations, std::size_t bytes) {
    std::string out(bytes, '\0');
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                          iterations, EVP_sha256(), static_cast<int>(bytes),
                          reinterpret_cast<unsigned char*>(out.data())) != 1)
        throw std::runtime_error("PBKDF2-HMAC-SHA256 failed");
    return out;
}

std::vector<std::string_view> split(std::string_view text, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        const auto pos = text.find(sep);
        parts.push_back(text.substr(0, pos));
        if (pos == std::string_view::npos) return parts;
        text.remove_prefix(pos + 1);
    }
}

}  // namespace

int kdf_iterations() {
    if (const char* env = std::getenv("PVFLEET_KDF_ITERATIONS")) {
        int n = 0;
        const std::string_view text(env);
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
        if (ec == std::errc() && end == text.data() + text.size() && n > 0)
            return std::clamp(n, kMinIterations, kDefaultIterations);  // may lower the cost, never raise it
    }
    return kDefaultIterations;
}

std::string hash_password(std::string_view password) {
    const int iterations = kdf_iterations();
    const std::string salt = detail::random_bytes(kSaltBytes);
    std::string hash = pbkdf2(password, salt, iterations, kHashBytes);
    std::string out = std::string(kScheme) + "$" + std::to_string(iterations) + "$" +
                      detail::base64_encode(salt) + "$" + detail::base64_encode(hash);
    OPENSSL_cleanse(hash.data(), hash.size());
    return out;
}

bool verify_password(std::string_view password, std::string_view stored_hash) {
    const auto parts = split(stored_hash, '$');
    if (parts.size() != 4 || parts[0] != kScheme) return false;
    int iterations = 0;
    const auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), iterations);
    if (ec != std::errc() || end != parts[1].data() + parts[1].size() || iterations < kMinIterations ||
        iterations > kMaxIterations)
        return false;
    const auto salt = detail::base64_decode(parts[2]);
    const auto expected = detail::base64_decode(parts[3]);
    if (!salt || !expected || salt->empty() || expected->size() < 16 || expected->size() > 64) return false;
    std::string actual = pbkdf2(password, *salt, iterations, expected->size());
    const bool same = CRYPTO_memcmp(actual.data(), expected->data(), actual.size()) == 0;
    OPENSSL_cleanse(actual.data(), actual.size());
    return same;
}

}  // namespace pvfleet::records
