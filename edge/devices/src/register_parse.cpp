// Register-level parsing shared by vendor maps and SunSpec model maps: value types, the register schema,
// points, sentinels and state/event tables.
#include <array>
#include <cmath>
#include <fstream>
#include <set>

#include "map_parse.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::devices {
namespace detail {

using nlohmann::json;

namespace {
struct TypeName {
    ValueType type;
    std::string_view name;
    uint16_t words;
};
constexpr std::array kTypes{
    TypeName{ValueType::u16, "u16", 1},           TypeName{ValueType::s16, "s16", 1},
    TypeName{ValueType::u32, "u32", 2},           TypeName{ValueType::s32, "s32", 2},
    TypeName{ValueType::u64, "u64", 4},           TypeName{ValueType::f32, "f32", 2},
    TypeName{ValueType::string, "string", 0},     TypeName{ValueType::bitfield16, "bitfield16", 1},
    TypeName{ValueType::bitfield32, "bitfield32", 2}, TypeName{ValueType::enum16, "enum16", 1},
    TypeName{ValueType::enum32, "enum32", 2},     TypeName{ValueType::sunssf, "sunssf", 1},
};

std::string type_list() {
    std::string s;
    for (const auto& t : kTypes) s += (s.empty() ? "" : ", ") + std::string(t.name);
    return s;
}

}  // namespace

std::string kind_name(const json& v) { return v.type_name(); }

Error bad(const std::string& key, const std::string& detail) { return Error::at(key, detail); }

const config::Wording& map_wording() {
    static const config::Wording kWording{
        "required",
        config::KeyList::declared,
        [](const config::Field& f, const json& v) -> std::string {
            if (f.type == config::Type::integer)
                return "expected an integer, got " + (v.is_number() ? std::string("a fraction") : kind_name(v));
            return "expected " + std::string(config::type_words(f.type)) + ", got " + kind_name(v);
        },
        [](const config::Field& f, const json& v) -> std::string {
            return "expected " + std::to_string(static_cast<long long>(f.lo)) + ".." +
                   std::to_string(static_cast<long long>(f.hi)) + ", got " + std::to_string(v.get<long long>());
        },
        {}};
    return kWording;
}

namespace {

using config::integer;
using config::one_of;
using config::optional;
using config::required;
using config::string;

std::vector<std::string> type_names() {
    std::vector<std::string> names;
    for (const auto& t : kTypes) names.emplace_back(t.name);
    return names;
}

// One register; `address_key` is "address" (vendor maps) or "offset" (SunSpec model maps).
config::Object register_schema(const char* address_key) {
    config::FieldSpec type = string();
    type.choices = type_names();
    return config::Object{{optional(address_key, integer(0, 0xFFFF)), optional("id", string()),
                           optional("kind", one_of({"holding", "input"})), required("type", type),
                           optional("words", integer(1, 125)), optional("word_order", one_of({"big", "little"})),
                           optional("scale", config::spec_of(config::Type::number)), optional("scale_register", string()),
                           optional("unit", string()), optional("point", string()), optional("index", integer(0, 63)),
                           optional("absent"), optional("accumulator", config::boolean()),
                           optional("poll", one_of({"fast", "slow", "once"})), optional("states"), optional("codes"),
                           optional("no_fault"), optional("bits"), optional("unknown_bits"),
                           optional("combine", one_of({"sum"})),
                           optional("evidence", one_of({"device", "capture", "documents"})), optional("sources"),
                           optional("unconfirmed"), optional("label", string()), optional("comment")},
                          map_wording()};
}
const config::Object kVendorRegister = register_schema("address");
const config::Object kModelRegister = register_schema("offset");

}  // namespace

// A string key; absent: `fallback`.
Result<std::string> get_string(const config::Object& schema, const json& obj, const char* key,
                               std::string fallback) {
    PVF_TRY(const json* v, schema.check(obj, key));
    return v != nullptr ? v->get<std::string>() : fallback;
}

// An integer key; absent: `fallback`, or "required" without one. `lo`/`hi` narrow the schema's range.
Result<long long> get_int(const config::Object& schema, const json& obj, const char* key,
                          std::optional<long long> fallback, std::optional<std::pair<long long, long long>> range) {
    const auto need = fallback ? config::Need::as_declared : config::Need::required;
    auto v = range ? schema.check(obj, key, static_cast<double>(range->first), static_cast<double>(range->second), need)
                   : schema.check(obj, key, need);
    if (!v) return v.error();
    return *v != nullptr ? (*v)->get<long long>() : *fallback;
}

Result<uint64_t> parse_raw_key(const std::string& key, const std::string& path) {
    // JSON object keys: decimal or 0x hex raw values.
    const bool hex = key.rfind("0x", 0) == 0 || key.rfind("0X", 0) == 0;
    const auto v = parse_number<uint64_t>(std::string_view(key).substr(hex ? 2 : 0), hex ? 16 : 10);
    if (!v) return bad(path, "'" + key + "' is not a number");
    return *v;
}

// The enums' names are the schema's choices: a name that is none of them was refused by get_string.
Result<RegisterKind> parse_kind(const config::Object& schema, const json& obj) {
    PVF_TRY(const auto s, get_string(schema, obj, "kind", "holding"));
    return s == "input" ? RegisterKind::input : RegisterKind::holding;
}

Result<DeviceKind> parse_device_kind(const config::Object& schema, const json& obj) {
    PVF_TRY(const auto s, get_string(schema, obj, "device_kind", "inverter"));
    if (s == "meter") return DeviceKind::meter;
    if (s == "battery") return DeviceKind::battery;
    return DeviceKind::inverter;
}

namespace {

Result<PollClass> parse_poll(const config::Object& schema, const json& obj) {
    PVF_TRY(const auto s, get_string(schema, obj, "poll", "fast"));
    if (s == "slow") return PollClass::slow;
    if (s == "once") return PollClass::once;
    return PollClass::fast;
}

bool is_enum(ValueType t) { return t == ValueType::enum16 || t == ValueType::enum32; }
bool is_bitfield(ValueType t) { return t == ValueType::bitfield16 || t == ValueType::bitfield32; }
bool is_integer(ValueType t) { return t != ValueType::f32 && t != ValueType::string; }

// The register's point: an identity field or a canonical point, with the index, type and unit it needs.
Status parse_point(const config::Object& schema, const json& r, const std::string& point, const std::string& type,
                   bool index_from_group, RegisterDef& d) {
    if (!point.empty()) {
        if (point.rfind("identity.", 0) == 0) {
            const auto field = point.substr(9);
            d.target.kind = PointTarget::Kind::identity;
            if (field == "vendor") d.target.identity = IdentityField::vendor;
            else if (field == "model") d.target.identity = IdentityField::model;
            else if (field == "serial") d.target.identity = IdentityField::serial;
            else if (field == "firmware") d.target.identity = IdentityField::firmware;
            else return bad("point", "unknown '" + point + "' (expected identity.vendor, identity.model, identity.serial, identity.firmware or a canonical point)");
        } else {
            const auto* info = domain::find_point(point);
            if (info == nullptr) return bad("point", "unknown '" + point + "' (not a canonical point, see shared/domain/points.hpp)");
            d.target.kind = PointTarget::Kind::point;
            d.target.point = info;
            const bool array = info->shape == domain::PointShape::per_mppt || info->shape == domain::PointShape::per_phase;
            if (array) {
                auto index = get_int(schema, r, "index", index_from_group ? std::optional<long long>(0) : std::nullopt);
                if (!index) return Error::at("index", std::string("required for ") + (info->shape == domain::PointShape::per_mppt ? "per-MPPT" : "per-phase") + " point " + point);
                d.target.index = static_cast<int>(*index);
            } else if (r.contains("index")) {
                return bad("index", "point " + point + " is not an array");
            }
            if (info->shape == domain::PointShape::state) {
                if (!is_enum(d.type)) return bad("type", "point inverter_state needs enum16 or enum32, got " + type);
                if (!r.contains("states")) return Error::at("states", "required for point inverter_state");
            } else if (info->shape == domain::PointShape::event_list) {
                if (!is_enum(d.type) && !is_bitfield(d.type))
                    return bad("type", "point events needs an enum or bitfield type, got " + type);
                if (is_enum(d.type) && !r.contains("codes")) return Error::at("codes", "required for an enum events register");
                if (is_bitfield(d.type) && !r.contains("bits") && !r.contains("unknown_bits"))
                    return Error::at("bits", "required for a bitfield events register (or unknown_bits)");
            } else {
                if (d.type == ValueType::string || is_bitfield(d.type) || d.type == ValueType::sunssf)
                    return bad("type", "point " + point + " is numeric, got " + type);
                if (d.unit != info->unit)
                    return bad("unit", "'" + d.unit + "' does not match point " + point + " (" +
                                           (info->unit.empty() ? std::string("no unit") : std::string(info->unit)) + ")");
            }
        }
    } else if (r.contains("index")) {
        return bad("index", "only with a point");
    }
    return {};
}

// Sentinels, accumulator, poll class and the state/event tables of a register.
Status parse_tables(const config::Object& schema, const json& r, RegisterDef& d) {
    if (auto it = r.find("absent"); it != r.end()) {
        if (!it->is_array()) return bad("absent", "expected an array of raw values, got " + kind_name(*it));
        for (size_t i = 0; i < it->size(); ++i) {
            const auto& v = (*it)[i];
            if (v.is_number_unsigned() || (v.is_number_integer() && v.get<long long>() >= 0)) d.absent.push_back(v.get<uint64_t>());
            else if (v.is_number_integer()) {
                // A negative sentinel of a signed type means its two's complement in the register's width.
                const auto bits = 16U * d.words;
                const uint64_t mask = bits >= 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
                d.absent.push_back(static_cast<uint64_t>(v.get<long long>()) & mask);
            }
            else if (v.is_string()) {
                auto raw = parse_raw_key(v.get<std::string>(), "absent/" + std::to_string(i));
                if (!raw) return raw.error();
                d.absent.push_back(*raw);
            } else return bad("absent/" + std::to_string(i), "expected an integer, got " + kind_name(v));
        }
    }
    if (auto it = r.find("accumulator"); it != r.end()) {
        if (!it->is_boolean()) return bad("accumulator", "expected true or false, got " + kind_name(*it));
        d.accumulator = it->get<bool>();
    }
    PVF_TRY(d.poll, parse_poll(schema, r));

    if (auto it = r.find("states"); it != r.end()) {
        if (!it->is_object()) return bad("states", "expected an object of raw value -> state");
        for (const auto& [k, v] : it->items()) {
            auto raw = parse_raw_key(k, "states/" + k);
            if (!raw) return raw.error();
            if (!v.is_string()) return bad("states/" + k, "expected a state name, got " + kind_name(v));
            auto st = domain::parse_inverter_state(v.get<std::string>());
            if (!st) return bad("states/" + k, "unknown state '" + v.get<std::string>() + "' (expected off, sleeping, starting, producing, throttled, shutting_down, fault, standby, unknown)");
            d.states[*raw] = *st;
        }
    }
    if (auto it = r.find("codes"); it != r.end()) {
        if (!it->is_object()) return bad("codes", "expected an object of raw code -> event name");
        for (const auto& [k, v] : it->items()) {
            auto raw = parse_raw_key(k, "codes/" + k);
            if (!raw) return raw.error();
            if (!v.is_string() || v.get<std::string>().empty()) return bad("codes/" + k, "expected an event name");
            d.codes[*raw] = v.get<std::string>();
        }
    }
    if (auto it = r.find("no_fault"); it != r.end()) {
        if (!it->is_array()) return bad("no_fault", "expected an array of raw codes");
        d.no_fault_codes.clear();
        for (const auto& v : *it) {
            if (!v.is_number_integer()) return bad("no_fault", "expected integers");
            d.no_fault_codes.push_back(v.get<uint64_t>());
        }
    }
    if (auto it = r.find("bits"); it != r.end()) {
        if (!it->is_object()) return bad("bits", "expected an object of bit number -> event name");
        const int nbits = d.type == ValueType::bitfield16 ? 16 : 32;
        for (const auto& [k, v] : it->items()) {
            auto raw = parse_raw_key(k, "bits/" + k);
            if (!raw) return raw.error();
            if (static_cast<int>(*raw) >= nbits && is_bitfield(d.type))
                return bad("bits/" + k, "bit " + k + " outside a " + std::to_string(nbits) + "-bit field");
            if (!v.is_string() || v.get<std::string>().empty()) return bad("bits/" + k, "expected an event name");
            d.bits[static_cast<int>(*raw)] = v.get<std::string>();
        }
    }
    if (auto it = r.find("unknown_bits"); it != r.end()) {
        if (!it->is_string() || it->get<std::string>() != "vendor_fault")
            return bad("unknown_bits", "expected \"vendor_fault\"");
        d.unknown_bits_are_faults = true;
    }
    return {};
}

// Table entries whose meaning is unconfirmed: "all", or a list of raw keys of the register's states, codes or
// bits. They move out of the decoding tables into `unconfirmed`.
Status parse_unconfirmed(const json& r, RegisterDef& d) {
    auto it = r.find("unconfirmed");
    if (it == r.end()) return {};
    auto take = [&](uint64_t raw, const std::string& path) -> Status {
        if (auto s = d.states.find(raw); s != d.states.end()) {
            d.unconfirmed[raw] = std::string(domain::to_string(s->second));
            d.states.erase(s);
        } else if (auto c = d.codes.find(raw); c != d.codes.end()) {
            d.unconfirmed[raw] = c->second;
            d.codes.erase(c);
        } else if (auto b = d.bits.find(static_cast<int>(raw)); raw < 64 && b != d.bits.end()) {
            d.unconfirmed[raw] = b->second;
            d.bits.erase(b);
        } else {
            return bad(path, "no state, code or bit " + std::to_string(raw) + " in this register");
        }
        return {};
    };
    if (it->is_string() && it->get<std::string>() == "all") {
        if (d.states.empty() && d.codes.empty() && d.bits.empty()) return bad("unconfirmed", "the register has no table");
        std::vector<uint64_t> keys;
        for (const auto& [k, v] : d.states) keys.push_back(k);
        for (const auto& [k, v] : d.codes) keys.push_back(k);
        for (const auto& [k, v] : d.bits) keys.push_back(static_cast<uint64_t>(k));
        for (auto k : keys) PVF_CHECK(take(k, "unconfirmed"));
        return {};
    }
    if (!it->is_array()) return bad("unconfirmed", "expected \"all\" or an array of raw values, got " + kind_name(*it));
    for (size_t i = 0; i < it->size(); ++i) {
        const auto path = "unconfirmed/" + std::to_string(i);
        const auto& v = (*it)[i];
        if (!v.is_string()) return bad(path, "expected a raw value as a string, got " + kind_name(v));
        auto raw = parse_raw_key(v.get<std::string>(), path);
        if (!raw) return raw.error();
        PVF_CHECK(take(*raw, path));
    }
    return {};
}

// Where the register's claim comes from and how far it is proven; a summed point; unconfirmed table entries.
Status parse_metadata(const config::Object& schema, const json& r, Evidence default_evidence, RegisterDef& d) {
    PVF_TRY(const auto evidence, get_string(schema, r, "evidence", std::string(to_string(default_evidence))));
    d.evidence = evidence == "device" ? Evidence::device : evidence == "capture" ? Evidence::capture : Evidence::documents;
    if (auto it = r.find("sources"); it != r.end()) {
        if (!it->is_array() || it->empty()) return bad("sources", "expected a non-empty array of source ids");
        for (size_t i = 0; i < it->size(); ++i) {
            if (!(*it)[i].is_string()) return bad("sources/" + std::to_string(i), "expected a source id, got " + kind_name((*it)[i]));
            d.sources.push_back((*it)[i].get<std::string>());
        }
    }
    if (r.contains("combine")) {
        PVF_TRY(const auto combine, get_string(schema, r, "combine"));
        const bool scalar = d.target.kind == PointTarget::Kind::point && d.target.point->shape == domain::PointShape::scalar;
        if (!scalar) return bad("combine", "'" + combine + "' needs a numeric point that is not an array");
        d.sum = true;
    }
    return parse_unconfirmed(r, d);
}

// Parses one register; `address_key` is "address" (vendor maps) or "offset" (SunSpec model maps).
// Scale references stay by name in `sf_name` and are resolved by the caller.
Result<RegisterDef> parse_register(const json& r, const char* address_key, std::string& sf_name, bool index_from_group,
                                   Evidence default_evidence) {
    if (!r.is_object()) return Error{"expected an object, got " + kind_name(r)};
    const config::Object& schema = std::string_view(address_key) == "address" ? kVendorRegister : kModelRegister;
    if (auto s = schema.check_keys(r); !s) return s.error();
    RegisterDef d;
    auto id = get_string(schema, r, "id");
    if (!id) return id.error();
    d.id = *id;
    auto label = get_string(schema, r, "label");
    if (!label) return label.error();
    d.label = *label;
    auto kind = parse_kind(schema, r);
    if (!kind) return kind.error();
    d.kind = *kind;
    auto address = get_int(schema, r, address_key, std::nullopt);
    if (!address) return address.error();
    d.address = static_cast<uint16_t>(*address);

    auto type = get_string(schema, r, "type");
    if (!type) return type.error();
    bool known = false;
    for (const auto& t : kTypes) {
        if (t.name == *type) {
            d.type = t.type;
            d.words = t.words;
            known = true;
        }
    }
    if (!known) return bad("type", "unknown '" + *type + "' (expected " + type_list() + ")");
    if (d.type == ValueType::string) {
        auto words = get_int(schema, r, "words", std::nullopt);
        if (!words) return Error::at("words", "required for type string (length in registers)");
        d.words = static_cast<uint16_t>(*words);
    } else if (r.contains("words")) {
        auto words = get_int(schema, r, "words", std::nullopt);
        if (!words) return words.error();
        if (*words != d.words)
            return bad("words", "type " + *type + " is " + std::to_string(d.words) + " words, got " + std::to_string(*words));
    }
    if (static_cast<int>(d.address) + d.words - 1 > 0xFFFF) return bad(address_key, "register runs past 65535");

    auto order = get_string(schema, r, "word_order", "big");
    if (!order) return order.error();
    if (*order == "big") d.word_order = WordOrder::big;
    else if (*order == "little") d.word_order = WordOrder::little;
    else return bad("word_order", "unknown '" + *order + "' (expected big, little)");

    if (auto it = r.find("scale"); it != r.end()) {
        if (!it->is_number()) return bad("scale", "expected a number, got " + kind_name(*it));
        d.scale = it->get<double>();
        if (!std::isfinite(d.scale) || d.scale == 0) return bad("scale", "must be a non-zero number");
        if (!is_integer(d.type) && d.type != ValueType::f32) return bad("scale", "not allowed for type " + *type);
    }
    auto sf = get_string(schema, r, "scale_register");
    if (!sf) return sf.error();
    sf_name = *sf;

    auto unit = get_string(schema, r, "unit");
    if (!unit) return unit.error();
    d.unit = *unit;

    auto point = get_string(schema, r, "point");
    if (!point) return point.error();
    if (auto s = parse_point(schema, r, *point, *type, index_from_group, d); !s) return s.error();

    if (auto s = parse_tables(schema, r, d); !s) return s.error();
    if (auto s = parse_metadata(schema, r, default_evidence, d); !s) return s.error();
    if (d.type == ValueType::sunssf && d.id.empty()) return bad("id", "required for a sunssf register");
    return d;
}

}  // namespace

// Parses a register list and resolves scale_register names against `scope` (the list itself plus, for a
// repeating group, the model's fixed registers).
Result<std::vector<RegisterDef>> parse_registers(const json& list, const char* key, const char* address_key,
                                                 const std::vector<RegisterDef>* outer, Evidence default_evidence) {
    const bool index_from_group = outer != nullptr;
    if (!list.is_array()) return bad(key, "expected an array, got " + kind_name(list));
    std::vector<RegisterDef> out;
    std::vector<std::string> sf_names;
    for (size_t i = 0; i < list.size(); ++i) {
        std::string sf;
        auto r = parse_register(list[i], address_key, sf, index_from_group, default_evidence);
        if (!r) return r.error().under(std::string(key) + "/" + std::to_string(i));
        out.push_back(std::move(*r));
        sf_names.push_back(sf);
    }
    std::set<std::string> ids;
    for (size_t i = 0; i < out.size(); ++i) {
        if (!out[i].id.empty() && !ids.insert(out[i].id).second)
            return Error::at(std::string(key) + "/" + std::to_string(i) + "/id", "duplicate '" + out[i].id + "'");
    }
    for (size_t i = 0; i < out.size(); ++i) {
        if (sf_names[i].empty()) continue;
        const auto path = std::string(key) + "/" + std::to_string(i) + "/scale_register";
        int found = -1;
        for (size_t j = 0; j < out.size(); ++j) {
            if (out[j].id == sf_names[i]) found = static_cast<int>(j);
        }
        if (found < 0 && outer != nullptr) {
            for (size_t j = 0; j < outer->size(); ++j) {
                // Encoded as -(j + 2) until the repeat is instantiated: refers into the fixed part.
                if ((*outer)[j].id == sf_names[i]) found = -static_cast<int>(j) - 2;
            }
        }
        if (found == -1) return Error::at(path, "no register with id '" + sf_names[i] + "'");
        if (found >= 0 && out[static_cast<size_t>(found)].type != ValueType::sunssf)
            return Error::at(path, "'" + sf_names[i] + "' is not a sunssf register");
        if (found < -1 && (*outer)[static_cast<size_t>(-found - 2)].type != ValueType::sunssf)
            return Error::at(path, "'" + sf_names[i] + "' is not a sunssf register");
        out[i].scale_register = found;
    }
    return out;
}

Result<json> read_json(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot open", ErrorKind::not_found};
    try {
        return json::parse(in);
    } catch (const json::parse_error& e) {
        return Error{file.filename().string() + ": not JSON: " + e.what()};
    }
}

}  // namespace detail

std::string_view to_string(ValueType t) {
    for (const auto& n : detail::kTypes) {
        if (n.type == t) return n.name;
    }
    return "?";
}

std::string_view to_string(Evidence e) {
    switch (e) {
        case Evidence::device: return "device";
        case Evidence::capture: return "capture";
        case Evidence::documents: return "documents";
    }
    return "?";
}

uint16_t fixed_words(ValueType t) {
    for (const auto& n : detail::kTypes) {
        if (n.type == t) return n.words;
    }
    return 0;
}

}  // namespace pvfleet::devices
