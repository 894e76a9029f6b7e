#pragma once
// Value -> register words: the inverse of a register-map decoder. Honours the type, the word order of
// 32/64-bit values, the decimal scale (value = raw x 10^scale, fixed or from a scale-factor register)
// and the "not implemented" sentinels SunSpec and most vendors use.
#include <cstdint>
#include <string_view>
#include <vector>

namespace pvfleet::sim {

enum class WordType { u16, s16, u32, s32, acc32, u64, s64, bitfield16, bitfield32, enum16, sunssf };
enum class WordOrder { big_endian, little_endian };  // word order: big = high word first

std::size_t word_count(WordType type);

// raw = round(value / 10^scale_exp), saturated to the type's range without touching its sentinel, in
// `order`. NaN encodes the sentinel (not implemented).
std::vector<uint16_t> encode_value(double value, WordType type, int scale_exp = 0,
                                   WordOrder order = WordOrder::big_endian);
// The "not implemented" value of a type (SunSpec: 0xFFFF u16, 0x8000 s16, 0 acc32, 0x80000000 s32, ...).
std::vector<uint16_t> unimplemented_value(WordType type, WordOrder order = WordOrder::big_endian);
// ASCII, two characters a word (first in the high byte), NUL-padded to `words` words.
std::vector<uint16_t> encode_string(std::string_view text, std::size_t words);

}  // namespace pvfleet::sim
