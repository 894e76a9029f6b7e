#pragma once
// Maintenance tickets raised on the gateway and their lifecycle events.
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/domain/enums.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::domain {

// One reading or derived figure that supports a ticket: observed against expected.
struct EvidenceItem {
    std::string name;  // canonical point or derived figure, e.g. "ac_power_w", "daily_energy_ratio"
    double observed = 0;
    std::optional<double> expected;
    std::string unit;
    TimePoint t;
    friend bool operator==(const EvidenceItem&, const EvidenceItem&) = default;
};

struct Ticket {
    std::string id;         // unique within the site, stable for the ticket's life
    std::string device_id;  // site-unique device id; "site" for whole-site tickets
    FaultKind kind = FaultKind::not_producing;
    // The device's input the ticket is about, 1-based (MPPT 1, 2, ...), for per-input kinds (string_fault from
    // per-input readings); none for whole-device tickets. Part of the ticket's key: (device, kind, input).
    std::optional<int> input;
    Severity severity = Severity::minor;
    TicketState state = TicketState::open;
    std::string summary;  // one line a technician understands
    std::vector<EvidenceItem> evidence;
    TimePoint opened_at;
    TimePoint updated_at;
    std::optional<TimePoint> acknowledged_at;
    std::string acknowledged_by;
    std::string acknowledge_note;
    std::optional<TimePoint> resolved_at;
    std::string resolved_by;  // "auto" when the clear condition held
    friend bool operator==(const Ticket&, const Ticket&) = default;
};

// Largest input number a ticket may name (inverters have a few MPPT inputs, large ones some dozens of strings).
inline constexpr int kMaxInput = 64;

struct TicketEvent {
    TicketEventKind kind = TicketEventKind::opened;
    TimePoint at;
    Ticket ticket;  // snapshot after the change
    friend bool operator==(const TicketEvent&, const TicketEvent&) = default;
};

}  // namespace pvfleet::domain
