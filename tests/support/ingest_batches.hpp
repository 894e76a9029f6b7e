#pragma once
// Values for the tests of the server's ingest ledger and storage: a fixed start time, a producing inverter's
// sample and a telemetry batch around them.
#include <string>
#include <utility>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/protocol/messages.hpp"

namespace pvfleet::ingest_test {

inline TimePoint t0() {
    return from_epoch_ms(1782864000000);  // 2026-07-01T00:00:00Z
}

inline domain::Sample sample(const std::string& dev, TimePoint t, double p) {
    domain::Sample s;
    s.device_id = dev;
    s.t = t;
    s.values["ac_power_w"] = p;
    s.values["energy_total_wh"] = 1000 + p;
    s.state = domain::InverterState::producing;
    return s;
}

inline protocol::TelemetryBatch batch(const std::string& site, protocol::Seq seq, std::vector<domain::Sample> samples) {
    protocol::TelemetryBatch b;
    b.site_id = site;
    b.seq = seq;
    b.sent_at = t0();
    b.samples = std::move(samples);
    return b;
}

}  // namespace pvfleet::ingest_test
