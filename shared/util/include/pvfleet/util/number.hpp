#pragma once
// Number parsing for the whole tree, on std::from_chars: no exceptions for bad input, no locale, no leading
// blanks or '+'. A number that does not parse is an empty optional the caller turns into its own error.
#include <charconv>
#include <optional>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace pvfleet {

namespace number_detail {
template <class T>
std::from_chars_result from_chars(const char* first, const char* last, T& out, int base) {
    if constexpr (std::is_floating_point_v<T>) {
        (void)base;
        return std::from_chars(first, last, out);
    } else {
        return std::from_chars(first, last, out, base);
    }
}
}  // namespace number_detail

// All of `text` as a T: nullopt for "", "12x", " 12", out of range. `base` applies to integers only.
template <class T>
    requires std::is_arithmetic_v<T>
std::optional<T> parse_number(std::string_view text, int base = 10) {
    T out{};
    const char* last = text.data() + text.size();
    const auto [end, ec] = number_detail::from_chars(text.data(), last, out, base);
    if (ec != std::errc{} || end != last) return std::nullopt;
    return out;
}

// The number `text` starts with, ignoring what follows ("12abc" -> 12, "1.5x" -> 1.5): for text whose tail
// has always been ignored (database columns, path parameters); nullopt when it starts with no number.
template <class T>
    requires std::is_arithmetic_v<T>
std::optional<T> parse_leading_number(std::string_view text) {
    T out{};
    const auto [end, ec] = number_detail::from_chars(text.data(), text.data() + text.size(), out, 10);
    if (ec != std::errc{}) return std::nullopt;
    return out;
}

}  // namespace pvfleet
