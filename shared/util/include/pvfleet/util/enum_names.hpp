#pragma once
// Stable text names of an enumeration, written once as a table: the name of a value, the value of a name and
// the list an error message offers ("expected info, minor, major, critical") all come from the same table, so
// a new value cannot be spelled one way on the wire and another in a message.
//
//   inline constexpr EnumNames<Severity, 2> kSeverityNames{{{Severity::info, "info"}, {Severity::major, "major"}}};
//   enum_name(kSeverityNames, Severity::info)   -> "info"
//   enum_from_name(kSeverityNames, "major")     -> Severity::major
//   enum_names_list(kSeverityNames)             -> "info, major"
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace pvfleet {

template <class E, std::size_t N>
using EnumNames = std::array<std::pair<E, std::string_view>, N>;

// "?" for a value missing from the table (a cast from a number out of range).
template <class E, std::size_t N>
constexpr std::string_view enum_name(const EnumNames<E, N>& names, E v) {
    for (const auto& [e, n] : names) {
        if (e == v) return n;
    }
    return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> enum_from_name(const EnumNames<E, N>& names, std::string_view s) {
    for (const auto& [e, n] : names) {
        if (n == s) return e;
    }
    return std::nullopt;
}

// The names in table order, separated by ", ".
template <class E, std::size_t N>
std::string enum_names_list(const EnumNames<E, N>& names) {
    std::string out;
    for (const auto& [e, n] : names) {
        if (!out.empty()) out += ", ";
        out += n;
    }
    return out;
}

}  // namespace pvfleet
