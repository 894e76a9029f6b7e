#pragma once
// Enrollment codes as both sides read them: 16 symbols of Crockford's base32 (0-9, A-Z without I, L, O, U) shown
// as four groups of four ("7K3M-Q9TX-2HWD-R4NB"), the 16th a Luhn mod 32 check symbol, which catches every single
// mistyped symbol and most swaps of neighbours. Reading is forgiving the way Crockford intends: case is ignored,
// I and L read as 1, O as 0, hyphens and blanks are dropped. The server makes and checks codes
// (server/enrollment/code.hpp); the gateway page reads what an installer typed with the same rules, so a mistyped
// code is answered before it travels.
#include <cstddef>
#include <string>
#include <string_view>

#include "pvfleet/util/result.hpp"

namespace pvfleet::protocol {

inline constexpr std::size_t kCodeLength = 16;
inline constexpr std::string_view kCrockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

// The check symbol of the 15 symbols before it (canonical symbols only).
char check_symbol(std::string_view fifteen);
// Reads what a person typed into the canonical form (16 symbols, no hyphens), or says why it is not a code: a
// symbol outside the alphabet (named, with its position), the wrong length, or a check symbol that does not match
// ("a symbol is mistyped"). Errors are at the key path "code".
Result<std::string> normalize_code(std::string_view typed);
// "XXXX-XXXX-XXXX-XXXX" of a canonical code.
std::string display_code(std::string_view canonical);

}  // namespace pvfleet::protocol
