#include "pvfleet/workorders/work_order.hpp"

#include "names.hpp"

namespace pvfleet::workorders {
namespace {

using detail::Names;

constexpr Names<WorkOrderState, 6> kStates{{{WorkOrderState::new_order, "new"},
                                            {WorkOrderState::assigned, "assigned"},
                                            {WorkOrderState::in_progress, "in_progress"},
                                            {WorkOrderState::done, "done"},
                                            {WorkOrderState::closed, "closed"},
                                            {WorkOrderState::cancelled, "cancelled"}}};
constexpr Names<Priority, 4> kPriorities{{{Priority::low, "low"},
                                          {Priority::normal, "normal"},
                                          {Priority::high, "high"},
                                          {Priority::urgent, "urgent"}}};
constexpr Names<Role, 4> kRoles{{{Role::admin, "admin"},
                                 {Role::back_office, "back_office"},
                                 {Role::technician, "technician"},
                                 {Role::manager, "manager"}}};

}  // namespace

std::string_view to_string(WorkOrderState v) {
    return detail::name_of(kStates, v);
}
std::string_view to_string(Priority v) {
    return detail::name_of(kPriorities, v);
}
std::string_view to_string(Role v) {
    return detail::name_of(kRoles, v);
}
std::optional<WorkOrderState> parse_work_order_state(std::string_view s) {
    return detail::parse_name(kStates, s);
}
std::optional<Priority> parse_priority(std::string_view s) {
    return detail::parse_name(kPriorities, s);
}
std::optional<Role> parse_role(std::string_view s) {
    return detail::parse_name(kRoles, s);
}

}  // namespace pvfleet::workorders
