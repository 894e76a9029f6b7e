#include "pvfleet/devices/map_model.hpp"

#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "pvfleet/acquisition/read_blocks.hpp"
#include "pvfleet/devices/register_codec.hpp"
#include "pvfleet/domain/points.hpp"

namespace pvfleet::devices {
namespace {

size_t class_index(PollClass p) { return static_cast<size_t>(p); }

bool crosses_no_read(const RegisterMap& map, RegisterKind kind, uint32_t first, uint32_t last) {
    for (const auto& nr : map.no_read) {
        if (nr.kind == kind && first <= nr.last && last >= nr.first) return true;
    }
    return false;
}

uint32_t end_of(const RegisterDef& r) { return static_cast<uint32_t>(r.address) + r.words - 1; }

}  // namespace

std::vector<PlannedBlock> plan_blocks(const RegisterMap& map, PollClass poll_class) {
    std::set<int> wanted;
    for (size_t i = 0; i < map.registers.size(); ++i) {
        const auto& r = map.registers[i];
        if (r.poll != poll_class) continue;
        // Helper registers (no point) are read only as the scale factor of another, or to identify the device.
        const bool identifies = map.identify && map.identify->register_index == static_cast<int>(i);
        if (r.target.kind == PointTarget::Kind::none && !identifies) continue;
        wanted.insert(static_cast<int>(i));
        if (r.scale_register >= 0) wanted.insert(r.scale_register);
        // A gated value travels with the register that says whether its equipment is installed.
        if (r.equipment >= 0) wanted.insert(map.equipment[static_cast<size_t>(r.equipment)].present_register);
    }
    std::vector<int> order(wanted.begin(), wanted.end());
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        const auto& ra = map.registers[static_cast<size_t>(a)];
        const auto& rb = map.registers[static_cast<size_t>(b)];
        if (ra.kind != rb.kind) return ra.kind < rb.kind;
        return ra.address < rb.address;
    });

    std::vector<PlannedBlock> blocks;
    uint32_t block_end = 0;
    for (int idx : order) {
        const auto& r = map.registers[static_cast<size_t>(idx)];
        if (!blocks.empty()) {
            auto& b = blocks.back();
            const uint32_t start = b.read.address;
            const uint32_t new_end = std::max(block_end, end_of(r));
            const bool same_kind = b.read.kind == r.kind;
            const bool overlaps_or_near = r.address <= block_end + 1 + map.max_gap;
            const bool fits = new_end - start + 1 <= modbus::kMaxReadRegisters;
            if (same_kind && overlaps_or_near && fits &&
                (r.address <= block_end + 1 || !crosses_no_read(map, r.kind, block_end + 1, r.address - 1))) {
                block_end = new_end;
                b.read.count = static_cast<uint16_t>(block_end - start + 1);
                b.registers.push_back(idx);
                continue;
            }
        }
        PlannedBlock b;
        b.read = acquisition::ReadBlock{r.kind, r.address, r.words};
        b.registers.push_back(idx);
        block_end = end_of(r);
        blocks.push_back(std::move(b));
    }
    // A value whose scale factor landed in another read: add the factor to the value's read when it still
    // fits there (same request), else it is decoded with the factor read by the other request of this poll.
    for (auto& b : blocks) {
        for (int idx : std::vector<int>(b.registers)) {
            const int sf = map.registers[static_cast<size_t>(idx)].scale_register;
            if (sf < 0 || std::find(b.registers.begin(), b.registers.end(), sf) != b.registers.end()) continue;
            const auto& s = map.registers[static_cast<size_t>(sf)];
            const uint32_t first = std::min<uint32_t>(b.read.address, s.address);
            const uint32_t last = std::max<uint32_t>(b.read.address + b.read.count - 1, end_of(s));
            if (s.kind == b.read.kind && last - first + 1 <= modbus::kMaxReadRegisters &&
                !crosses_no_read(map, s.kind, first, last)) {
                b.read.address = static_cast<uint16_t>(first);
                b.read.count = static_cast<uint16_t>(last - first + 1);
                b.registers.push_back(sf);
            }
        }
    }
    // A read left holding only factors that now travel with their values is not needed any more.
    std::vector<PlannedBlock> kept;
    for (size_t i = 0; i < blocks.size(); ++i) {
        const auto& b = blocks[i];
        const bool redundant = std::all_of(b.registers.begin(), b.registers.end(), [&](int idx) {
            if (map.registers[static_cast<size_t>(idx)].poll == poll_class) return false;
            for (size_t j = 0; j < blocks.size(); ++j) {
                const auto& other = blocks[j].registers;
                if (j != i && std::find(other.begin(), other.end(), idx) != other.end()) return true;
            }
            return false;
        });
        if (!redundant) kept.push_back(b);
    }
    return kept;
}

MapDeviceModel::MapDeviceModel(RegisterMap map) : map_(std::move(map)) {
    for (auto p : {PollClass::fast, PollClass::slow, PollClass::once}) plans_[class_index(p)] = plan_blocks(map_, p);
}

