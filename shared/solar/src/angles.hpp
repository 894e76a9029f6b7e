#pragma once
// Degrees to radians, shared by the solar model's source files (one definition, also in unity builds).
#include <numbers>

namespace pvfleet::solar::detail {
inline constexpr double deg = std::numbers::pi / 180.0;
}  // namespace pvfleet::solar::detail
