#include "pvfleet/devices/register_map.hpp"

#include <algorithm>
#include <regex>

#include <nlohmann/json.hpp>

#include "map_parse.hpp"
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::devices {
namespace {

using nlohmann::json;
using namespace detail;
using config::integer;
using config::one_of;
using config::optional;
using config::required;
using config::string;

const config::Object kVendorMap{
    {optional("$schema"), required("format", integer(1, 1)), required("profile", string()),
     required("vendor", string()), optional("family", string()),
     optional("device_kind", one_of({"inverter", "meter", "battery"})), required("source", string()),
     optional("default_unit", integer(0, 255)), optional("max_gap", integer(0, 120)), optional("no_read"),
     optional("identify"), optional("registers"), optional("sources"), optional("evidence"), optional("variants"),
     optional("equipment"), optional("comment")},
    map_wording()};
const config::Object kNoRead{{optional("kind", one_of({"holding", "input"})), required("first", integer(0, 0xFFFF)),
                              required("last", integer(0, 0xFFFF)), optional("comment")},
                             map_wording()};
const config::Object kIdentify{{required("register", string()), required("pattern", string()), optional("comment")},
                               map_wording()};

// no_read: address ranges the device must never be asked for.
Status parse_no_read(const json& doc, RegisterMap& m) {
    auto it = doc.find("no_read");
    if (it == doc.end()) return {};
    if (!it->is_array()) return bad("no_read", "expected an array");
    for (size_t i = 0; i < it->size(); ++i) {
        const auto& r = (*it)[i];
        const auto path = "no_read/" + std::to_string(i);
        if (!r.is_object()) return bad(path, "expected an object");
        if (auto s = kNoRead.check_keys(r); !s) return s.error().under(path);
        AddressRange range;
        auto k = parse_kind(kNoRead, r);
        if (!k) return k.error().under(path);
        range.kind = *k;
        auto first = get_int(kNoRead, r, "first", std::nullopt);
        if (!first) return first.error().under(path);
        auto last = get_int(kNoRead, r, "last", std::nullopt, std::pair{*first, 0xFFFFLL});
        if (!last) return last.error().under(path);
        range.first = static_cast<uint16_t>(*first);
        range.last = static_cast<uint16_t>(*last);
        m.no_read.push_back(range);
    }
    return {};
}

// identify: a poll-once register whose text must match `pattern` for the map to claim a device.
Status parse_identify(const json& idt, RegisterMap& m) {
    if (!idt.is_object()) return bad("identify", "expected an object");
    if (auto s = kIdentify.check_keys(idt); !s) return s.error().under("identify");
    auto reg = get_string(kIdentify, idt, "register");
    if (!reg) return reg.error().under("identify");
    auto pattern = get_string(kIdentify, idt, "pattern");
    if (!pattern) return pattern.error().under("identify");
    Identify id;
    for (size_t i = 0; i < m.registers.size(); ++i) {
        if (m.registers[i].id == *reg) id.register_index = static_cast<int>(i);
    }
    if (id.register_index < 0) return bad("identify/register", "no register with id '" + *reg + "'");
    if (m.registers[static_cast<size_t>(id.register_index)].poll != PollClass::once)
        return bad("identify/register", "'" + *reg + "' must be a poll: once register");
    try {
        id.regex = std::regex(*pattern);
    } catch (const std::regex_error& e) {
        return bad("identify/pattern", std::string("bad regular expression: ") + e.what());
    }
    id.pattern = *pattern;
    m.identify = std::move(id);
    return {};
}

// A vendor map; its errors do not name the file yet.
Result<RegisterMap> parse_vendor_map(const json& doc, const std::string& name) {
    if (!doc.is_object()) return Error{"expected an object, got " + kind_name(doc)};
    const config::Object& schema = kVendorMap;
    if (auto s = schema.check_keys(doc); !s) return s.error();
    auto format = get_int(schema, doc, "format", std::nullopt);
    if (!format) return format.error();
    RegisterMap m;
    m.file = name;
    auto profile = get_string(kVendorMap, doc, "profile");
    if (!profile) return profile.error();
    static const std::regex kProfile("[a-z0-9][a-z0-9_-]{0,63}");
    if (!std::regex_match(*profile, kProfile)) return bad("profile", "'" + *profile + "' must match [a-z0-9][a-z0-9_-]*");
    m.profile = *profile;
    for (auto [key, field] : {std::pair{"vendor", &m.vendor}, {"family", &m.family}, {"source", &m.source}}) {
        auto v = get_string(kVendorMap, doc, key);
        if (!v) return v.error();
        *field = *v;
    }
    auto kind = parse_device_kind(schema, doc);
    if (!kind) return kind.error();
    m.device_kind = *kind;
    if (doc.contains("default_unit")) {
        auto unit = get_int(kVendorMap, doc, "default_unit", std::nullopt);
        if (!unit) return unit.error();
        m.default_unit = static_cast<uint8_t>(*unit);
    }
    auto gap = get_int(kVendorMap, doc, "max_gap", 8);
    if (!gap) return gap.error();
    m.max_gap = static_cast<uint16_t>(*gap);
    if (auto s = parse_no_read(doc, m); !s) return s.error();
    PVF_CHECK(parse_sources(doc, m));
    auto it = doc.find("registers");
    if (it == doc.end()) return bad("registers", "required");
    auto regs = parse_registers(*it, "registers", "address", nullptr, m.evidence);
    if (!regs) return regs.error();
    m.registers = std::move(*regs);
    if (m.registers.empty()) return bad("registers", "empty");
    if (auto idt = doc.find("identify"); idt != doc.end()) {
        if (auto s = parse_identify(*idt, m); !s) return s.error();
    }
    PVF_CHECK(check_map(m, m.registers.size(), ""));
    PVF_CHECK(parse_variants(doc, m));
    // After the variants: equipment may gate points that only some variants read, and every concrete map is
    // checked again with its gates.
    if (auto eq = doc.find("equipment"); eq != doc.end()) PVF_CHECK(parse_equipment(*eq, m));
    return m;
}

}  // namespace

std::string_view to_string(PollClass p) {
    switch (p) {
        case PollClass::fast: return "fast";
        case PollClass::slow: return "slow";
        case PollClass::once: return "once";
    }
    return "?";
}
std::string_view to_string(DeviceKind k) {
    switch (k) {
        case DeviceKind::inverter: return "inverter";
        case DeviceKind::meter: return "meter";
        case DeviceKind::battery: return "battery";
    }
    return "?";
}

Result<RegisterMap> parse_register_map(const json& doc, const std::string& name) {
    auto r = parse_vendor_map(doc, name);
    if (!r) return Error{name + ": " + r.error().message, r.error().kind};
    return r;
}

Result<RegisterMap> load_register_map(const std::filesystem::path& file) {
    auto doc = read_json(file);
    if (!doc) return doc.error();
    return parse_register_map(*doc, file.filename().string());
}

namespace {
int mppt_inputs_of(const std::vector<RegisterDef>& regs) {
    int n = 0;
    for (const auto& r : regs) {
        if (r.target.kind == PointTarget::Kind::point && r.target.point->shape == domain::PointShape::per_mppt)
            n = std::max(n, r.target.index + 1);
    }
    return n;
}
}  // namespace

int mppt_input_count(const RegisterMap& map) {
    int n = mppt_inputs_of(map.registers);
    if (map.variants && map.variant.empty()) {
        for (const auto& c : map.variants->choices) n = std::max(n, mppt_inputs_of(c.registers));
    }
    return n;
}

Status validate(const RegisterMap& map) {
    for (size_t i = 0; i < map.registers.size(); ++i) {
        const auto& r = map.registers[i];
        if (r.scale_register >= static_cast<int>(map.registers.size()) || r.scale_register < -1)
            return Error::at(map.file + ": registers/" + std::to_string(i) + "/scale_register", "unresolved");
        if (r.scale_register >= 0 && map.registers[static_cast<size_t>(r.scale_register)].kind != r.kind)
            return Error::at(map.file + ": registers/" + std::to_string(i) + "/scale_register", "in another register kind");
        if (r.equipment >= static_cast<int>(map.equipment.size()))
            return Error::at(map.file + ": registers/" + std::to_string(i), "gated by an unknown equipment");
    }
    for (size_t e = 0; e < map.equipment.size(); ++e) {
        const int pr = map.equipment[e].present_register;
        if (pr < 0 || pr >= static_cast<int>(map.registers.size()))
            return Error::at(map.file + ": equipment/" + std::to_string(e) + "/register", "unresolved");
    }
    return {};
}

}  // namespace pvfleet::devices