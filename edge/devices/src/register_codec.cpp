#include "pvfleet/devices/register_codec.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

namespace pvfleet::devices {
namespace {

uint64_t combine(const RegisterDef& reg, std::span<const uint16_t> words) {
    uint64_t v = 0;
    const size_t n = std::min<size_t>(words.size(), reg.words);
    for (size_t i = 0; i < n; ++i) {
        const size_t k = reg.word_order == WordOrder::big ? i : n - 1 - i;
        v = (v << 16) | words[k];
    }
    return v;
}

std::vector<uint16_t> split(const RegisterDef& reg, uint64_t v) {
    std::vector<uint16_t> out(reg.words);
    for (size_t i = 0; i < reg.words; ++i) {
        const auto word = static_cast<uint16_t>(v >> (16 * (reg.words - 1 - i)));
        const size_t k = reg.word_order == WordOrder::big ? i : reg.words - 1 - i;
        out[k] = word;
    }
    return out;
}

}  // namespace

std::optional<uint64_t> raw_bits(const RegisterDef& reg, std::span<const uint16_t> words) {
    if (reg.type == ValueType::string || words.size() < reg.words) return std::nullopt;
    return combine(reg, words);
}

bool is_absent(const RegisterDef& reg, std::span<const uint16_t> words) {
    auto raw = raw_bits(reg, words);
    if (!raw) return reg.type != ValueType::string;
    if (std::find(reg.absent.begin(), reg.absent.end(), *raw) != reg.absent.end()) return true;
    if (reg.accumulator && *raw == 0) return true;
    if (reg.type == ValueType::f32) {
        const float f = std::bit_cast<float>(static_cast<uint32_t>(*raw));
        return !std::isfinite(f);
    }
    return false;
}

std::optional<double> raw_number(const RegisterDef& reg, std::span<const uint16_t> words) {
    if (is_absent(reg, words)) return std::nullopt;
    const uint64_t raw = *raw_bits(reg, words);
    switch (reg.type) {
        case ValueType::s16:
        case ValueType::sunssf: return static_cast<double>(static_cast<int16_t>(raw));
        case ValueType::s32: return static_cast<double>(static_cast<int32_t>(raw));
        case ValueType::f32: return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(raw)));
        case ValueType::string: return std::nullopt;
        default: return static_cast<double>(raw);
    }
}

std::optional<double> scaled_value(const RegisterDef& reg, std::span<const uint16_t> words, std::optional<int> sf) {
    auto n = raw_number(reg, words);
    if (!n) return std::nullopt;
    double v = *n * reg.scale;
    if (reg.scale_register != -1) {
        if (!sf || *sf < -10 || *sf > 10) return std::nullopt;  // SunSpec allows -10..10
        v *= std::pow(10.0, *sf);
    }
    return v;
}

std::string text_value(const RegisterDef& reg, std::span<const uint16_t> words) {
    std::string s;
    const size_t n = std::min<size_t>(words.size(), reg.words);
    for (size_t i = 0; i < n; ++i) {
        s.push_back(static_cast<char>(words[i] >> 8));
        s.push_back(static_cast<char>(words[i] & 0xFF));
    }
    // Devices pad with NULs or blanks; some leave garbage after the first NUL.
    if (auto nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\xff')) s.pop_back();
    while (!s.empty() && s.front() == ' ') s.erase(s.begin());
    return s;
}

std::vector<uint16_t> encode_raw(const RegisterDef& reg, uint64_t raw) { return split(reg, raw); }

std::vector<uint16_t> encode_value(const RegisterDef& reg, double value, std::optional<int> sf) {
    double factor = reg.scale;
    if (reg.scale_register != -1) factor *= std::pow(10.0, sf.value_or(0));
    const double x = value / factor;
    switch (reg.type) {
        case ValueType::f32: return split(reg, std::bit_cast<uint32_t>(static_cast<float>(x)));
        case ValueType::s16:
        case ValueType::sunssf: {
            // keep clear of the 0x8000 sentinel
            const auto v = static_cast<int16_t>(std::clamp(std::llround(x), -32767LL, 32767LL));
            return split(reg, static_cast<uint16_t>(v));
        }
        case ValueType::s32: {
            const auto v = static_cast<int32_t>(std::clamp(std::llround(x), -2147483647LL, 2147483647LL));
            return split(reg, static_cast<uint32_t>(v));
        }
        case ValueType::string: return encode_text(reg, "");
        default: {
            const double hi = reg.words >= 4 ? 9.0e18 : std::ldexp(1.0, 16 * reg.words) - 2;  // below 0xFF..FF
            return split(reg, static_cast<uint64_t>(std::clamp(std::round(x), 0.0, hi)));
        }
    }
}

std::vector<uint16_t> encode_text(const RegisterDef& reg, std::string_view text) {
    std::vector<uint16_t> out(reg.words, 0);
    for (size_t i = 0; i < out.size() * 2 && i < text.size(); ++i) {
        const auto c = static_cast<uint8_t>(text[i]);
        out[i / 2] |= static_cast<uint16_t>(i % 2 == 0 ? c << 8 : c);
    }
    return out;
}

std::vector<uint16_t> encode_absent(const RegisterDef& reg) {
    if (reg.type == ValueType::string) return encode_text(reg, "");
    if (!reg.absent.empty()) return split(reg, reg.absent.front());
    if (reg.accumulator) return split(reg, 0);
    switch (reg.type) {
        case ValueType::s16:
        case ValueType::sunssf: return split(reg, 0x8000);
        case ValueType::s32: return split(reg, 0x80000000U);
        case ValueType::f32: return split(reg, 0x7FC00000U);
        default: return split(reg, reg.words >= 4 ? std::numeric_limits<uint64_t>::max()
                                                 : (uint64_t{1} << (16 * reg.words)) - 1);
    }
}

}  // namespace pvfleet::devices
