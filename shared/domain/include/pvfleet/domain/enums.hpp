#pragma once
// Enumerations with stable text names: the names are what goes on the wire, into SQL and the UI.
#include <optional>
#include <string_view>

namespace pvfleet::domain {

enum class Severity { info, minor, major, critical };

enum class FaultKind {
    not_producing,      // inverter off / near-zero power in good daylight
    comm_lost,          // no answer from the device, energy counter later shows it kept producing
    inverter_fault,     // fault/alarm event bits or vendor fault codes
    string_fault,       // one MPPT/string far below its siblings
    underperformance,   // daily energy below the learned clear-day expectation
    grid_outage,        // whole site down with no AC voltage: one ticket for the site
    counter_backwards,  // energy total decreased
    frozen_values,      // readings stuck in daylight
    clock_drift,        // gateway clock off against solar noon
    preventive,         // scheduled inspection (server-generated)
};

enum class TicketState { open, acknowledged, resolved, closed };

enum class TicketEventKind { opened, updated, acknowledged, resolved, closed };

// Operating state, normalised from SunSpec St (1..8) and vendor codes.
enum class InverterState { off, sleeping, starting, producing, throttled, shutting_down, fault, standby, unknown };

std::string_view to_string(Severity v);
std::string_view to_string(FaultKind v);
std::string_view to_string(TicketState v);
std::string_view to_string(TicketEventKind v);
std::string_view to_string(InverterState v);

std::optional<Severity> parse_severity(std::string_view s);
std::optional<FaultKind> parse_fault_kind(std::string_view s);
std::optional<TicketState> parse_ticket_state(std::string_view s);
std::optional<TicketEventKind> parse_ticket_event_kind(std::string_view s);
std::optional<InverterState> parse_inverter_state(std::string_view s);

// Night sleep and standby are normal states, never faults.
constexpr bool is_resting(InverterState s) {
    return s == InverterState::sleeping || s == InverterState::standby || s == InverterState::off;
}

}  // namespace pvfleet::domain
