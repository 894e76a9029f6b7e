#include "pvfleet/domain/enums.hpp"

#include <array>
#include <utility>

namespace pvfleet::domain {
namespace {

template <class E, std::size_t N>
using Names = std::array<std::pair<E, std::string_view>, N>;

constexpr Names<Severity, 4> kSeverity{{{Severity::info, "info"},
                                        {Severity::minor, "minor"},
                                        {Severity::major, "major"},
                                        {Severity::critical, "critical"}}};
constexpr Names<FaultKind, 10> kFaultKind{{{FaultKind::not_producing, "not_producing"},
                                           {FaultKind::comm_lost, "comm_lost"},
                                           {FaultKind::inverter_fault, "inverter_fault"},
                                           {FaultKind::string_fault, "string_fault"},
                                           {FaultKind::underperformance, "underperformance"},
                                           {FaultKind::grid_outage, "grid_outage"},
                                           {FaultKind::counter_backwards, "counter_backwards"},
                                           {FaultKind::frozen_values, "frozen_values"},
                                           {FaultKind::clock_drift, "clock_drift"},
                                           {FaultKind::preventive, "preventive"}}};
constexpr Names<TicketState, 4> kTicketState{{{TicketState::open, "open"},
                                              {TicketState::acknowledged, "acknowledged"},
                                              {TicketState::resolved, "resolved"},
                                              {TicketState::closed, "closed"}}};
constexpr Names<TicketEventKind, 5> kTicketEventKind{{{TicketEventKind::opened, "opened"},
                                                      {TicketEventKind::updated, "updated"},
                                                      {TicketEventKind::acknowledged, "acknowledged"},
                                                      {TicketEventKind::resolved, "resolved"},
                                                      {TicketEventKind::closed, "closed"}}};
constexpr Names<InverterState, 9> kInverterState{{{InverterState::off, "off"},
                                                  {InverterState::sleeping, "sleeping"},
                                                  {InverterState::starting, "starting"},
                                                  {InverterState::producing, "producing"},
                                                  {InverterState::throttled, "throttled"},
                                                  {InverterState::shutting_down, "shutting_down"},
                                                  {InverterState::fault, "fault"},
                                                  {InverterState::standby, "standby"},
                                                  {InverterState::unknown, "unknown"}}};

template <class E, std::size_t N>
std::string_view name_of(const Names<E, N>& names, E v) {
    for (const auto& [e, n] : names) {
        if (e == v) return n;
    }
    return "?";
}

template <class E, std::size_t N>
std::optional<E> parse(const Names<E, N>& names, std::string_view s) {
    for (const auto& [e, n] : names) {
        if (n == s) return e;
    }
    return std::nullopt;
}

}  // namespace

std::string_view to_string(Severity v) { return name_of(kSeverity, v); }
std::string_view to_string(FaultKind v) { return name_of(kFaultKind, v); }
std::string_view to_string(TicketState v) { return name_of(kTicketState, v); }
std::string_view to_string(TicketEventKind v) { return name_of(kTicketEventKind, v); }
std::string_view to_string(InverterState v) { return name_of(kInverterState, v); }

std::optional<Severity> parse_severity(std::string_view s) { return parse(kSeverity, s); }
std::optional<FaultKind> parse_fault_kind(std::string_view s) { return parse(kFaultKind, s); }
std::optional<TicketState> parse_ticket_state(std::string_view s) { return parse(kTicketState, s); }
std::optional<TicketEventKind> parse_ticket_event_kind(std::string_view s) { return parse(kTicketEventKind, s); }
std::optional<InverterState> parse_inverter_state(std::string_view s) { return parse(kInverterState, s); }

}  // namespace pvfleet::domain
