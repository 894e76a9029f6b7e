#pragma once
// Where a webhook may point (docs/webhooks.md, "Where a webhook may point"). The server may sit beside cloud
// metadata endpoints and internal services, so a URL is checked twice: its form when it is saved (scheme,
// host, no credentials, no ambiguous numeric host such as 2130706433 or 0x7f.1), and every address its host
// resolves to before each attempt — the attempt then connects to that very address (CURLOPT_RESOLVE), so a
// DNS answer that changes in between cannot move it.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/util/result.hpp"
#include "pvfleet/webhooks/webhooks.hpp"

namespace pvfleet::webhooks {

struct ParsedUrl {
    std::string scheme;  // http or https
    std::string host;    // lower case; an IPv6 literal without brackets
    bool host_is_ipv6_literal = false;
    int port = 0;  // the scheme's default when none is written
};

// The URL's form (errors at `path`, e.g. "url: …"); a literal address is checked against the policy too.
Result<ParsedUrl> parse_url(std::string_view url, const NetworkPolicy& policy, std::size_t max_bytes,
                            const std::string& path = "url");

// Why `address` (an IPv4 or IPv6 literal) may not be connected to under `policy`; nullopt when it may.
// IPv4-mapped and -compatible IPv6 forms are judged as the IPv4 address they carry.
std::optional<std::string> address_refusal(std::string_view address, const NetworkPolicy& policy);

struct Target {
    ParsedUrl url;
    std::string address;  // what the attempt connects to
};
// Resolves the host (a literal stays itself) and checks every address it has; pins the first.
Result<Target> resolve_target(std::string_view url, const NetworkPolicy& policy, std::size_t max_bytes);

}  // namespace pvfleet::webhooks
