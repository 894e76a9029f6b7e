// Download links (an HMAC token over release, site and expiry) and the Range header of a download.
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <fstream>

#include "pvfleet/releases/releases.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::releases {
namespace {

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 15];
    }
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

}  // namespace

Result<LinkKey> load_or_make_link_key(const std::filesystem::path& file) {
    {
        std::ifstream in(file, std::ios::binary);
        if (in) {
            std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
            if (bytes.size() != 32) return Error{"releases: '" + file.string() + "' is not a 32-byte link key"};
            return LinkKey{std::move(bytes)};
        }
    }
    std::string bytes(32, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), 32) != 1) return Error{"no random bytes"};
    std::error_code ec;
    std::filesystem::create_directories(file.parent_path(), ec);
    const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Error{"releases: '" + file.string() + "' cannot be created", ErrorKind::io};
    const bool ok = ::write(fd, bytes.data(), bytes.size()) == 32 && ::fsync(fd) == 0;
    ::close(fd);
    if (!ok) return Error{"releases: '" + file.string() + "' cannot be written", ErrorKind::io};
    return LinkKey{std::move(bytes)};
}

std::string link_token(const LinkKey& key, const std::string& sha256, const std::string& site, std::int64_t expires_s) {
    const std::string msg = sha256 + "\n" + site + "\n" + std::to_string(expires_s);
    unsigned char mac[32];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.bytes.data(), static_cast<int>(key.bytes.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac, &len);
    return hex(mac, len);
}

std::string download_url(const Settings& settings, const LinkKey& key, const Release& r, const std::string& site,
                         TimePoint now) {
    const auto expires = to_epoch_ms(now) / 1000 + settings.link_lifetime.count();
    std::string base = settings.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/api/releases/" + r.sha256 + "/download?site=" + site + "&expires=" + std::to_string(expires) +
           "&token=" + link_token(key, r.sha256, site, expires);
}

bool link_valid(const LinkKey& key, const std::string& sha256, const std::string& site, std::string_view expires,
                std::string_view token, TimePoint now) {
    const auto e = parse_number<std::int64_t>(expires);
    if (!e || *e < to_epoch_ms(now) / 1000) return false;
    const std::string expected = link_token(key, sha256, site, *e);
    return token.size() == expected.size() && CRYPTO_memcmp(token.data(), expected.data(), expected.size()) == 0;
}

RangeRequest parse_range(const std::optional<std::string>& range, const std::optional<std::string>& if_range,
                         const std::string& etag, std::uint64_t size) {
    RangeRequest out;
    if (!range) return out;
    if (if_range && trim(*if_range) != etag) return out;  // the file changed (or a date we do not compare): whole
    std::string_view spec = trim(*range);
    constexpr std::string_view kUnit = "bytes=";
    if (spec.substr(0, kUnit.size()) != kUnit) {
        out.outcome = RangeOutcome::ignored;  // another unit: ignored, as RFC 9110 allows
        return out;
    }
    spec.remove_prefix(kUnit.size());
    if (spec.find(',') != std::string_view::npos) {
        out.outcome = RangeOutcome::multiple;
        return out;
    }
    spec = trim(spec);
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) {
        out.outcome = RangeOutcome::ignored;
        return out;
    }
    const auto first_text = trim(spec.substr(0, dash)), last_text = trim(spec.substr(dash + 1));
    const auto bad = [&] {
        out.outcome = RangeOutcome::ignored;  // a malformed Range is ignored (whole file)
        return out;
    };
    if (first_text.empty()) {  // suffix: the last N bytes
        const auto n = parse_number<std::uint64_t>(last_text);
        if (!n) return bad();
        if (*n == 0 || size == 0) {
            out.outcome = RangeOutcome::unsatisfiable;
            return out;
        }
        out.range = {size - std::min(*n, size), size - 1};
        out.outcome = RangeOutcome::partial;
        return out;
    }
    const auto first = parse_number<std::uint64_t>(first_text);
    if (!first) return bad();
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!last_text.empty()) {
        const auto l = parse_number<std::uint64_t>(last_text);
        if (!l || *l < *first) return bad();
        last = std::min(*l, last);
    }
    if (*first >= size) {
        out.outcome = RangeOutcome::unsatisfiable;
        return out;
    }
    out.range = {*first, last};
    out.outcome = RangeOutcome::partial;
    return out;
}

}  // namespace pvfleet::releases
