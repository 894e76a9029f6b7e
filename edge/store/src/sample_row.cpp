#include "pvfleet/store/sample_row.hpp"

#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include <nlohmann/json.hpp>

#include "pvfleet/store/gateway_store.hpp"

namespace pvfleet::store {
namespace {

constexpr std::uint8_t kRowVersion = 1;

// Append-only: a row stores the index (+1) of a name here. Never reorder or remove an entry.
constexpr std::array<std::string_view, 42> kRowNames{
    "ac_power_w", "energy_total_wh", "energy_today_wh", "pv_energy_total_wh", "pv_energy_today_wh",
    "dc_voltage_v", "dc_current_a", "dc_power_w", "ac_voltage_v", "ac_current_a", "ac_frequency_hz",
    "ac_reactive_power_var", "ac_apparent_power_va", "power_factor", "temperature_c", "insulation_resistance_ohm",
    "grid_power_w", "grid_import_wh", "grid_export_wh", "battery_power_w", "battery_soc_pct", "battery_voltage_v",
    "battery_current_a", "battery_temperature_c", "battery_charged_wh", "battery_discharged_wh",
    "ambient_temperature_c", "pv_power_w",
    // inverter states
    "off", "sleeping", "starting", "producing", "throttled", "shutting_down", "fault", "standby", "unknown",
    // events seen often
    "grid_undervoltage", "grid_overvoltage", "arc_fault", "ground_fault", "isolation_fault"};

// Number tags.
enum : std::uint8_t {
    kAbsent = 0,
    kDivided = 1,     // 1..4: n / 10^(tag-1)
    kMultiplied = 5,  // 5..7: n * 0.1, n * 0.01, n * 0.001 (as register scaling computes them)
    kDouble = 8,      // the 8 bytes of the double, little-endian
};
constexpr std::array<double, 4> kPow10{1.0, 10.0, 100.0, 1000.0};
constexpr std::array<double, 4> kScale{1.0, 0.1, 0.01, 0.001};

void put_varint(std::string& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<char>((v & 0x7F) | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<char>(v));
}

void put_name(std::string& out, std::string_view name) {
    for (std::size_t i = 0; i < kRowNames.size(); ++i) {
        if (kRowNames[i] == name) return put_varint(out, i + 1);
    }
    put_varint(out, 0);
    put_varint(out, name.size());
    out.append(name);
}

bool same_bits(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }

void put_number(std::string& out, double v) {
    if (std::isfinite(v) && std::fabs(v) < 1e15) {
        for (std::size_t k = 0; k < kPow10.size(); ++k) {
            const double scaled = std::round(v * kPow10[k]);
            const auto n = static_cast<std::int64_t>(scaled);
            std::uint8_t tag = 0;
            if (same_bits(static_cast<double>(n) / kPow10[k], v)) tag = static_cast<std::uint8_t>(kDivided + k);
            else if (k > 0 && same_bits(static_cast<double>(n) * kScale[k], v)) tag = static_cast<std::uint8_t>(kMultiplied + k - 1);
            if (tag != 0) {
                out.push_back(static_cast<char>(tag));
                put_varint(out, (static_cast<std::uint64_t>(n) << 1) ^ static_cast<std::uint64_t>(n >> 63));  // zig-zag
                return;
            }
        }
    }
    out.push_back(static_cast<char>(kDouble));
    auto bits = std::bit_cast<std::uint64_t>(v);
    for (int i = 0; i < 8; ++i, bits >>= 8) out.push_back(static_cast<char>(bits & 0xFF));
}

class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool ok() const { return ok_; }
    bool done() const { return pos_ == in_.size(); }
    std::uint8_t byte() {
        if (pos_ >= in_.size()) return fail();
        return static_cast<std::uint8_t>(in_[pos_++]);
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = byte();
            if (!ok_) return 0;
            v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if ((b & 0x80) == 0) return v;
        }
        return fail();
    }
    std::string name() {
        const auto i = varint();
        if (!ok_) return {};
        if (i > 0) {
            if (i > kRowNames.size()) return fail(), std::string{};
            return std::string(kRowNames[i - 1]);
        }
        const auto n = varint();
        if (!ok_ || n > in_.size() - pos_) return fail(), std::string{};
        std::string s(in_.substr(pos_, n));
        pos_ += n;
        return s;
    }
    std::optional<double> number() {
        const std::uint8_t tag = byte();
        if (!ok_ || tag == kAbsent) return std::nullopt;
        if (tag == kDouble) {
            if (in_.size() - pos_ < 8) return fail(), std::nullopt;
            std::uint64_t bits = 0;
            for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(in_[pos_ + i])) << (8 * i);
            pos_ += 8;
            return std::bit_cast<double>(bits);
        }
        const auto z = varint();
        const auto n = static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
        if (tag >= kDivided && tag < kMultiplied) return static_cast<double>(n) / kPow10[tag - kDivided];
        if (tag >= kMultiplied && tag < kDouble) return static_cast<double>(n) * kScale[tag - kMultiplied + 1];
        return fail(), std::nullopt;
    }

