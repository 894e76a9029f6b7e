#pragma once
// The simulator's state without I/O: devices with their register images, the physics, active faults, the
// scenario, accelerated sim time. The network layer asks it what to do with each request and feeds it the
// control port's lines; tests drive it with a ManualClock.
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pvfleet/sim/faults.hpp"
#include "pvfleet/sim/frame.hpp"
#include "pvfleet/sim/physics.hpp"
#include "pvfleet/sim/profile.hpp"
#include "pvfleet/sim/site.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::sim {

struct SimulationOptions {
    uint64_t seed = 1;
    double speed = 1.0;                  // sim seconds per wall second
    std::optional<TimePoint> start;      // sim time at start-up; none = wall time
    std::vector<ScenarioEntry> scenario;
    // Register maps for device profiles other than the built-in "sunspec" (firmware-config/devices).
    std::optional<devices::Catalog> maps;
};

// What the transport does with one request.
struct ReplyPlan {
    enum class Action { reply, silent, drop_connection };
    Action action = Action::reply;
    Bytes pdu;
    Millis delay{0};        // wall time before replying
    bool truncate = false;  // send only the first half of the frame
};

class Simulation {
public:
    static Result<std::unique_ptr<Simulation>> create(SiteSpec site, SimulationOptions options, const Clock& wall);

    [[nodiscard]] TimePoint sim_now() const;
    [[nodiscard]] double speed() const { return speed_; }
    // Brings physics, faults, scenario and register images up to the current sim time.
    void tick();
    ReplyPlan handle(uint8_t unit, std::span<const uint8_t> request_pdu);
    // One control-port line in, one line out ("ok ...", "error ...", or JSON for `status`).
    std::string command(std::string_view line);
    // False when the TCP listener should be closed: night with `refuse_tcp`, or every device offline.
    [[nodiscard]] bool tcp_open() const;
    [[nodiscard]] std::string status_json() const;
    [[nodiscard]] const SiteSpec& site() const { return site_; }
    [[nodiscard]] const DeviceReading& reading(std::size_t device) const { return physics_.reading(device); }
    [[nodiscard]] const RegisterImage& image(std::size_t device) const { return devices_[device].image; }

    Status inject(const std::string& device, const FaultSpec& fault);
    Status clear(const std::string& device, std::optional<FaultType> type);
    // Moves sim time by `delta` (may be negative); counters are not credited for the skipped span.
    void jump(Millis delta);
    void set_speed(double speed);

private:
    struct ActiveFault {
        FaultSpec spec;
        std::optional<TimePoint> until;  // sim time; none = until cleared (or once)
        bool once = false;               // acts on the next request only
    };
    struct Device {
        DeviceSpec spec;
        std::unique_ptr<Profile> profile;
        RegisterImage image;
        std::vector<ActiveFault> faults;
    };
    Simulation(SiteSpec site, SitePhysics physics, SimulationOptions options, const Clock& wall, TimePoint start);
    Device* find(const std::string& name);
    Device* find(uint8_t unit);
    [[nodiscard]] bool has(const Device& d, FaultType type) const;
    void expire_faults(TimePoint now);
    void fire_scenario(TimePoint now);
    void refresh_images();
    [[nodiscard]] std::vector<PhysicsOverride> overrides() const;

    SiteSpec site_;
    SitePhysics physics_;
    const Clock& wall_;
    double speed_ = 1.0;
    TimePoint anchor_wall_{};
    TimePoint anchor_sim_{};
    TimePoint start_sim_{};
    std::vector<Device> devices_;
    std::vector<ScenarioEntry> scenario_;
    std::size_t scenario_next_ = 0;
    std::optional<devices::Catalog> maps_;
};

}  // namespace pvfleet::sim
