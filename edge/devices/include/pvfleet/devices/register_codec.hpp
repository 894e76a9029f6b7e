#pragma once
// Register words <-> values for one register definition. Pure functions; the simulator uses encode() to serve
// any of our maps, the agent uses decode().
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "pvfleet/devices/register_map.hpp"

namespace pvfleet::devices {

// The raw integer of a numeric register (two's complement not yet applied), or nullopt for strings.
std::optional<uint64_t> raw_bits(const RegisterDef& reg, std::span<const uint16_t> words);

// True when the raw value is one of the register's "not implemented" sentinels (or NaN for f32).
bool is_absent(const RegisterDef& reg, std::span<const uint16_t> words);

// The signed/float number before scaling; nullopt when absent or not numeric.
std::optional<double> raw_number(const RegisterDef& reg, std::span<const uint16_t> words);

// Scaled value: raw × scale × 10^sf. `sf` is the decoded scale-factor exponent when the register has a
// scale_register (nullopt there = the factor itself is absent, so the value is absent too).
std::optional<double> scaled_value(const RegisterDef& reg, std::span<const uint16_t> words,
                                   std::optional<int> sf = std::nullopt);

// Text of a string register: bytes high-then-low per word, trailing NULs and blanks removed.
std::string text_value(const RegisterDef& reg, std::span<const uint16_t> words);

// Inverse of scaled_value for the simulator: the words that decode to `value` (rounded to the register's
// resolution, clamped to the type's range). `sf` as above.
std::vector<uint16_t> encode_value(const RegisterDef& reg, double value, std::optional<int> sf = std::nullopt);
std::vector<uint16_t> encode_raw(const RegisterDef& reg, uint64_t raw);
std::vector<uint16_t> encode_text(const RegisterDef& reg, std::string_view text);
// The words of the register's first "absent" sentinel (or the type's SunSpec-style default).
std::vector<uint16_t> encode_absent(const RegisterDef& reg);

}  // namespace pvfleet::devices
