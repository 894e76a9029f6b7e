// The enrollment code as an installer types it on the gateway page, read with the server's rules
// (server/enrollment/code.hpp): Crockford base32, I/L read as 1, O as 0, hyphens and blanks dropped, and the Luhn
// mod 32 check symbol, so a mistyped symbol is caught on the gateway before the code travels.
#include <cctype>
#include <string_view>

#include "pvfleet/enroll/enroll.hpp"

namespace pvfleet::enroll {
namespace {

constexpr std::string_view kCodeAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

int code_value(char c) {
    const auto p = kCodeAlphabet.find(c);
    return p == std::string_view::npos ? -1 : static_cast<int>(p);
}

char luhn32(std::string_view fifteen) {
    int factor = 2;
    int sum = 0;
    for (auto it = fifteen.rbegin(); it != fifteen.rend(); ++it) {
        int addend = factor * code_value(*it);
        factor = factor == 2 ? 1 : 2;
        sum += addend / 32 + addend % 32;
    }
    return kCodeAlphabet[static_cast<std::size_t>((32 - sum % 32) % 32)];
}

}  // namespace

Result<std::string> read_typed_code(std::string_view typed) {
    if (typed.size() > 64) return Error::at("code", "too long (expected 16 symbols as XXXX-XXXX-XXXX-XXXX)");
    std::string code;
    for (std::size_t i = 0; i < typed.size(); ++i) {
        char c = static_cast<char>(std::toupper(static_cast<unsigned char>(typed[i])));
        if (c == '-' || c == ' ' || c == '\t') continue;
        if (c == 'I' || c == 'L') c = '1';
        if (c == 'O') c = '0';
        if (code_value(c) < 0)
            return Error::at("code", (std::isprint(static_cast<unsigned char>(typed[i])) != 0
                                          ? "'" + std::string(1, typed[i]) + "'"
                                          : std::string("a character")) +
                                         " at position " + std::to_string(i + 1) +
                                         " is not a code symbol (0-9, A-Z without U)");
        code.push_back(c);
    }
    if (code.size() != 16)
        return Error::at("code", std::to_string(code.size()) + " symbols (expected 16, as XXXX-XXXX-XXXX-XXXX)");
    if (luhn32(std::string_view(code).substr(0, 15)) != code.back())
        return Error::at("code", "the check symbol does not match: a symbol is mistyped");
    return code.substr(0, 4) + "-" + code.substr(4, 4) + "-" + code.substr(8, 4) + "-" + code.substr(12, 4);
}

}  // namespace pvfleet::enroll
