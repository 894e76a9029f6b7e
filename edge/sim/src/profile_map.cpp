// Serves any of our register maps (pvfleet::devices): the simulator and the agent read the same data, so a
// map is exercised end to end over real Modbus before a real inverter is ever seen.
#include <cmath>
#include <limits>
#include <map>
#include <regex>
#include <set>

#include "pvfleet/devices/register_codec.hpp"
#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/sim/profile.hpp"

namespace pvfleet::sim {
namespace {

using devices::PointTarget;
using devices::RegisterDef;

RegisterKind to_sim(modbus::RegisterKind k) {
    return k == modbus::RegisterKind::holding ? RegisterKind::holding : RegisterKind::input;
}

void put(RegisterImage& image, const RegisterDef& r, const std::vector<uint16_t>& words) {
    for (size_t k = 0; k < words.size(); ++k) image.set(to_sim(r.kind), static_cast<uint16_t>(r.address + k), words[k]);
}

constexpr double kAbsent = std::numeric_limits<double>::quiet_NaN();

double at_or_absent(const std::vector<double>& v, int i) {
    return i >= 0 && static_cast<size_t>(i) < v.size() ? v[static_cast<size_t>(i)] : kAbsent;
}

// The physical value behind a canonical point, NaN when this simulated device has none.
double value_of(std::string_view point, int index, const DeviceReading& r) {
    using namespace domain::points;
    auto mppt = [&](auto field) {
        return index >= 0 && static_cast<size_t>(index) < r.mppt.size() ? r.mppt[static_cast<size_t>(index)].*field : kAbsent;
    };
    if (point == ac_power_w) return r.ac_power_w;
    if (point == energy_total_wh) return r.energy_total_wh;
    if (point == energy_today_wh) return r.energy_today_wh;
    if (point == pv_energy_total_wh) return r.energy_total_wh;  // no battery: all output is PV
    if (point == pv_energy_today_wh) return r.energy_today_wh;
    if (point == dc_voltage_v) return mppt(&MpptReading::voltage_v);
    if (point == dc_current_a) return mppt(&MpptReading::current_a);
    if (point == dc_power_w) return mppt(&MpptReading::power_w);
    if (point == ac_voltage_v) return at_or_absent(r.phase_voltage_v, index);
    if (point == ac_current_a) return at_or_absent(r.phase_current_a, index);
    if (point == ac_frequency_hz) return r.ac_frequency_hz;
    if (point == ac_apparent_power_va) return std::abs(r.ac_power_w);
    if (point == ac_reactive_power_var) return 0.0;
    if (point == power_factor) return r.ac_power_w > 0 ? 1.0 : kAbsent;
    if (point == temperature_c) return r.temperature_c;
    if (point == insulation_resistance_ohm) return 2.0e6;
    return kAbsent;  // meter, battery and weather points: not simulated for an inverter
}

class MapProfile final : public Profile {
public:
    explicit MapProfile(devices::RegisterMap map) : map_(std::move(map)) {
        for (const auto& r : map_.registers) {
            if (r.sum) ++sum_parts_[r.target.point];
        }
    }
    [[nodiscard]] std::string name() const override { return map_.profile; }

