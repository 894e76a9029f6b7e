// Where a webhook may point (url_policy.hpp).
#include "pvfleet/webhooks/url_policy.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>

#include "pvfleet/util/number.hpp"

namespace pvfleet::webhooks {
namespace {

using V4 = std::array<unsigned char, 4>;

std::string shown(const V4& a) {
    return std::to_string(a[0]) + "." + std::to_string(a[1]) + "." + std::to_string(a[2]) + "." +
           std::to_string(a[3]);
}

std::optional<std::string> v4_refusal(const V4& a, const NetworkPolicy& policy, const std::string& as) {
    const std::string who = as + (as == shown(a) ? "" : " (" + shown(a) + ")");
    if (a[0] == 127)
        return policy.allow_loopback
                   ? std::nullopt
                   : std::optional<std::string>(who + " is a loopback address (webhooks/allow_loopback)");
    if (a[0] == 0) return who + " is no destination address";
    if (a[0] == 169 && a[1] == 254) return who + " is link-local (cloud metadata lives there)";
    if (a[0] >= 224) return who + " is a multicast or reserved address";
    if (a[0] == 100 && a[1] == 100 && a[2] == 100 && a[3] == 200) return who + " is a cloud metadata address";
    const bool is_private = a[0] == 10 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
                            (a[0] == 192 && a[1] == 168) || (a[0] == 100 && (a[1] & 0xc0) == 64) ||
                            (a[0] == 192 && a[1] == 0 && a[2] == 0) || (a[0] == 198 && (a[1] & 0xfe) == 18);
    if (is_private && !policy.allow_private_networks)
        return who + " is in a private network (webhooks/allow_private_networks)";
    return std::nullopt;
}

std::optional<std::string> v6_refusal(const std::array<unsigned char, 16>& b, const NetworkPolicy& policy,
                                      const std::string& as) {
    auto all_zero = [&](std::size_t from, std::size_t to) {
        return std::all_of(b.begin() + static_cast<std::ptrdiff_t>(from),
                           b.begin() + static_cast<std::ptrdiff_t>(to),
                           [](unsigned char c) { return c == 0; });
    };
    auto embedded = [&](std::size_t at) { return V4{b[at], b[at + 1], b[at + 2], b[at + 3]}; };
    // ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::a.b.c.d (NAT64): the IPv4 address decides.
    if (all_zero(0, 10) && b[10] == 0xff && b[11] == 0xff) return v4_refusal(embedded(12), policy, as);
    if (all_zero(0, 15) && b[15] == 1)
        return policy.allow_loopback
                   ? std::nullopt
                   : std::optional<std::string>(as + " is a loopback address (webhooks/allow_loopback)");
    if (all_zero(0, 12)) {
        if (all_zero(12, 16)) return as + " is no destination address";
        return v4_refusal(embedded(12), policy, as);
    }
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && all_zero(4, 12))
        return v4_refusal(embedded(12), policy, as);
    if (b[0] == 0x20 && b[1] == 0x02) return v4_refusal(embedded(2), policy, as);  // 6to4
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return as + " is link-local";
    if (b[0] == 0xff) return as + " is a multicast address";
    // fd00:ec2::254: a cloud's metadata service over IPv6, inside the unique-local range.
    static constexpr std::array<unsigned char, 16> kMetadata{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0,    0,
                                                             0,    0,    0,    0,    0, 0, 0x02, 0x54};
    if (b == kMetadata) return as + " is a cloud metadata address";
    const bool is_private = (b[0] & 0xfe) == 0xfc || (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0);
    if (is_private && !policy.allow_private_networks)
        return as + " is in a private network (webhooks/allow_private_networks)";
    return std::nullopt;
}

// A host the URL standard would read as an IPv4 number: its last label is decimal or 0x-hex.
bool looks_numeric(std::string_view host) {
    std::string_view last = host;
    if (!last.empty() && last.back() == '.') last.remove_suffix(1);
    if (const auto dot = last.rfind('.'); dot != std::string_view::npos) last = last.substr(dot + 1);
    if (last.empty()) return false;
    if (last.size() > 1 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X'))
        return std::all_of(last.begin() + 2, last.end(),
                           [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
    return std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::optional<std::string> address_refusal(std::string_view address, const NetworkPolicy& policy) {
    const std::string text(address);
    V4 v4{};
    if (inet_pton(AF_INET, text.c_str(), v4.data()) == 1) return v4_refusal(v4, policy, text);
    std::array<unsigned char, 16> v6{};
    if (inet_pton(AF_INET6, text.c_str(), v6.data()) == 1) return v6_refusal(v6, policy, text);
    return "'" + text + "' is no IP address";
}

Result<ParsedUrl> parse_url(std::string_view url, const NetworkPolicy& policy, std::size_t max_bytes,
                            const std::string& path) {
    if (url.empty()) return Error::at(path, "required");
    if (url.size() > max_bytes) return Error::at(path, "longer than " + std::to_string(max_bytes) + " bytes");
    for (char c : url)
        if (static_cast<unsigned char>(c) <= ' ' || static_cast<unsigned char>(c) >= 0x7f || c == '\\' ||
            c == '"' || c == '<' || c == '>' || c == '#')
            return Error::at(path,
                             "no blanks, control characters, non-ASCII, '\\', '\"', '<', '>' or fragment");
    ParsedUrl out;
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string_view::npos)
        return Error::at(path, "expected http://HOST[:PORT]/… or https://…");
    out.scheme = std::string(url.substr(0, scheme_end));
    if (out.scheme != "http" && out.scheme != "https")
        return Error::at(path, "scheme '" + out.scheme + "' (expected http or https)");
    const std::string_view rest = url.substr(scheme_end + 3);
    const std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
    if (authority.find('@') != std::string_view::npos)
        return Error::at(path, "no user name or password allowed");
    std::string_view host = authority, port;
    if (!authority.empty() && authority[0] == '[') {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return Error::at(path, "unclosed '[' in the host");
        host = authority.substr(1, close - 1);
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty() && after[0] != ':') return Error::at(path, "unexpected text after ']'");
        if (!after.empty()) port = after.substr(1);
        std::array<unsigned char, 16> v6{};
        if (inet_pton(AF_INET6, std::string(host).c_str(), v6.data()) != 1)
            return Error::at(path, "'" + std::string(host) + "' is no IPv6 address (zone ids are refused)");
        out.host_is_ipv6_literal = true;
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
        host = authority.substr(0, colon);
        port = authority.substr(colon + 1);
        if (port.empty()) return Error::at(path, "port missing after ':'");
    }
    if (host.empty()) return Error::at(path, "host missing");
    out.port = out.scheme == "https" ? 443 : 80;
    if (!port.empty()) {
        const auto p = port.find_first_not_of("0123456789") == std::string_view::npos && port.size() <= 5
                           ? parse_number<int>(std::string(port))
                           : std::nullopt;
        if (!p || *p < 1 || *p > 65535)
            return Error::at(path, "port '" + std::string(port) + "' (expected 1..65535)");
        out.port = *p;
    }
    out.host.assign(host.begin(), host.end());
    if (out.host_is_ipv6_literal) {
        if (auto why = address_refusal(out.host, policy)) return Error::at(path, *why, ErrorKind::rejected);
        return out;
    }
    std::transform(out.host.begin(), out.host.end(), out.host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (out.host.size() > 253) return Error::at(path, "host name longer than 253 characters");
    for (char c : out.host)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
            return Error::at(path, "host '" + out.host + "': only letters, digits, '-' and '.'");
    if (out.host.find("..") != std::string::npos || out.host.front() == '.' || out.host.front() == '-')
        return Error::at(path, "host '" + out.host + "' is no host name");
    if (looks_numeric(out.host)) {
        // 2130706433, 0x7f.1, 127.1, 017700000001: each reaches 127.0.0.1 somewhere. Only the plain form.
        std::array<unsigned char, 4> v4{};
        if (inet_pton(AF_INET, out.host.c_str(), v4.data()) != 1)
            return Error::at(path,
                             "numeric host '" + out.host + "': write an IPv4 address as four decimal numbers",
                             ErrorKind::rejected);
        if (auto why = address_refusal(out.host, policy)) return Error::at(path, *why, ErrorKind::rejected);
    }
    return out;
}

Result<Target> resolve_target(std::string_view url, const NetworkPolicy& policy, std::size_t max_bytes) {
    auto parsed = parse_url(url, policy, max_bytes);
    if (!parsed) return parsed.error();
    Target t{*parsed, {}};
    std::array<unsigned char, 16> v6{};
    std::array<unsigned char, 4> v4{};
    if (parsed->host_is_ipv6_literal || inet_pton(AF_INET, parsed->host.c_str(), v4.data()) == 1 ||
        inet_pton(AF_INET6, parsed->host.c_str(), v6.data()) == 1) {
        t.address = parsed->host;
        return t;
    }
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(parsed->host.c_str(), nullptr, &hints, &found); rc != 0)
        return Error{"cannot resolve '" + parsed->host + "': " + gai_strerror(rc), ErrorKind::io};
    std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owned(found, &freeaddrinfo);
    std::vector<std::string> addresses;
    for (const addrinfo* a = found; a != nullptr; a = a->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        const void* raw =
            a->ai_family == AF_INET
                ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr)
                : static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr);
        if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
            inet_ntop(a->ai_family, raw, text, sizeof text) == nullptr)
            continue;
        if (std::find(addresses.begin(), addresses.end(), text) == addresses.end())
            addresses.emplace_back(text);
    }
    if (addresses.empty()) return Error{"'" + parsed->host + "' has no address", ErrorKind::io};
    // Every address must pass: a name that also resolves inside is refused whole, not tried until one works.
    for (const auto& a : addresses)
        if (auto why = address_refusal(a, policy))
            return Error{"'" + parsed->host + "' resolves to " + *why, ErrorKind::rejected};
    t.address = addresses.front();
    return t;
}

}  // namespace pvfleet::webhooks
