#pragma once
// Enrollment codes, pure rules: the symbols, check symbol and reading are the protocol's
// (pvfleet/protocol/enrollment_code.hpp: 16 Crockford base32 symbols, Luhn mod 32), shared with the gateway page;
// here the server's part: the first 15 symbols random (75 bits from OpenSSL's CSPRNG), only a SHA-256 of the
// canonical form ever stored.
#include <chrono>
#include <string>
#include <string_view>

#include "pvfleet/protocol/enrollment_code.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

using protocol::check_symbol;
using protocol::display_code;
using protocol::kCodeLength;
using protocol::kCrockford;
using protocol::normalize_code;

// A new random code in canonical form (16 symbols, no hyphens).
std::string generate_code();
// Lower-case hex SHA-256 of the canonical code: the only form stored.
std::string code_hash(std::string_view canonical);
// The last group, shown in lists so people can tell codes apart ("…R4NB"); 20 of the 75 random bits.
std::string code_hint(std::string_view canonical);

// "72h", "30m", "3d", "90s" (a whole number and one unit) within 1 s..max; errors say the accepted form.
Result<std::chrono::seconds> parse_ttl(std::string_view text, std::chrono::seconds max);

}  // namespace pvfleet::enrollment