    void build(RegisterImage& image, const DeviceSpec& d) const override {
        // Real devices answer their documented ranges whole, including unused words inside them: define every
        // word the agent's planner reads (gaps it bridges read as 0), but nothing in a no_read range.
        for (auto poll : {devices::PollClass::fast, devices::PollClass::slow, devices::PollClass::once}) {
            for (const auto& b : devices::plan_blocks(map_, poll)) {
                for (uint32_t a = b.read.address; a < uint32_t{b.read.address} + b.read.count; ++a)
                    image.set(to_sim(b.read.kind), static_cast<uint16_t>(a), 0);
            }
        }
        for (const auto& r : map_.registers) {
            if (r.type == devices::ValueType::sunssf) {
                put(image, r, devices::encode_raw(r, 0));
            } else if (r.target.kind == PointTarget::Kind::identity) {
                std::string text;
                switch (r.target.identity) {
                    case devices::IdentityField::vendor: text = d.manufacturer; break;
                    case devices::IdentityField::model: text = d.model; break;
                    case devices::IdentityField::serial: text = d.serial; break;
                    case devices::IdentityField::firmware: text = "sim-1"; break;
                }
                if (r.type == devices::ValueType::string) put(image, r, devices::encode_text(r, text));
                else put(image, r, devices::encode_value(r, 1));
            } else {
                put(image, r, devices::encode_absent(r));
            }
        }
        // The simulated devices have no battery and no meter: every presence register says "not installed".
        for (const auto& q : map_.equipment) {
            const auto& r = map_.registers[static_cast<size_t>(q.present_register)];
            put(image, r, devices::encode_raw(r, q.absent_raw()));
        }
        answer_variant(image);
        update(image, d, DeviceReading{.mppt = std::vector<MpptReading>(static_cast<size_t>(d.mppts)),
                                       .phase_voltage_v = std::vector<double>(static_cast<size_t>(d.phases), 0.0),
                                       .phase_current_a = std::vector<double>(static_cast<size_t>(d.phases), 0.0),
                                       .events = {}});
    }

    void update(RegisterImage& image, const DeviceSpec& /*d*/, const DeviceReading& reading) const override {
        for (const auto& r : map_.registers) {
            if (r.target.kind != PointTarget::Kind::point) continue;
            const auto& info = *r.target.point;
            if (info.shape == domain::PointShape::state) {
                put(image, r, state_words(r, reading.state));
            } else if (info.shape == domain::PointShape::event_list) {
                put(image, r, event_words(r, reading.events));
            } else {
                double v = value_of(info.name, r.target.index, reading);
                if (r.sum) v /= sum_parts_.at(r.target.point);  // equal parts, e.g. the three phases of the total
                std::optional<int> sf;
                if (r.scale_register >= 0) {
                    const auto& s = map_.registers[static_cast<size_t>(r.scale_register)];
                    sf = static_cast<int>(image.get(to_sim(s.kind), s.address) == 0x8000 ? 0 : static_cast<int16_t>(image.get(to_sim(s.kind), s.address)));
                }
                put(image, r, std::isnan(v) ? absent_words(r) : devices::encode_value(r, v, sf));
            }
        }
    }

    [[nodiscard]] std::vector<std::string> supported_events() const override {
        std::set<std::string> names;
        for (const auto& r : map_.registers) {
            for (const auto& [bit, name] : r.bits) names.insert(name);
            for (const auto& [code, name] : r.codes) names.insert(name);
        }
        return {names.begin(), names.end()};
    }

private:
    // What the device answers for a value it does not have, as its map says: the answer of the equipment the
    // value belongs to (a hybrid without a battery answers zeros), else the register's "not implemented"
    // sentinel, else 0 — a register without a documented sentinel never gets the type's minimum, which no
    // real device sends for missing equipment.
    [[nodiscard]] std::vector<uint16_t> absent_words(const RegisterDef& r) const {
        if (r.equipment >= 0) {
            const auto& q = map_.equipment[static_cast<size_t>(r.equipment)];
            return q.when_absent == devices::AbsentAnswer::sentinel ? devices::encode_absent(r) : devices::encode_raw(r, 0);
        }
        if (!r.absent.empty() || r.accumulator || r.type == devices::ValueType::f32) return devices::encode_absent(r);
        return devices::encode_raw(r, 0);
    }

