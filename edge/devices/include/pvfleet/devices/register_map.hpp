#pragma once
// Register maps as data (docs/register-maps.md): firmware-config/devices/*.json is loaded and validated once
// into these typed structs. Every load error names the file and the key path.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pvfleet/acquisition/device_model.hpp"
#include "pvfleet/domain/points.hpp"
#include "pvfleet/modbus/bus.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::devices {

using acquisition::PollClass;
using modbus::RegisterKind;

enum class ValueType { u16, s16, u32, s32, u64, f32, string, bitfield16, bitfield32, enum16, enum32, sunssf };
enum class WordOrder { big, little };  // big: high word first
enum class DeviceKind { inverter, meter, battery };
enum class IdentityField { vendor, model, serial, firmware };
// How far a map's claim about a register is proven: read on a real device, decoded from a recorded capture,
// or taken only from documents (vendor protocol, independent implementations).
enum class Evidence { device, capture, documents };

std::string_view to_string(ValueType t);
std::string_view to_string(PollClass p);
std::string_view to_string(DeviceKind k);
std::string_view to_string(Evidence e);
// Registers a value of this type occupies (strings: 0, their length is `words`).
uint16_t fixed_words(ValueType t);

// What a register means once decoded.
struct PointTarget {
    enum class Kind { none, point, identity } kind = Kind::none;
    const domain::PointInfo* point = nullptr;  // Kind::point
    IdentityField identity = IdentityField::serial;
    int index = -1;                            // per_mppt / per_phase points
};

struct RegisterDef {
    std::string id;                      // may be empty
    RegisterKind kind = RegisterKind::holding;
    uint16_t address = 0;                // 0-based wire address
    ValueType type = ValueType::u16;
    uint16_t words = 1;
    WordOrder word_order = WordOrder::big;
    double scale = 1.0;
    int scale_register = -1;             // index into RegisterMap::registers of the sunssf register, or -1
    std::string unit;
    PointTarget target;
    std::vector<uint64_t> absent;        // raw values meaning "not implemented"
    bool accumulator = false;            // raw 0 means absent
    PollClass poll = PollClass::fast;
    std::map<uint64_t, domain::InverterState> states;  // enum -> inverter_state
    std::map<uint64_t, std::string> codes;             // enum -> events
    std::vector<uint64_t> no_fault_codes{0};
    std::map<int, std::string> bits;                   // bitfield -> events
    bool unknown_bits_are_faults = false;
    // Table entries (states, codes or bits) whose meaning no document or capture confirms for this family: kept
    // here for people, never decoded as their name (codes/bits decode as vendor_fault_..., states as unknown).
    std::map<uint64_t, std::string> unconfirmed;
    bool sum = false;                    // "combine": "sum": the point is the sum of all its summed registers
    Evidence evidence = Evidence::documents;
    std::vector<std::string> sources;    // ids into RegisterMap::sources
    std::string label;
    int equipment = -1;                  // index into RegisterMap::equipment whose presence gates this value, or -1
};

// What a device answers in the registers of equipment that is not installed (a hybrid without a battery,
// without a meter): the simulator answers so, the decoder does not care (the presence register decides).
enum class AbsentAnswer { zero, sentinel };

// Optional equipment behind one device (docs/register-maps.md, "Equipment"): a presence register tells whether
// it is installed; while it says "not installed" every register carrying one of `points` decodes as absent,
// whatever its words (real devices answer zeros there, which are valid readings otherwise).
struct Equipment {
    std::string name;                     // "battery", "meter"
    int present_register = -1;            // index into RegisterMap::registers
    std::vector<uint64_t> absent_values;  // raw values meaning "not installed" (or:)
    std::vector<uint64_t> present_values; // the only raw values meaning "installed"
    std::vector<std::string> points;      // canonical points it gates
    AbsentAnswer when_absent = AbsentAnswer::zero;
    // Whether a raw presence value says "installed".
    [[nodiscard]] bool installed(uint64_t raw) const;
    // A raw presence value meaning "not installed" (what the simulator answers).
    [[nodiscard]] uint64_t absent_raw() const;
};

// A document or implementation a map was written from.
struct MapSource {
    std::string id;
    std::string document;
    std::string version;
};

struct AddressRange {
    RegisterKind kind = RegisterKind::holding;
    uint16_t first = 0;
    uint16_t last = 0;  // inclusive
};

struct Identify {
    int register_index = -1;  // a poll-once register
    std::string pattern;
    std::regex regex;
};

// Model variants: a poll-once register (`register_index`) whose decoded text picks the registers that differ
// between models of one family (e.g. single- vs three-phase AC registers). Each choice's registers are added to
// the common ones; `example` is a text its pattern matches (the simulator answers it).
struct MapVariant {
    std::string name;
    std::string pattern;
    std::regex regex;
    std::string example;
    std::vector<RegisterDef> registers;
};
struct Variants {
    int register_index = -1;
    std::vector<MapVariant> choices;
};

struct RegisterMap {
    std::string profile;       // vendor maps; SunSpec: "sunspec"
    std::string vendor;
    std::string family;
    DeviceKind device_kind = DeviceKind::inverter;
    std::string source;
    std::optional<uint8_t> default_unit;
    uint16_t max_gap = 8;
    std::vector<AddressRange> no_read;
    std::optional<Identify> identify;
    std::vector<RegisterDef> registers;
    std::vector<Equipment> equipment;
    std::vector<MapSource> sources;
    Evidence evidence = Evidence::documents;  // default of the registers
    std::optional<Variants> variants;
    std::string variant;       // the chosen variant of a concrete map; empty: the map has none, or none chosen yet
    std::string file;          // where it was loaded from, for messages
};

// A SunSpec model map: offsets relative to the model's ID register; `repeat` describes a repeating group.
struct SunSpecRepeat {
    uint16_t first_offset = 0;
    uint16_t length = 0;
    std::vector<RegisterDef> registers;  // address = offset within the group
};
struct SunSpecModelMap {
    uint16_t model = 0;
    uint16_t length = 0;       // L of the fixed part as defined
    DeviceKind device_kind = DeviceKind::inverter;
    std::vector<RegisterDef> registers;  // address = offset from the ID register
    std::optional<SunSpecRepeat> repeat;
    std::string file;
};

// `name` is used in error messages (usually the file name).
Result<RegisterMap> parse_register_map(const nlohmann::json& doc, const std::string& name);
Result<RegisterMap> load_register_map(const std::filesystem::path& file);
Result<SunSpecModelMap> parse_sunspec_model_map(const nlohmann::json& doc, const std::string& name);
Result<SunSpecModelMap> load_sunspec_model_map(const std::filesystem::path& file);

// The concrete map of one variant: the common registers plus the choice's. `apply_variant` picks the first choice
// whose pattern the selector register's decoded text matches; `variant_named` picks by name. A map without
// variants is returned as it is.
Result<RegisterMap> apply_variant(const RegisterMap& map, const std::string& selector_text);
Result<RegisterMap> variant_named(const RegisterMap& map, std::string_view name);

// How many MPPT inputs the map reads: the highest index of a per-MPPT point (dc_voltage_v, dc_current_a,
// dc_power_w) + 1; 0 when it reads none. A map with model variants not chosen yet: the most any variant reads
// (the identified variant's concrete map gives the device's figure).
int mppt_input_count(const RegisterMap& map);

// Checks a concrete map (after SunSpec instantiation too): overlaps are allowed, scale references valid,
// nothing beyond 0xFFFF.
Status validate(const RegisterMap& map);

}  // namespace pvfleet::devices
