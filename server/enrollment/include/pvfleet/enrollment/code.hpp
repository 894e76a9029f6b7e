#pragma once
// Enrollment codes, pure rules: 16 symbols of Crockford's base32 (0-9, A-Z without I, L, O, U) shown as four
// groups of four ("7K3M-Q9TX-2HWD-R4NB"). The first 15 symbols are random (75 bits from OpenSSL's CSPRNG); the
// 16th is a Luhn mod 32 check symbol, which catches every single mistyped symbol and most swaps of neighbours
// before the server looks anything up. Reading is forgiving the way Crockford intends: case is ignored, I and L
// read as 1, O as 0, hyphens and blanks are dropped. Only a SHA-256 of the canonical form is ever stored.
#include <chrono>
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::enrollment {

inline constexpr std::size_t kCodeLength = 16;
inline constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// A new random code in canonical form (16 symbols, no hyphens).
std::string generate_code();
// The check symbol of the 15 symbols before it (canonical symbols only).
char check_symbol(std::string_view fifteen);
// Reads what a person typed into the canonical form, or says why it is not a code: a symbol outside the alphabet
// (named, with its position), the wrong length, or a check symbol that does not match ("a symbol is mistyped").
Result<std::string> normalize_code(std::string_view typed);
// "XXXX-XXXX-XXXX-XXXX" of a canonical code.
std::string display_code(std::string_view canonical);
// Lower-case hex SHA-256 of the canonical code: the only form stored.
std::string code_hash(std::string_view canonical);
// The last group, shown in lists so people can tell codes apart ("…R4NB"); 20 of the 75 random bits.
std::string code_hint(std::string_view canonical);

// "72h", "30m", "3d", "90s" (a whole number and one unit) within 1 s..max; errors say the accepted form.
Result<std::chrono::seconds> parse_ttl(std::string_view text, std::chrono::seconds max);

}  // namespace pvfleet::enrollment
