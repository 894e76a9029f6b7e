#pragma once
// Every register map the agent knows (firmware-config/devices), SunSpec discovery, and identification of
// the device behind a unit id (`--profile auto|sunspec|NAME`).
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/devices/register_map.hpp"
#include "pvfleet/modbus/bus.hpp"

namespace pvfleet::devices {

// SunSpec: where the marker was found and the models of the chain, in order.
struct SunSpecModelAt {
    uint16_t id = 0;
    uint16_t address = 0;  // of the model's ID register
    uint16_t length = 0;   // L as the device reports it
};
struct SunSpecChain {
    uint16_t base = 0;     // address of "SunS"
    std::vector<SunSpecModelAt> models;
};

// Looks for "SunS" at 40000, 0 and 50000 and walks the chain by (ID, L) until 0xFFFF or an illegal-address
// reply. ErrorKind::not_found when no marker answers; io/timeout when the link fails.
Result<SunSpecChain> walk_sunspec(modbus::ModbusBus& bus, uint8_t unit);

// The logical devices of a chain: each model 1 starts one.
std::vector<std::vector<SunSpecModelAt>> split_devices(const SunSpecChain& chain);

class Catalog {
public:
    // Loads firmware-config/devices/*.json (vendor maps) and devices/sunspec/model_*.json. Any bad file fails
    // the whole load, naming the file and key path.
    static Result<Catalog> load(const std::filesystem::path& devices_dir);

    void add(RegisterMap map);
    void add(SunSpecModelMap map);

    [[nodiscard]] const RegisterMap* find(std::string_view profile) const;
    [[nodiscard]] std::vector<std::string> profiles() const;
    [[nodiscard]] const std::map<uint16_t, SunSpecModelMap>& sunspec_models() const { return sunspec_; }

    // One concrete map from the models of one SunSpec device (addresses instantiated, repeating groups
    // expanded from L, points beyond a short L dropped). Unknown models are listed in `skipped`.
    Result<RegisterMap> instantiate(const std::vector<SunSpecModelAt>& models, std::vector<uint16_t>* skipped = nullptr) const;

private:
    std::map<std::string, RegisterMap, std::less<>> vendor_;
    std::map<uint16_t, SunSpecModelMap> sunspec_;
};

// The register-map folder: `explicit_dir` when given (must exist), else the first that exists of
// $PVFLEET_DEVICES_DIR, ../share/pvfleet/devices beside the executable (an installed tree, or a build tree's
// staged copy), and /usr/share/pvfleet/devices (pvfleet/util/data_dir.hpp). Never a source checkout.
Result<std::filesystem::path> find_devices_dir(const std::optional<std::filesystem::path>& explicit_dir = std::nullopt);

struct Identified {
    DeviceIdentity identity;
    RegisterMap map;
    std::string how;  // e.g. "SunSpec at 40000: models 1, 103, 160" or "identify register model_name matched"
};

// profile: "auto" (SunSpec first, then every vendor map with an identify rule), "sunspec", or a map name.
// `sunspec_device`: which device of a SunSpec chain (0 = first). On failure the error says what was tried.
Result<Identified> identify(modbus::ModbusBus& bus, uint8_t unit, const Catalog& catalog, std::string_view profile,
                            int sunspec_device = 0);

}  // namespace pvfleet::devices
