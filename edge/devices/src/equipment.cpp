// Optional equipment of a vendor map (a hybrid's battery, its grid meter): which register tells whether it is
// installed, which points it gates, and what the device answers while it is not (docs/register-maps.md).
#include <algorithm>
#include <set>

#include <nlohmann/json.hpp>

#include "map_parse.hpp"

namespace pvfleet::devices {
namespace detail {
namespace {

using nlohmann::json;

const config::Object kEquipment{{config::required("name", config::string()),
                                 config::required("register", config::string()), config::optional("absent_values"),
                                 config::optional("present_values"), config::required("points"),
                                 config::optional("when_absent", config::one_of({"zero", "sentinel"})),
                                 config::optional("comment")},
                                map_wording()};

Result<std::vector<uint64_t>> raw_list(const json& v, const std::string& key) {
    if (!v.is_array() || v.empty()) return Error::at(key, "expected a non-empty array of raw values");
    std::vector<uint64_t> out;
    for (size_t i = 0; i < v.size(); ++i) {
        if (!v[i].is_number_integer() || v[i].get<long long>() < 0)
            return Error::at(key + "/" + std::to_string(i), "expected a raw value >= 0, got " + v[i].dump());
        out.push_back(v[i].get<uint64_t>());
    }
    return out;
}

// A register declares what "not implemented" looks like (needed to answer with it).
bool has_sentinel(const RegisterDef& r) {
    return !r.absent.empty() || r.accumulator || r.type == ValueType::f32;
}

Result<Equipment> parse_one(const json& e, const RegisterMap& map) {
    if (!e.is_object()) return Error{"expected an object, got " + std::string(e.type_name())};
    PVF_CHECK(kEquipment.check_keys(e));
    Equipment q;
    PVF_TRY(const json* name, kEquipment.check(e, "name"));
    q.name = name->get<std::string>();
    if (q.name.empty()) return Error::at("name", "empty");
    PVF_TRY(const json* reg, kEquipment.check(e, "register"));
    const auto id = reg->get<std::string>();
    for (size_t i = 0; i < map.registers.size(); ++i) {
        if (map.registers[i].id == id) q.present_register = static_cast<int>(i);
    }
    if (q.present_register < 0) return Error::at("register", "no register with id '" + id + "'");
    const auto& pr = map.registers[static_cast<size_t>(q.present_register)];
    if (pr.type == ValueType::string || pr.type == ValueType::f32)
        return Error::at("register", "'" + id + "' must be an integer register");
    const bool has_absent = e.contains("absent_values");
    if (has_absent == e.contains("present_values"))
        return Error::at("absent_values", "exactly one of absent_values, present_values");
    if (has_absent) {
        PVF_TRY(q.absent_values, raw_list(e.at("absent_values"), "absent_values"));
    } else {
        PVF_TRY(q.present_values, raw_list(e.at("present_values"), "present_values"));
    }
    PVF_TRY(const json* when, kEquipment.check(e, "when_absent"));
    q.when_absent = when != nullptr && when->get<std::string>() == "sentinel" ? AbsentAnswer::sentinel : AbsentAnswer::zero;

    const json& points = e.at("points");
    if (!points.is_array() || points.empty()) return Error::at("points", "expected a non-empty array of point names");
    for (size_t i = 0; i < points.size(); ++i) {
        const auto key = "points/" + std::to_string(i);
        if (!points[i].is_string()) return Error::at(key, "expected a point name, got " + points[i].dump());
        const auto point = points[i].get<std::string>();
        const auto* info = domain::find_point(point);
        if (info == nullptr) return Error::at(key, "unknown '" + point + "' (not a canonical point)");
        if (info->shape == domain::PointShape::state) return Error::at(key, "inverter_state cannot be gated");
        // The point is read by a common register or by one of the model variants' registers.
        auto carries = [&](const std::vector<RegisterDef>& regs) {
            return std::any_of(regs.begin(), regs.end(), [&](const RegisterDef& d) {
                return d.target.kind == PointTarget::Kind::point && d.target.point == info;
            });
        };
        bool mapped = carries(map.registers);
        if (map.variants) {
            for (const auto& c : map.variants->choices) mapped = mapped || carries(c.registers);
        }
        if (!mapped) return Error::at(key, "no register carries point '" + point + "'");
        q.points.push_back(point);
    }
    return q;
}

// Tags the registers from `from` on that carry one of equipment `e`'s points (`where`: the variant they come
// from, for messages; empty for the common registers).
Status gate_one(RegisterMap& map, size_t e, size_t from, const std::string& where) {
    const auto& q = map.equipment[e];
    for (size_t k = 0; k < q.points.size(); ++k) {
        const auto key = "equipment/" + std::to_string(e) + "/points/" + std::to_string(k);
        const auto* info = domain::find_point(q.points[k]);
        for (size_t r = from; r < map.registers.size(); ++r) {
            auto& def = map.registers[r];
            if (def.target.kind != PointTarget::Kind::point || def.target.point != info) continue;
            const auto in = where.empty() ? std::string{} : " (" + where + ")";
            if (static_cast<int>(r) == q.present_register) return Error::at(key, "gates its own presence register");
            if (def.equipment >= 0 && def.equipment != static_cast<int>(e))
                return Error::at(key, "'" + q.points[k] + "' is gated by another equipment already");
            if (q.when_absent == AbsentAnswer::sentinel && !has_sentinel(def))
                return Error::at(key, "'" + q.points[k] + "' at " + std::to_string(def.address) + in +
                                          " declares no sentinel (when_absent: sentinel needs one)");
            def.equipment = static_cast<int>(e);
        }
    }
    return {};
}

}  // namespace

Status parse_equipment(const json& list, RegisterMap& map) {
    if (!list.is_array()) return Error::at("equipment", "expected an array, got " + std::string(list.type_name()));
    std::set<std::string> names;
    for (size_t i = 0; i < list.size(); ++i) {
        const auto path = "equipment/" + std::to_string(i);
        auto q = parse_one(list[i], map);
        if (!q) return q.error().under(path);
        if (!names.insert(q->name).second) return Error::at(path + "/name", "duplicate '" + q->name + "'");
        map.equipment.push_back(std::move(*q));
        PVF_CHECK(gate_one(map, i, 0, ""));
    }
    // Every variant's registers are gated the same way (concrete() applies the gates): checked once here.
    if (map.variants) {
        for (const auto& c : map.variants->choices) PVF_CHECK(concrete(map, c.name));
    }
    return {};
}

Status gate_registers(RegisterMap& map, size_t from, const std::string& where) {
    for (size_t e = 0; e < map.equipment.size(); ++e) PVF_CHECK(gate_one(map, e, from, where));
    return {};
}

}  // namespace detail

bool Equipment::installed(uint64_t raw) const {
    if (!present_values.empty()) return std::find(present_values.begin(), present_values.end(), raw) != present_values.end();
    return std::find(absent_values.begin(), absent_values.end(), raw) == absent_values.end();
}

uint64_t Equipment::absent_raw() const {
    if (!absent_values.empty()) return absent_values.front();
    uint64_t raw = 0;
    while (std::find(present_values.begin(), present_values.end(), raw) != present_values.end()) ++raw;
    return raw;
}

}  // namespace pvfleet::devices
