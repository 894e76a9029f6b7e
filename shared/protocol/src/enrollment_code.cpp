#include "pvfleet/protocol/enrollment_code.hpp"

#include <cctype>

namespace pvfleet::protocol {
namespace {

constexpr int kBase = 32;

// The value of a canonical symbol, or -1.
int value_of(char c) {
    const auto p = kCrockford.find(c);
    return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

// Crockford's reading of one typed character: upper case, I/L → 1, O → 0; 0 for a character to drop (hyphen,
// blank); '?' for one that is no symbol.
char read_symbol(char typed) {
    const char c = static_cast<char>(std::toupper(static_cast<unsigned char>(typed)));
    if (c == '-' || c == ' ' || c == '\t') return 0;
    if (c == 'I' || c == 'L') return '1';
    if (c == 'O') return '0';
    return value_of(c) >= 0 ? c : '?';
}

}  // namespace

char check_symbol(std::string_view fifteen) {
    // Luhn mod N (N = 32): from the right, every other symbol's value is doubled and its base-32 digits added.
    int factor = 2;
    int sum = 0;
    for (auto it = fifteen.rbegin(); it != fifteen.rend(); ++it) {
        int addend = factor * value_of(*it);
        factor = factor == 2 ? 1 : 2;
        addend = addend / kBase + addend % kBase;
        sum += addend;
    }
    return kCrockford[static_cast<std::size_t>((kBase - sum % kBase) % kBase)];
}

Result<std::string> normalize_code(std::string_view typed) {
    std::string code;
    if (typed.size() > 64) return Error::at("code", "too long (expected 16 symbols as XXXX-XXXX-XXXX-XXXX)");
    for (std::size_t i = 0; i < typed.size(); ++i) {
        const char s = read_symbol(typed[i]);
        if (s == 0) continue;
        if (s == '?') {
            const bool printable = std::isprint(static_cast<unsigned char>(typed[i])) != 0;
            return Error::at("code", (printable ? "'" + std::string(1, typed[i]) + "'" : std::string("a character")) +
                                         " at position " + std::to_string(i + 1) +
                                         " is not a code symbol (0-9, A-Z without U)");
        }
        code.push_back(s);
    }
    if (code.size() != kCodeLength)
        return Error::at("code", std::to_string(code.size()) + " symbols (expected 16, as XXXX-XXXX-XXXX-XXXX)");
    if (check_symbol(std::string_view(code).substr(0, kCodeLength - 1)) != code.back())
        return Error::at("code", "the check symbol does not match: a symbol is mistyped");
    return code;
}

std::string display_code(std::string_view canonical) {
    std::string out;
    for (std::size_t i = 0; i < canonical.size(); ++i) {
        if (i > 0 && i % 4 == 0) out.push_back('-');
        out.push_back(canonical[i]);
    }
    return out;
}

}  // namespace pvfleet::protocol
