#pragma once
// The physical day of a simulated site: clear-sky expected power (pvfleet::solar) times a reproducible
// cloud factor, split per MPPT into voltage and current, grid voltage and frequency with noise, an
// inverter temperature that lags its losses, energy counters integrating AC power (the daily one resets at
// local midnight), and the inverter state. Pure: time comes in through advance().
#include <cstdint>
#include <memory>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "pvfleet/domain/enums.hpp"
#include "pvfleet/sim/site.hpp"
#include "pvfleet/solar/expected_power.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::sim {

struct MpptReading {
    double voltage_v = 0.0;
    double current_a = 0.0;
    double power_w = 0.0;
};

struct DeviceReading {
    domain::InverterState state = domain::InverterState::sleeping;
    double ac_power_w = 0.0;
    double dc_power_w = 0.0;
    std::vector<MpptReading> mppt;
    std::vector<double> phase_voltage_v;  // one per phase
    std::vector<double> phase_current_a;
    double ac_frequency_hz = 50.0;
    double temperature_c = 20.0;
    double energy_total_wh = 0.0;
    double energy_today_wh = 0.0;
    std::set<std::string> events;  // active event names (see fault_events())
};

// What the fault layer imposes on the physics of one device.
struct PhysicsOverride {
    std::vector<bool> mppt_lost;     // index 0 = MPPT 1
    std::set<std::string> events;    // active event names
};

// Named events the simulator knows; `trips` ones stop production (state fault).
struct FaultEvent {
    std::string_view name;
    bool trips;
};
std::span<const FaultEvent> fault_events();
const FaultEvent* find_fault_event(std::string_view name);

class SitePhysics {
public:
    // `start` seeds the counters: energy_total starts from a plausible lifetime value so decoders see
    // realistic magnitudes.
    static Result<SitePhysics> create(const SiteSpec& site, uint64_t seed, TimePoint start);

    // Moves to `t` (t may go backwards only by a reset through restart_at()); integrates energy.
    void advance(TimePoint t, const std::vector<PhysicsOverride>& overrides);
    // After a time jump: counters stay, the integrator restarts at `t` (no energy credited for the gap).
    void restart_at(TimePoint t);

    [[nodiscard]] const DeviceReading& reading(std::size_t device) const { return readings_[device]; }
    [[nodiscard]] std::size_t device_count() const { return readings_.size(); }
    [[nodiscard]] TimePoint now() const { return now_; }
    [[nodiscard]] double sun_elevation_deg() const { return sun_elevation_deg_; }
    // Fraction of clear-sky irradiance reaching the arrays at `t` (1 = clear); a pure function of seed and t.
    [[nodiscard]] double cloud_factor(TimePoint t) const;
    void reset_counters(std::size_t device);

    SitePhysics(SitePhysics&&) noexcept = default;
    SitePhysics& operator=(SitePhysics&&) noexcept = default;

private:
    SitePhysics(SiteSpec site, solar::ExpectedPowerModel model, uint64_t seed, TimePoint start);
    [[nodiscard]] int local_day(TimePoint t) const;
    struct Step;
    void advance_device(std::size_t i, const Step& step, const PhysicsOverride& o);

    SiteSpec site_;
    std::unique_ptr<solar::ExpectedPowerModel> model_;
    solar::ExpectedPower scratch_;
    uint64_t seed_ = 0;
    std::mt19937_64 noise_;
    TimePoint now_{};
    int day_ = 0;
    double sun_elevation_deg_ = -90.0;
    std::vector<DeviceReading> readings_;
    std::vector<TimePoint> awake_since_;  // when DC power first exceeded the start threshold
    std::vector<bool> awake_;
    bool first_step_ = true;  // settles temperatures instead of lagging from ambient
};

}  // namespace pvfleet::sim
