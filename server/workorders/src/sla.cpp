#include "pvfleet/workorders/sla.hpp"

#include "pvfleet/util/enum_names.hpp"

namespace pvfleet::workorders {
namespace {

constexpr EnumNames<SlaState, 3> kSlaStates{
    {{SlaState::green, "green"}, {SlaState::yellow, "yellow"}, {SlaState::red, "red"}}};

}  // namespace

std::string_view to_string(SlaState v) {
    return enum_name(kSlaStates, v);
}
std::optional<SlaState> parse_sla_state(std::string_view s) {
    return enum_from_name(kSlaStates, s);
}

SlaState sla_state(const WorkOrder& order, TimePoint now) {
    // A finished order keeps the colour it had when it was finished; one stored without closed_at (should not
    // happen) is judged at its last change.
    const TimePoint judged_at = is_open(order.state) ? now : order.closed_at.value_or(order.updated_at);
    if (judged_at > order.due_at) return SlaState::red;
    const auto allowed = order.due_at - order.created_at;
    const auto left = order.due_at - judged_at;
    // left < 25 % of allowed, in integers (no rounding at the boundary).
    if (left * 4 < allowed) return SlaState::yellow;
    return SlaState::green;
}

}  // namespace pvfleet::workorders