std::vector<acquisition::ReadBlock> MapDeviceModel::blocks(PollClass poll_class) const {
    std::vector<acquisition::ReadBlock> out;
    for (const auto& b : plans_[class_index(poll_class)]) out.push_back(b.read);
    return out;
}

Result<acquisition::Reading> MapDeviceModel::decode(PollClass poll_class,
                                                    const std::vector<modbus::Registers>& words) const {
    auto d = decode_all(poll_class, words);
    if (!d) return d.error();
    return std::move(d->reading);
}

namespace {

// Where each register's words are in this poll's answers (first read that holds it).
Result<std::vector<std::span<const uint16_t>>> locate_words(const RegisterMap& map, const std::vector<PlannedBlock>& plan,
                                                            const std::vector<modbus::Registers>& words) {
    if (words.size() != plan.size())
        return Error{"decode: " + std::to_string(words.size()) + " answers for " + std::to_string(plan.size()) + " reads"};
    std::vector<std::span<const uint16_t>> at(map.registers.size());
    for (size_t b = 0; b < plan.size(); ++b) {
        const auto& read = plan[b].read;
        if (words[b].size() != read.count)
            return Error{"decode: read of " + std::to_string(read.count) + " registers at " +
                         std::to_string(read.address) + " answered " + std::to_string(words[b].size())};
        for (int idx : plan[b].registers) {
            const auto& r = map.registers[static_cast<size_t>(idx)];
            if (!at[static_cast<size_t>(idx)].empty()) continue;
            at[static_cast<size_t>(idx)] =
                std::span<const uint16_t>(words[b]).subspan(r.address - read.address, r.words);
        }
    }
    return at;
}

void decode_identity(const RegisterDef& r, std::span<const uint16_t> w, DeviceIdentity& identity) {
    std::string text;
    if (r.type == ValueType::string) {
        text = text_value(r, w);
    } else if (auto n = raw_number(r, w)) {
        text = std::to_string(static_cast<long long>(*n));
    }
    switch (r.target.identity) {
        case IdentityField::vendor: identity.vendor = text; break;
        case IdentityField::model: identity.model = text; break;
        case IdentityField::serial: identity.serial = text; break;
        case IdentityField::firmware: identity.firmware = text; break;
    }
}

// The event names of a bitfield or fault-code register.
void decode_events(const RegisterDef& r, std::span<const uint16_t> w, std::set<std::string>& events) {
    auto raw = raw_bits(r, w);
    if (!raw || is_absent(r, w)) return;
    if (r.type == ValueType::bitfield16 || r.type == ValueType::bitfield32) {
        const int nbits = r.type == ValueType::bitfield16 ? 16 : 32;
        for (int bit = 0; bit < nbits; ++bit) {
            if (((*raw >> bit) & 1U) == 0) continue;
            if (auto it = r.bits.find(bit); it != r.bits.end()) events.insert(it->second);
            else if (r.unknown_bits_are_faults)
                events.insert("vendor_fault_" + (r.id.empty() ? std::to_string(r.address) : r.id) + "_" + std::to_string(bit));
        }
    } else if (std::find(r.no_fault_codes.begin(), r.no_fault_codes.end(), *raw) == r.no_fault_codes.end()) {
        auto it = r.codes.find(*raw);
        events.insert(it != r.codes.end() ? it->second : "vendor_fault_" + std::to_string(*raw));
    }
}

// A numeric point, scaled by its factor register when that was read in this poll.
void decode_value(const RegisterMap& map, const std::vector<std::span<const uint16_t>>& at, const RegisterDef& r,
                  std::span<const uint16_t> w, acquisition::Reading& reading) {
    const auto& info = *r.target.point;
    std::optional<int> sf;
    if (r.scale_register >= 0) {
        const auto& s = map.registers[static_cast<size_t>(r.scale_register)];
        if (auto f = at[static_cast<size_t>(r.scale_register)]; !f.empty()) {
            if (auto v = raw_number(s, f)) sf = static_cast<int>(*v);
        }
    }
    auto value = scaled_value(r, w, sf);
    if (!value) return;
    if (r.sum) {
        reading.values[std::string(info.name)] += *value;  // complete sums only: see decode_all
        return;
    }
    if (r.target.index >= 0) {
        auto& arr = reading.arrays[std::string(info.name)];
        if (arr.size() <= static_cast<size_t>(r.target.index)) arr.resize(static_cast<size_t>(r.target.index) + 1);
        arr[static_cast<size_t>(r.target.index)] = *value;  // a later definition with a value wins
    } else {
        reading.values[std::string(info.name)] = *value;
    }
}

// Per equipment of the map: false when its presence register, read in this poll, says "not installed".
// Unread or itself "not implemented": installed (the values speak for themselves).
std::vector<bool> installed_equipment(const RegisterMap& map, const std::vector<std::span<const uint16_t>>& at) {
    std::vector<bool> out(map.equipment.size(), true);
    for (size_t e = 0; e < map.equipment.size(); ++e) {
        const auto& q = map.equipment[e];
        const auto idx = static_cast<size_t>(q.present_register);
        const auto w = at[idx];
        if (w.empty() || is_absent(map.registers[idx], w)) continue;
        if (auto raw = raw_bits(map.registers[idx], w)) out[e] = q.installed(*raw);
    }
    return out;
}

}  // namespace

