#pragma once
// How one simulated device lays its state out in registers. A profile writes the static registers once
// (identity, nameplate, scale factors) and the live ones after every physics step.
#include <memory>
#include <string>
#include <vector>

#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/sim/frame.hpp"
#include "pvfleet/sim/physics.hpp"
#include "pvfleet/sim/site.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::sim {

class Profile {
public:
    virtual ~Profile() = default;
    [[nodiscard]] virtual std::string name() const = 0;
    virtual void build(RegisterImage& image, const DeviceSpec& device) const = 0;
    virtual void update(RegisterImage& image, const DeviceSpec& device, const DeviceReading& reading) const = 0;
    // Event names this profile can show in its registers.
    [[nodiscard]] virtual std::vector<std::string> supported_events() const = 0;
};

// SunSpec inverter at base 40000: "SunS", common model 1, model 101 (single phase) or 103 (three phase),
// model 160 (multiple MPPT), model 120 (nameplate), end marker. Offsets per the official SunSpec information models.
std::unique_ptr<Profile> make_sunspec_profile();

// Serves one of our register maps (firmware-config/devices) with the simulated physics.
std::unique_ptr<Profile> make_map_profile(devices::RegisterMap map);

// Profiles known by name: "sunspec" (built in) and every map of `catalog` (may be null).
Result<std::unique_ptr<Profile>> make_profile(const std::string& name, const devices::Catalog* catalog);
std::vector<std::string> profile_names(const devices::Catalog* catalog);
// The profile of one site device: a map with model variants is served as the device's `variant` (default: the
// map's first). Errors are keyed `profile` or `variant`.
Result<std::unique_ptr<Profile>> make_device_profile(const DeviceSpec& device, const devices::Catalog* catalog);

// SunSpec layout facts the profile uses (exposed for tests against the official model definitions).
namespace sunspec {
inline constexpr uint16_t base = 40000;
inline constexpr uint16_t common_length = 66;
inline constexpr uint16_t inverter_length = 50;
inline constexpr uint16_t mppt_module_length = 20;
inline constexpr uint16_t mppt_header_length = 8;
inline constexpr uint16_t nameplate_length = 26;
// Offsets inside the model's data (after ID and L).
struct PointOffset {
    std::string_view name;
    uint16_t offset;
};
std::span<const PointOffset> common_offsets();
std::span<const PointOffset> inverter_offsets();   // models 101/103
std::span<const PointOffset> mppt_offsets();       // model 160 fixed part
std::span<const PointOffset> mppt_module_offsets();  // model 160 repeating part
std::span<const PointOffset> nameplate_offsets();    // model 120
// SunSpec Evt1 bit of an event name, -1 when none.
int evt1_bit(std::string_view event);
}  // namespace sunspec

}  // namespace pvfleet::sim
