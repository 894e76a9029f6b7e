#pragma once
// Shared by the register-map loaders (vendor maps, SunSpec model maps): the error wording, typed key readers
// and the register-list parser. Internal to pvfleet::devices.
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "pvfleet/devices/register_map.hpp"
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::devices::detail {

// Register maps stop at the first error; their texts are golden (tests/golden/devices/bad-maps.json).
const config::Wording& map_wording();

std::string kind_name(const nlohmann::json& v);
// Key-path aware readers: each returns an Error whose message starts with the key.
Error bad(const std::string& key, const std::string& detail);

// A string key; absent: `fallback`.
Result<std::string> get_string(const config::Object& schema, const nlohmann::json& obj, const char* key,
                               std::string fallback = {});
// An integer key; absent: `fallback`, or "required" without one. `range` narrows the schema's range.
Result<long long> get_int(const config::Object& schema, const nlohmann::json& obj, const char* key,
                          std::optional<long long> fallback,
                          std::optional<std::pair<long long, long long>> range = {});
// JSON object keys: decimal or 0x hex raw values.
Result<uint64_t> parse_raw_key(const std::string& key, const std::string& path);
Result<RegisterKind> parse_kind(const config::Object& schema, const nlohmann::json& obj);
Result<DeviceKind> parse_device_kind(const config::Object& schema, const nlohmann::json& obj);

// Parses a register list and resolves scale_register names against the list itself plus, for a repeating
// group, the model's fixed registers (`outer`). `address_key` is "address" (vendor maps) or "offset".
Result<std::vector<RegisterDef>> parse_registers(const nlohmann::json& list, const char* key, const char* address_key,
                                                 const std::vector<RegisterDef>* outer,
                                                 Evidence default_evidence = Evidence::documents);

Result<nlohmann::json> read_json(const std::filesystem::path& file);

}  // namespace pvfleet::devices::detail

namespace pvfleet::devices::detail {

// Top-level `sources` and `evidence` (the registers' default); parsed before the registers.
Status parse_sources(const nlohmann::json& doc, RegisterMap& m);
// `variants`, after the registers; every choice's concrete map is checked here.
Status parse_variants(const nlohmann::json& doc, RegisterMap& m);
// A concrete map: unique ids, known source ids, nothing in a no_read range, summed points summed everywhere.
// Registers from `common` on belong to the variant at `variant_path` (for messages).
Status check_map(const RegisterMap& m, size_t common, const std::string& variant_path);
// The concrete map of the variant called `name` (errors without the file name).
Result<RegisterMap> concrete(const RegisterMap& map, std::string_view name);

// `equipment` (equipment.cpp), after the variants: parses the list, gates the common registers carrying its
// points and checks every variant's concrete map with its gates.
Status parse_equipment(const nlohmann::json& list, RegisterMap& map);
// Gates the registers from `from` on (a variant's, appended by concrete()); `where` names them in messages.
Status gate_registers(RegisterMap& map, size_t from, const std::string& where);

}  // namespace pvfleet::devices::detail
