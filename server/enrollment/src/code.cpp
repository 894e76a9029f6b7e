#include "pvfleet/enrollment/code.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

#include "pvfleet/util/number.hpp"

namespace pvfleet::enrollment {
namespace {

constexpr int kBase = 32;

}  // namespace

std::string generate_code() {
    std::array<unsigned char, kCodeLength - 1> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("the random generator failed");  // unexpected: the CSPRNG is seeded at start
    std::string code;
    for (const unsigned char b : bytes) code.push_back(kCrockford[b % kBase]);  // 256 is a multiple of 32
    code.push_back(check_symbol(code));
    return code;
}

std::string code_hash(std::string_view canonical) {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int n = 0;
    if (EVP_Digest(canonical.data(), canonical.size(), digest.data(), &n, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("SHA-256 failed");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < n; ++i) {
        out.push_back(kHex[digest[i] >> 4]);
        out.push_back(kHex[digest[i] & 0xf]);
    }
    return out;
}

std::string code_hint(std::string_view canonical) {
    return std::string(canonical.substr(canonical.size() >= 4 ? canonical.size() - 4 : 0));
}

Result<std::chrono::seconds> parse_ttl(std::string_view text, std::chrono::seconds max) {
    const auto bad = [&] {
        return Error::at("ttl", "'" + std::string(text) + "' (expected a whole number and a unit, e.g. 72h, 30m, 3d, " +
                                    "at most " + std::to_string(max.count() / 3600) + "h)");
    };
    if (text.size() < 2 || text.size() > 12) return bad();
    const auto number = parse_number<long long>(text.substr(0, text.size() - 1));
    if (!number || *number <= 0) return bad();
    long long unit = 0;
    switch (text.back()) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return bad();
    }
    if (*number > max.count() / unit) return bad();
    return std::chrono::seconds(*number * unit);
}

}  // namespace pvfleet::enrollment
