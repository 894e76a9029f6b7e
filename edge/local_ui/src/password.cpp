#include "pvfleet/local_ui/password.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <charconv>
#include <optional>
#include <stdexcept>
#include <vector>

namespace pvfleet::local_ui {
namespace {

constexpr std::string_view kScheme = "pbkdf2-sha256";
constexpr int kMinIterations = 1000;
constexpr int kMaxIterations = 10'000'000;

std::string base64(std::string_view raw) {
    std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
    const int n =
        EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(raw.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::optional<std::string> unbase64(std::string_view text) {
    if (text.empty() || text.size() % 4 != 0) return std::nullopt;
    std::string out(text.size() / 4 * 3 + 1, '\0');
    const int n =
        EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                        reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
    if (n < 0) return std::nullopt;
    // EVP_DecodeBlock counts the padding as zero bytes.
    std::size_t len = static_cast<std::size_t>(n);
    for (std::size_t i = text.size(); i > 0 && text[i - 1] == '='; --i) --len;
    out.resize(len);
    return out;
}

std::optional<std::string> derive(std::string_view password, std::string_view salt, int iterations,
                                  std::size_t length) {
    std::string out(length, '\0');
    if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                          reinterpret_cast<const unsigned char*>(salt.data()), static_cast<int>(salt.size()),
                          iterations, EVP_sha256(), static_cast<int>(length),
                          reinterpret_cast<unsigned char*>(out.data())) != 1)
        return std::nullopt;
    return out;
}

}  // namespace

Result<PasswordHash> parse_password_hash(std::string_view text) {
    const auto expected =
        Error{"expected pbkdf2-sha256$ITERATIONS$SALT$HASH (base64; see pvfleet-edge hash-password)"};
    std::vector<std::string_view> parts;
    for (std::size_t start = 0;;) {
        const auto dollar = text.find('$', start);
        parts.push_back(
            text.substr(start, dollar == std::string_view::npos ? std::string_view::npos : dollar - start));
        if (dollar == std::string_view::npos) break;
        start = dollar + 1;
    }
    if (parts.size() != 4 || parts[0] != kScheme) return expected;
    PasswordHash h;
    const auto [end, ec] = std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), h.iterations);
    if (ec != std::errc{} || end != parts[1].data() + parts[1].size() || h.iterations < kMinIterations ||
        h.iterations > kMaxIterations)
        return Error{"iterations: expected " + std::to_string(kMinIterations) + ".." +
                     std::to_string(kMaxIterations)};
    auto salt = unbase64(parts[2]);
    auto hash = unbase64(parts[3]);
    if (!salt || salt->size() < 8) return Error{"salt: expected base64 of at least 8 bytes"};
    if (!hash || hash->size() != 32) return Error{"hash: expected base64 of 32 bytes"};
    h.salt = std::move(*salt);
    h.hash = std::move(*hash);
    return h;
}

std::string format_password_hash(const PasswordHash& h) {
    return std::string(kScheme) + "$" + std::to_string(h.iterations) + "$" + base64(h.salt) + "$" +
           base64(h.hash);
}

Result<std::string> make_password_hash(std::string_view password, int iterations) {
    if (iterations < kMinIterations || iterations > kMaxIterations) return Error{"iterations out of range"};
    PasswordHash h;
    h.iterations = iterations;
    h.salt.resize(16);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(h.salt.data()), static_cast<int>(h.salt.size())) != 1)
        return Error{"no random bytes from OpenSSL", ErrorKind::io};
    auto derived = derive(password, h.salt, iterations, 32);
    if (!derived) return Error{"PBKDF2 failed", ErrorKind::io};
    h.hash = std::move(*derived);
    return format_password_hash(h);
}

bool verify_password(const PasswordHash& stored, std::string_view password) {
    if (stored.hash.empty()) return false;
    auto derived = derive(password, stored.salt, stored.iterations, stored.hash.size());
    // Constant time: how many leading bytes matched must not show in the response time.
    return derived && CRYPTO_memcmp(derived->data(), stored.hash.data(), stored.hash.size()) == 0;
}

std::string random_hex(std::size_t bytes) {
    std::string raw(bytes, '\0');
    // A session token without entropy would be guessable: better to stop than to serve one.
    if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(raw.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes * 2);
    for (unsigned char c : raw) {
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xf]);
    }
    return out;
}

}  // namespace pvfleet::local_ui
