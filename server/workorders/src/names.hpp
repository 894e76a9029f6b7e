#pragma once
// Name tables of the module's enums (private).
#include <array>
#include <optional>
#include <string_view>
#include <utility>

namespace pvfleet::workorders::detail {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

template <class E, std::size_t N>
constexpr std::string_view name_of(const Names<E, N>& names, E v) {
    for (const auto& [e, n] : names) {
        if (e == v) return n;
    }
    return "?";
}

template <class E, std::size_t N>
constexpr std::optional<E> parse_name(const Names<E, N>& names, std::string_view s) {
    for (const auto& [e, n] : names) {
        if (n == s) return e;
    }
    return std::nullopt;
}

}  // namespace pvfleet::workorders::detail