private:
    std::uint8_t fail() {
        ok_ = false;
        pos_ = in_.size();
        return 0;
    }
    std::string_view in_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace

std::string encode_sample_row(const domain::Sample& s) {
    std::string out;
    out.reserve(128);
    out.push_back(static_cast<char>(kRowVersion));
    if (s.state) {
        put_name(out, domain::to_string(*s.state));
    } else {
        put_varint(out, 0);
        put_varint(out, 0);
    }
    put_varint(out, s.values.size());
    for (const auto& [name, v] : s.values) {
        put_name(out, name);
        put_number(out, v);
    }
    put_varint(out, s.arrays.size());
    for (const auto& [name, vals] : s.arrays) {
        put_name(out, name);
        put_varint(out, vals.size());
        for (const auto& v : vals) {
            if (v) {
                put_number(out, *v);
            } else {
                out.push_back(static_cast<char>(kAbsent));
            }
        }
    }
    put_varint(out, s.events.size());
    for (const auto& e : s.events) put_name(out, e);
    return out;
}

Result<domain::Sample> decode_sample_row(std::string_view body, const std::string& device_id, TimePoint t) {
    auto bad = [&](const char* what) {
        return Error{"stored sample of " + device_id + " at " + std::to_string(to_epoch_ms(t)) + ": " + what};
    };
    Reader r(body);
    if (r.byte() != kRowVersion) return bad("unknown row version");
    domain::Sample s;
    s.device_id = device_id;
    s.t = t;
    if (auto state = r.name(); !state.empty()) {
        s.state = domain::parse_inverter_state(state);
        if (!s.state) return bad("unknown inverter state");
    }
    for (auto n = r.varint(); r.ok() && n > 0; --n) {
        auto name = r.name();
        auto v = r.number();
        if (!r.ok() || !v) return bad("truncated value");
        s.values[name] = *v;
    }
    for (auto n = r.varint(); r.ok() && n > 0; --n) {
        auto name = r.name();
        auto& out = s.arrays[name];
        for (auto k = r.varint(); r.ok() && k > 0; --k) out.push_back(r.number());
    }
    for (auto n = r.varint(); r.ok() && n > 0; --n) s.events.push_back(r.name());
    if (!r.ok() || !r.done()) return bad("truncated or trailing bytes");
    return s;
}

Result<domain::Sample> decode_stored_sample(std::string_view body, bool is_text, const std::string& device_id, TimePoint t) {
    if (!is_text) return decode_sample_row(body, device_id, t);
    auto s = sample_from_json(nlohmann::json::parse(body, nullptr, false));
    if (!s) return s;
    // The key is what counts (an old row's own copy of it is left alone otherwise).
    if (!device_id.empty()) s->device_id = device_id;
    s->t = t;
    return s;
}

}  // namespace pvfleet::store
