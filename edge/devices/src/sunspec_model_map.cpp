// SunSpec model maps (firmware-config/devices/sunspec/model_<id>.json): offsets relative to the model's ID
// register and an optional repeating group; instantiated per device by the catalog.
#include "map_parse.hpp"

namespace pvfleet::devices {
namespace {

using nlohmann::json;
using namespace detail;
using config::integer;
using config::one_of;
using config::optional;
using config::required;

const config::Object kModelMap{
    {optional("$schema"), required("format", integer(1, 1)), required("sunspec_model", integer(1, 0xFFFE)),
     required("length", integer(0, 0xFFFF)), optional("device_kind", one_of({"inverter", "meter", "battery"})),
     optional("source"), optional("label"), optional("registers"), optional("repeat"), optional("comment")},
    map_wording()};
const config::Object kRepeat{{required("first_offset", integer(2, 0xFFFF)), required("length", integer(1, 0xFFFF)),
                              optional("index"), optional("registers"), optional("name"), optional("comment")},
                             map_wording()};

}  // namespace

Result<SunSpecModelMap> parse_sunspec_model_map(const json& doc, const std::string& name) {
    auto inner = [&]() -> Result<SunSpecModelMap> {
        if (!doc.is_object()) return Error{"expected an object, got " + kind_name(doc)};
        const config::Object& schema = kModelMap;
        if (auto s = schema.check_keys(doc); !s) return s.error();
        auto format = get_int(schema, doc, "format", std::nullopt);
        if (!format) return format.error();
        SunSpecModelMap m;
        m.file = name;
        auto model = get_int(kModelMap, doc, "sunspec_model", std::nullopt);
        if (!model) return model.error();
        m.model = static_cast<uint16_t>(*model);
        auto length = get_int(kModelMap, doc, "length", std::nullopt);
        if (!length) return length.error();
        m.length = static_cast<uint16_t>(*length);
        auto kind = parse_device_kind(schema, doc);
        if (!kind) return kind.error();
        m.device_kind = *kind;
        auto it = doc.find("registers");
        if (it == doc.end()) return bad("registers", "required");
        auto regs = parse_registers(*it, "registers", "offset", nullptr);
        if (!regs) return regs.error();
        m.registers = std::move(*regs);
        if (auto rep = doc.find("repeat"); rep != doc.end()) {
            if (!rep->is_object()) return bad("repeat", "expected an object");
            if (auto s = kRepeat.check_keys(*rep); !s) return s.error().under("repeat");
            SunSpecRepeat r;
            auto first = get_int(kRepeat, *rep, "first_offset", std::nullopt);
            if (!first) return first.error().under("repeat");
            auto len = get_int(kRepeat, *rep, "length", std::nullopt);
            if (!len) return len.error().under("repeat");
            r.first_offset = static_cast<uint16_t>(*first);
            r.length = static_cast<uint16_t>(*len);
            auto rr = rep->find("registers");
            if (rr == rep->end()) return bad("repeat/registers", "required");
            auto group = parse_registers(*rr, "registers", "offset", &m.registers);
            if (!group) return group.error().under("repeat");
            for (size_t i = 0; i < group->size(); ++i) {
                const auto& g = (*group)[i];
                if (g.address + g.words > r.length)
                    return Error::at("repeat/registers/" + std::to_string(i) + "/offset", "beyond the group length " + std::to_string(r.length));
            }
            r.registers = std::move(*group);
            m.repeat = std::move(r);
        }
        return m;
    };
    auto r = inner();
    if (!r) return Error{name + ": " + r.error().message, r.error().kind};
    return r;
}

Result<SunSpecModelMap> load_sunspec_model_map(const std::filesystem::path& file) {
    auto doc = read_json(file);
    if (!doc) return doc.error();
    return parse_sunspec_model_map(*doc, file.filename().string());
}

}  // namespace pvfleet::devices