Result<Decoded> MapDeviceModel::decode_all(PollClass poll_class, const std::vector<modbus::Registers>& words) const {
    auto located = locate_words(map_, plans_[class_index(poll_class)], words);
    if (!located) return located.error();
    const auto& at = *located;

    Decoded out;
    auto& reading = out.reading;
    std::set<std::string> events;
    const auto installed = installed_equipment(map_, at);
    std::set<std::string> incomplete;  // summed points with a part absent in this poll
    for (size_t i = 0; i < map_.registers.size(); ++i) {
        const auto& r = map_.registers[i];
        const auto w = at[i];
        if (r.sum && r.poll == poll_class && (w.empty() || !scaled_value(r, w, std::nullopt)))
            incomplete.insert(std::string(r.target.point->name));
        if (w.empty() || r.poll != poll_class) continue;
        if (r.equipment >= 0 && !installed[static_cast<size_t>(r.equipment)]) continue;  // no battery: no battery values
        if (r.target.kind == PointTarget::Kind::identity) {
            decode_identity(r, w, out.identity);
            continue;
        }
        if (r.target.kind != PointTarget::Kind::point) continue;
        const auto& info = *r.target.point;
        if (info.shape == domain::PointShape::state) {
            auto raw = raw_bits(r, w);
            if (!raw || is_absent(r, w)) continue;
            auto it = r.states.find(*raw);
            reading.state = it == r.states.end() ? domain::InverterState::unknown : it->second;
            continue;
        }
        if (info.shape == domain::PointShape::event_list) {
            decode_events(r, w, events);
            continue;
        }
        decode_value(map_, at, r, w, reading);
    }
    for (const auto& name : incomplete) reading.values.erase(name);
    reading.events.assign(events.begin(), events.end());
    if (out.identity.vendor.empty()) out.identity.vendor = map_.vendor;
    out.identity.profile = map_.profile;
    return out;
}

Result<Decoded> MapDeviceModel::read(modbus::ModbusBus& bus, uint8_t unit, PollClass poll_class) const {
    auto words = acquisition::read_blocks(bus, unit, blocks(poll_class), acquisition::BlockFailure::name_block);
    if (!words) return words.error();
    return decode_all(poll_class, *words);
}

Result<DeviceIdentity> MapDeviceModel::read_identity(modbus::ModbusBus& bus, uint8_t unit) const {
    auto d = read(bus, unit, PollClass::once);
    if (!d) return d.error();
    return d->identity;
}

nlohmann::json to_probe_json(const DeviceIdentity& identity, const acquisition::Reading& reading) {
    nlohmann::json device = nlohmann::json::object();
    for (auto [key, value] : {std::pair{"vendor", &identity.vendor}, {"model", &identity.model},
                              {"serial", &identity.serial}, {"firmware", &identity.firmware},
                              {"profile", &identity.profile}}) {
        if (!value->empty()) device[key] = *value;
    }
    nlohmann::json points = nlohmann::json::object();
    for (const auto& [name, v] : reading.values) points[name] = v;
    for (const auto& [name, arr] : reading.arrays) {
        nlohmann::json a = nlohmann::json::array();
        for (const auto& v : arr) a.push_back(v ? nlohmann::json(*v) : nlohmann::json(nullptr));
        points[name] = a;
    }
    if (reading.state) points["inverter_state"] = std::string(domain::to_string(*reading.state));
    if (!reading.events.empty()) points["events"] = reading.events;
    nlohmann::json out{{"device", device}, {"points", points}};
    if (auto inputs = mppt_inputs_json(reading); !inputs.empty()) out["mppt_inputs"] = std::move(inputs);
    return out;
}

nlohmann::json mppt_inputs_json(const acquisition::Reading& reading) {
    const std::pair<std::string_view, const char*> columns[] = {
        {domain::points::dc_voltage_v, "voltage_v"}, {domain::points::dc_current_a, "current_a"},
        {domain::points::dc_power_w, "power_w"}};
    std::size_t count = 0;
    for (const auto& [point, key] : columns) {
        if (auto it = reading.arrays.find(point); it != reading.arrays.end()) count = std::max(count, it->second.size());
    }
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < count; ++i) {
        nlohmann::json row{{"input", i + 1}};
        for (const auto& [point, key] : columns) {
            const auto it = reading.arrays.find(point);
            const bool known = it != reading.arrays.end() && i < it->second.size() && it->second[i].has_value();
            row[key] = known ? nlohmann::json(*it->second[i]) : nlohmann::json(nullptr);
        }
        out.push_back(std::move(row));
    }
    return out;
}

}  // namespace pvfleet::devices
