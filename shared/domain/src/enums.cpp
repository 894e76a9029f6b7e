#include "pvfleet/domain/enums.hpp"

namespace pvfleet::domain {

std::string_view to_string(Severity v) { return enum_name(kSeverityNames, v); }
std::string_view to_string(FaultKind v) { return enum_name(kFaultKindNames, v); }
std::string_view to_string(TicketState v) { return enum_name(kTicketStateNames, v); }
std::string_view to_string(TicketEventKind v) { return enum_name(kTicketEventKindNames, v); }
std::string_view to_string(InverterState v) { return enum_name(kInverterStateNames, v); }

std::optional<Severity> parse_severity(std::string_view s) { return enum_from_name(kSeverityNames, s); }
std::optional<FaultKind> parse_fault_kind(std::string_view s) { return enum_from_name(kFaultKindNames, s); }
std::optional<TicketState> parse_ticket_state(std::string_view s) { return enum_from_name(kTicketStateNames, s); }
std::optional<TicketEventKind> parse_ticket_event_kind(std::string_view s) {
    return enum_from_name(kTicketEventKindNames, s);
}
std::optional<InverterState> parse_inverter_state(std::string_view s) {
    return enum_from_name(kInverterStateNames, s);
}

}  // namespace pvfleet::domain
