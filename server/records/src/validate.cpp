#include "pvfleet/records/field_checks.hpp"

#include <date/date.h>
#include <date/tz.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <stdexcept>

#include "pvfleet/protocol/topics.hpp"

namespace pvfleet::records::detail {
namespace {

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Decodes one UTF-8 sequence at `i`; invalid bytes come back as themselves so nothing is lost.
char32_t next_code_point(std::string_view s, std::size_t& i) {
    const auto b = static_cast<unsigned char>(s[i]);
    auto cont = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]) & 0x3f; };
    auto is_cont = [&](std::size_t k) {
        return i + k < s.size() && (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    };
    if (b < 0x80) {
        ++i;
        return b;
    }
    if ((b & 0xe0) == 0xc0 && is_cont(1)) {
        const char32_t cp = (static_cast<char32_t>(b & 0x1f) << 6) | cont(1);
        i += 2;
        return cp;
    }
    if ((b & 0xf0) == 0xe0 && is_cont(1) && is_cont(2)) {
        const char32_t cp =
            (static_cast<char32_t>(b & 0x0f) << 12) | (static_cast<char32_t>(cont(1)) << 6) | cont(2);
        i += 3;
        return cp;
    }
    if ((b & 0xf8) == 0xf0 && is_cont(1) && is_cont(2) && is_cont(3)) {
        const char32_t cp = (static_cast<char32_t>(b & 0x07) << 18) | (static_cast<char32_t>(cont(1)) << 12) |
                            (static_cast<char32_t>(cont(2)) << 6) | cont(3);
        i += 4;
        return cp;
    }
    ++i;
    return 0xfffd;
}

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
}

char32_t lower(char32_t cp) {
    if (cp >= 'A' && cp <= 'Z') return cp + 32;
    if (cp >= 0xc0 && cp <= 0xde && cp != 0xd7) return cp + 32;  // Latin-1: À..Þ
    if (cp >= 0x100 && cp <= 0x17f && cp != 0x130 && cp != 0x131 && cp != 0x138 && cp != 0x149) {
        // Latin Extended-A comes in upper/lower pairs; the pairing flips at U+0139 and again at U+014A.
        const bool odd_upper = (cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17e);
        if (odd_upper ? (cp % 2 == 1) : (cp % 2 == 0)) return cp + 1;
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3ab && cp != 0x3a2) return cp + 32;  // Greek
    if (cp >= 0x410 && cp <= 0x42f) return cp + 32;                 // Cyrillic А..Я
    if (cp >= 0x400 && cp <= 0x40f) return cp + 80;                 // Cyrillic Ѐ..Џ
    return cp;
}

}  // namespace

std::string trim(std::string_view text) {
    const auto* space = " \t\r\n";
    const auto first = text.find_first_not_of(space);
    if (first == std::string_view::npos) return {};
    const auto last = text.find_last_not_of(space);
    return std::string(text.substr(first, last - first + 1));
}

Problem check_customer_name(std::string_view name) {
    if (trim(name).empty()) return "required";
    return check_text(name, 200);
}

Problem check_text(std::string_view text, std::size_t max_bytes) {
    if (text.size() > max_bytes) return "longer than " + std::to_string(max_bytes) + " bytes";
    for (const char c : text)
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\r' && c != '\t')
            return "contains control characters";
    return std::nullopt;
}

Problem check_email(std::string_view email) {
    if (email.empty()) return std::nullopt;
    if (email.size() > 254) return "longer than 254 characters";
    const auto at = email.find('@');
    if (at == std::string_view::npos || at == 0 || email.find('@', at + 1) != std::string_view::npos)
        return "not an e-mail address";
    const auto domain = email.substr(at + 1);
    const auto dot = domain.rfind('.');
    if (dot == std::string_view::npos || dot == 0 || dot + 2 > domain.size() || domain.front() == '-' ||
        domain.find("..") != std::string_view::npos)
        return "not an e-mail address";
    for (const char c : email)
        if (static_cast<unsigned char>(c) <= 0x20 || c == ',' || c == ';' || c == '<' || c == '>' ||
            c == '"' || c == '(' || c == ')' || c == '[' || c == ']' || c == '\\')
            return "not an e-mail address";
    return std::nullopt;
}