    // A map with model variants: its variant register must read as the chosen model (the identity written
    // above when it already matches, else the choice's example).
    void answer_variant(RegisterImage& image) const {
        if (!map_.variants || map_.variant.empty()) return;
        const auto& reg = map_.registers[static_cast<size_t>(map_.variants->register_index)];
        for (const auto& c : map_.variants->choices) {
            if (c.name != map_.variant) continue;
            std::vector<uint16_t> words;
            for (uint16_t k = 0; k < reg.words; ++k) words.push_back(image.get(to_sim(reg.kind), static_cast<uint16_t>(reg.address + k)));
            const auto text = reg.type == devices::ValueType::string
                                  ? devices::text_value(reg, words)
                                  : std::to_string(static_cast<long long>(devices::raw_number(reg, words).value_or(0)));
            if (std::regex_search(text, c.regex)) return;
            if (reg.type == devices::ValueType::string) put(image, reg, devices::encode_text(reg, c.example));
            else put(image, reg, devices::encode_raw(reg, std::stoull(c.example)));
        }
    }

    static std::vector<uint16_t> state_words(const RegisterDef& r, domain::InverterState state) {
        // The first raw value the map reads as this state; a resting state falls back to another resting one.
        const std::vector<domain::InverterState> wanted =
            domain::is_resting(state)
                ? std::vector{state, domain::InverterState::sleeping, domain::InverterState::standby, domain::InverterState::off}
                : std::vector{state};
        for (auto w : wanted) {
            for (const auto& [raw, s] : r.states) {
                if (s == w) return devices::encode_raw(r, raw);
            }
        }
        return devices::encode_absent(r);
    }

    static std::vector<uint16_t> event_words(const RegisterDef& r, const std::set<std::string>& events) {
        if (r.type == devices::ValueType::bitfield16 || r.type == devices::ValueType::bitfield32) {
            uint64_t raw = 0;
            for (const auto& [bit, name] : r.bits) {
                if (events.contains(name)) raw |= uint64_t{1} << bit;
            }
            return devices::encode_raw(r, raw);
        }
        for (const auto& [code, name] : r.codes) {
            if (events.contains(name)) return devices::encode_raw(r, code);
        }
        return devices::encode_raw(r, r.no_fault_codes.empty() ? 0 : r.no_fault_codes.front());
    }

    devices::RegisterMap map_;
    std::map<const domain::PointInfo*, int> sum_parts_;
};

}  // namespace

std::unique_ptr<Profile> make_map_profile(devices::RegisterMap map) { return std::make_unique<MapProfile>(std::move(map)); }

Result<std::unique_ptr<Profile>> make_profile(const std::string& name, const devices::Catalog* catalog) {
    if (name == "sunspec") return make_sunspec_profile();
    if (catalog != nullptr) {
        if (const auto* m = catalog->find(name)) return make_map_profile(*m);
    }
    std::string known = "sunspec";
    if (catalog != nullptr) {
        for (const auto& p : catalog->profiles()) known += ", " + p;
    }
    return Error{"unknown profile '" + name + "' (known: " + known + ")", ErrorKind::not_found};
}

Result<std::unique_ptr<Profile>> make_device_profile(const DeviceSpec& d, const devices::Catalog* catalog) {
    const devices::RegisterMap* m = catalog != nullptr ? catalog->find(d.profile) : nullptr;
    if (m == nullptr || !m->variants) {
        if (!d.variant.empty()) return Error::at("variant", "profile " + d.profile + " has no model variants");
        auto p = make_profile(d.profile, catalog);
        if (!p) return p.error().under("profile");
        return p;
    }
    const auto& choices = m->variants->choices;
    const std::string name = d.variant.empty() ? choices.front().name : d.variant;
    auto concrete = devices::variant_named(*m, name);
    if (!concrete) {
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c.name;
        return Error::at("variant", "unknown '" + name + "' for profile " + d.profile + " (expected " + list + ")");
    }
    return make_map_profile(std::move(*concrete));
}

std::vector<std::string> profile_names(const devices::Catalog* catalog) {
    std::vector<std::string> out{"sunspec"};
    if (catalog != nullptr) {
        for (const auto& p : catalog->profiles()) out.push_back(p);
    }
    return out;
}

}  // namespace pvfleet::sim
