#include "pvfleet/workorders/work_order.hpp"

#include "pvfleet/util/enum_names.hpp"

namespace pvfleet::workorders {
namespace {

constexpr EnumNames<WorkOrderState, 6> kStates{{{WorkOrderState::new_order, "new"},
                                            {WorkOrderState::assigned, "assigned"},
                                            {WorkOrderState::in_progress, "in_progress"},
                                            {WorkOrderState::done, "done"},
                                            {WorkOrderState::closed, "closed"},
                                            {WorkOrderState::cancelled, "cancelled"}}};
constexpr EnumNames<Priority, 4> kPriorities{{{Priority::low, "low"},
                                          {Priority::normal, "normal"},
                                          {Priority::high, "high"},
                                          {Priority::urgent, "urgent"}}};
constexpr EnumNames<Role, 4> kRoles{{{Role::admin, "admin"},
                                 {Role::back_office, "back_office"},
                                 {Role::technician, "technician"},
                                 {Role::manager, "manager"}}};

}  // namespace

std::string_view to_string(WorkOrderState v) {
    return enum_name(kStates, v);
}
std::string_view to_string(Priority v) {
    return enum_name(kPriorities, v);
}
std::string_view to_string(Role v) {
    return enum_name(kRoles, v);
}
std::optional<WorkOrderState> parse_work_order_state(std::string_view s) {
    return enum_from_name(kStates, s);
}
std::optional<Priority> parse_priority(std::string_view s) {
    return enum_from_name(kPriorities, s);
}
std::optional<Role> parse_role(std::string_view s) {
    return enum_from_name(kRoles, s);
}

}  // namespace pvfleet::workorders
