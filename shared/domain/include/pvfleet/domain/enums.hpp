#pragma once
// Enumerations with stable text names: the names are what goes on the wire, into SQL and the UI.
#include <optional>
#include <string_view>

#include "pvfleet/util/enum_names.hpp"

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
    implausible_values, // a point keeps reading what the device cannot physically report (dropped, never stored)
};

enum class TicketState { open, acknowledged, resolved, closed };

enum class TicketEventKind { opened, updated, acknowledged, resolved, closed };

// Operating state, normalised from SunSpec St (1..8) and vendor codes.
enum class InverterState { off, sleeping, starting, producing, throttled, shutting_down, fault, standby, unknown };

// The name tables: to_string/parse_* below read them; codecs list them in their error messages.
inline constexpr EnumNames<Severity, 4> kSeverityNames{{{Severity::info, "info"},
                                                       {Severity::minor, "minor"},
                                                       {Severity::major, "major"},
                                                       {Severity::critical, "critical"}}};
inline constexpr EnumNames<FaultKind, 11> kFaultKindNames{{{FaultKind::not_producing, "not_producing"},
                                                          {FaultKind::comm_lost, "comm_lost"},
                                                          {FaultKind::inverter_fault, "inverter_fault"},
                                                          {FaultKind::string_fault, "string_fault"},
                                                          {FaultKind::underperformance, "underperformance"},
                                                          {FaultKind::grid_outage, "grid_outage"},
                                                          {FaultKind::counter_backwards, "counter_backwards"},
                                                          {FaultKind::frozen_values, "frozen_values"},
                                                          {FaultKind::clock_drift, "clock_drift"},
                                                          {FaultKind::preventive, "preventive"},
                                                          {FaultKind::implausible_values, "implausible_values"}}};
inline constexpr EnumNames<TicketState, 4> kTicketStateNames{{{TicketState::open, "open"},
                                                             {TicketState::acknowledged, "acknowledged"},
                                                             {TicketState::resolved, "resolved"},
                                                             {TicketState::closed, "closed"}}};
inline constexpr EnumNames<TicketEventKind, 5> kTicketEventKindNames{{{TicketEventKind::opened, "opened"},
                                                                     {TicketEventKind::updated, "updated"},
                                                                     {TicketEventKind::acknowledged, "acknowledged"},
                                                                     {TicketEventKind::resolved, "resolved"},
                                                                     {TicketEventKind::closed, "closed"}}};
inline constexpr EnumNames<InverterState, 9> kInverterStateNames{{{InverterState::off, "off"},
                                                                 {InverterState::sleeping, "sleeping"},
                                                                 {InverterState::starting, "starting"},
                                                                 {InverterState::producing, "producing"},
                                                                 {InverterState::throttled, "throttled"},
                                                                 {InverterState::shutting_down, "shutting_down"},
                                                                 {InverterState::fault, "fault"},
                                                                 {InverterState::standby, "standby"},
                                                                 {InverterState::unknown, "unknown"}}};

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
