#pragma once
// Values for the tests of the sync, the server's ingest and the API: a fixed start time, a producing
// inverter's sample, an opened ticket.
#include <string>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"

namespace pvfleet::sync::test {

inline TimePoint t0() { return from_epoch_ms(1468915200000); }  // 2016-07-19 08:00 UTC

inline domain::Sample sample(const std::string& device, TimePoint t, double p) {
    domain::Sample s;
    s.device_id = device;
    s.t = t;
    s.values["ac_power_w"] = p;
    s.values["energy_total_wh"] = 1000 + p / 10;
    s.arrays["dc_voltage_v"] = {612.4, 598.1};
    s.state = domain::InverterState::producing;
    return s;
}

inline domain::TicketEvent ticket_event(const std::string& id, TimePoint at) {
    domain::TicketEvent e;
    e.kind = domain::TicketEventKind::opened;
    e.at = at;
    e.ticket.id = id;
    e.ticket.device_id = "inv1";
    e.ticket.kind = domain::FaultKind::comm_lost;
    e.ticket.severity = domain::Severity::major;
    e.ticket.state = domain::TicketState::open;
    e.ticket.summary = "inv1 silent";
    e.ticket.opened_at = at;
    e.ticket.updated_at = at;
    return e;
}

}  // namespace pvfleet::sync::test
