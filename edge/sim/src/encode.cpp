#include "pvfleet/sim/encode.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace pvfleet::sim {

std::size_t word_count(WordType type) {
    switch (type) {
    case WordType::u32:
    case WordType::s32:
    case WordType::acc32:
    case WordType::bitfield32:
        return 2;
    case WordType::u64:
    case WordType::s64:
        return 4;
    default:
        return 1;
    }
}

namespace {
std::vector<uint16_t> split(uint64_t raw, std::size_t words, WordOrder order) {
    std::vector<uint16_t> out(words);
    for (std::size_t i = 0; i < words; ++i) {
        const auto word = static_cast<uint16_t>(raw >> (16 * (words - 1 - i)));
        out[order == WordOrder::big_endian ? i : words - 1 - i] = word;
    }
    return out;
}

struct Range {
    double lo;
    double hi;
};
// Representable values, sentinels excluded.
Range range_of(WordType type) {
    switch (type) {
    case WordType::u16: case WordType::enum16: case WordType::bitfield16: return {0, 65534};
    case WordType::s16: case WordType::sunssf: return {-32767, 32767};
    case WordType::u32: case WordType::bitfield32: return {0, 4294967294.0};
    case WordType::acc32: return {1, 4294967295.0};  // 0 means "not accumulated"
    case WordType::s32: return {-2147483647.0, 2147483647.0};
    case WordType::u64: return {0, 1.8e19};
    case WordType::s64: return {-9.2e18, 9.2e18};
    }
    return {0, 0};
}
}  // namespace

std::vector<uint16_t> unimplemented_value(WordType type, WordOrder order) {
    switch (type) {
    case WordType::u16: case WordType::enum16: case WordType::bitfield16: return {0xFFFF};
    case WordType::s16: case WordType::sunssf: return {0x8000};
    case WordType::u32: case WordType::bitfield32: return split(0xFFFFFFFFULL, 2, order);
    case WordType::acc32: return {0, 0};
    case WordType::s32: return split(0x80000000ULL, 2, order);
    case WordType::u64: return split(0xFFFFFFFFFFFFFFFFULL, 4, order);
    case WordType::s64: return split(0x8000000000000000ULL, 4, order);
    }
    return {};
}

std::vector<uint16_t> encode_value(double value, WordType type, int scale_exp, WordOrder order) {
    if (std::isnan(value)) return unimplemented_value(type, order);
    const auto [lo, hi] = range_of(type);
    double raw = std::round(value / std::pow(10.0, scale_exp));
    if (type == WordType::acc32 && raw <= 0.0) {
        // An accumulator that really is zero: 0 would read as "not implemented", the counter rolls over.
        raw = 0.0;
    } else {
        raw = std::clamp(raw, lo, hi);
    }
    const auto words = word_count(type);
    const auto signed_raw = static_cast<int64_t>(raw);
    const auto bits = raw < 0 ? static_cast<uint64_t>(signed_raw) : static_cast<uint64_t>(raw);
    const uint64_t mask = words == 4 ? ~0ULL : ((1ULL << (16 * words)) - 1);
    return split(bits & mask, words, order);
}

std::vector<uint16_t> encode_string(std::string_view text, std::size_t words) {
    std::vector<uint16_t> out(words, 0);
    for (std::size_t i = 0; i < std::min(text.size(), words * 2); ++i) {
        const auto c = static_cast<uint8_t>(text[i]);
        out[i / 2] = static_cast<uint16_t>(out[i / 2] | (i % 2 == 0 ? c << 8 : c));
    }
    return out;
}

}  // namespace pvfleet::sim