Problem check_phone(std::string_view phone) {
    if (phone.empty()) return std::nullopt;
    if (phone.size() > 40) return "longer than 40 characters";
    int digits = 0;
    for (std::size_t i = 0; i < phone.size(); ++i) {
        const char c = phone[i];
        if (is_digit(c))
            ++digits;
        else if (c == '+' && i == 0)
            continue;
        else if (c != ' ' && c != '-' && c != '(' && c != ')' && c != '/' && c != '.')
            return "only digits, spaces, a leading + and - ( ) / . are allowed";
    }
    if (digits < 3) return "too few digits";
    return std::nullopt;
}

Problem check_site_id(std::string_view site_id) {
    if (site_id.empty()) return "required";
    if (site_id.size() > 63) return "longer than 63 characters";
    auto lower_alnum = [](char c) { return is_digit(c) || (c >= 'a' && c <= 'z'); };
    if (!lower_alnum(site_id.front())) return "must start with a lower-case letter or digit";
    for (const char c : site_id)
        if (!lower_alnum(c) && c != '-') return "only lower-case letters, digits and '-' are allowed";
    if (protocol::is_reserved_site_id(site_id)) return "reserved for the broker and the server (broker, ca, pvfleet-…)";
    return std::nullopt;
}

Problem check_time_zone(const std::string& zone) {
    if (zone.empty()) return "required";
    try {
        (void)date::locate_zone(zone);
        return std::nullopt;
    } catch (const std::runtime_error&) {
        return "unknown time zone '" + zone + "' (expected an IANA name such as Europe/Berlin)";
    }
}

Problem check_date(std::string_view text) {
    const Problem bad = "not a date (expected YYYY-MM-DD)";
    if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad;
    int y = 0;
    unsigned m = 0, d = 0;
    auto number = [&](std::size_t from, std::size_t len, auto& out) {
        const auto* first = text.data() + from;
        const auto [end, ec] = std::from_chars(first, first + len, out);
        return ec == std::errc() && end == first + len;
    };
    if (!number(0, 4, y) || !number(5, 2, m) || !number(8, 2, d)) return bad;
    if (!date::year_month_day{date::year{y}, date::month{m}, date::day{d}}.ok()) return "no such day";
    if (y < 1990 || y > 2100) return "year out of range (1990..2100)";
    return std::nullopt;
}

Problem check_latitude(double v) {
    if (!std::isfinite(v) || v < -90 || v > 90) return "must be between -90 and 90";
    return std::nullopt;
}
Problem check_longitude(double v) {
    if (!std::isfinite(v) || v < -180 || v > 180) return "must be between -180 and 180";
    return std::nullopt;
}
Problem check_kwp(double v) {
    if (!std::isfinite(v) || v <= 0) return "must be greater than 0";
    if (v > 10'000) return "must be at most 10000 (kWp)";
    return std::nullopt;
}
Problem check_tilt(double v) {
    if (!std::isfinite(v) || v < 0 || v > 90) return "must be between 0 and 90";
    return std::nullopt;
}
Problem check_azimuth(double v) {
    if (!std::isfinite(v) || v < 0 || v > 360) return "must be between 0 and 360";
    return std::nullopt;
}

std::optional<double> parse_number(std::string_view text) {
    if (text.empty() || text.front() == '+') return std::nullopt;
    double v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
}

std::string fold_case(std::string_view utf8) {
    std::string out;
    out.reserve(utf8.size());
    for (std::size_t i = 0; i < utf8.size();) append_utf8(out, lower(next_code_point(utf8, i)));
    return out;
}

std::string mask(std::string_view utf8) {
    if (utf8.empty()) return {};
    std::size_t characters = 0;
    for (std::size_t i = 0; i < utf8.size(); ++characters) (void)next_code_point(utf8, i);
    return "*** (" + std::to_string(characters) + " characters)";
}

}  // namespace pvfleet::records::detail
