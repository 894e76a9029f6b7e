#pragma once
// A value in single quotes for the refusal texts of the work-order rules.
#include <string>
#include <string_view>

namespace pvfleet::workorders::detail {
inline std::string quoted(std::string_view s) {
    return "'" + std::string(s) + "'";
}
}  // namespace pvfleet::workorders::detail
