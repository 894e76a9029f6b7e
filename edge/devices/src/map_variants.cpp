// What a vendor map says about itself and its models: the sources it was written from, model variants chosen by
// an identification register, and the checks every concrete map (the common registers plus one variant's) passes
// once at load.
#include <set>

#include "map_parse.hpp"

namespace pvfleet::devices {
namespace detail {
namespace {

using nlohmann::json;
using config::optional;
using config::required;
using config::string;

const config::Object kSource{{required("id", string()), required("document", string()), optional("version", string()),
                              optional("comment")},
                             map_wording()};
const config::Object kVariants{{required("register", string()), optional("choices"), optional("comment")},
                               map_wording()};
const config::Object kChoice{{required("name", string()), required("pattern", string()), required("example", string()),
                              optional("registers"), optional("comment")},
                             map_wording()};

// The path of register `i` of a concrete map: a common register, or one of the chosen variant's.
std::string register_path(size_t i, size_t common, const std::string& variant_path) {
    if (i < common || variant_path.empty()) return "registers/" + std::to_string(i);
    return variant_path + "/registers/" + std::to_string(i - common);
}

Result<MapVariant> parse_choice(const json& c, const RegisterMap& m) {
    if (!c.is_object()) return Error{"expected an object, got " + kind_name(c)};
    PVF_CHECK(kChoice.check_keys(c));
    MapVariant v;
    PVF_TRY(v.name, get_string(kChoice, c, "name"));
    PVF_TRY(v.pattern, get_string(kChoice, c, "pattern"));
    PVF_TRY(v.example, get_string(kChoice, c, "example"));
    try {
        v.regex = std::regex(v.pattern);
    } catch (const std::regex_error& e) {
        return bad("pattern", std::string("bad regular expression: ") + e.what());
    }
    if (!std::regex_search(v.example, v.regex)) return bad("example", "'" + v.example + "' does not match the pattern");
    auto it = c.find("registers");
    if (it == c.end()) return bad("registers", "required");
    PVF_TRY(v.registers, parse_registers(*it, "registers", "address", nullptr, m.evidence));
    return v;
}

}  // namespace

Status parse_sources(const json& doc, RegisterMap& m) {
    if (auto it = doc.find("evidence"); it != doc.end()) {
        if (!it->is_string()) return bad("evidence", "expected a string, got " + kind_name(*it));
        const auto e = it->get<std::string>();
        if (e == "device") m.evidence = Evidence::device;
        else if (e == "capture") m.evidence = Evidence::capture;
        else if (e == "documents") m.evidence = Evidence::documents;
        else return bad("evidence", "unknown '" + e + "' (expected device, capture, documents)");
    }
    auto it = doc.find("sources");
    if (it == doc.end()) return {};
    if (!it->is_array() || it->empty()) return bad("sources", "expected a non-empty array of {id, document, version}");
    std::set<std::string> ids;
    for (size_t i = 0; i < it->size(); ++i) {
        const auto path = "sources/" + std::to_string(i);
        const auto& s = (*it)[i];
        if (!s.is_object()) return bad(path, "expected an object, got " + kind_name(s));
        if (auto st = kSource.check_keys(s); !st) return st.error().under(path);
        MapSource src;
        for (auto [key, field] : {std::pair{"id", &src.id}, {"document", &src.document}, {"version", &src.version}}) {
            auto v = get_string(kSource, s, key);
            if (!v) return v.error().under(path);
            *field = *v;
        }
        if (!ids.insert(src.id).second) return bad(path + "/id", "duplicate '" + src.id + "'");
        m.sources.push_back(std::move(src));
    }
    return {};
}

Status parse_variants(const json& doc, RegisterMap& m) {
    auto it = doc.find("variants");
    if (it == doc.end()) return {};
    if (!it->is_object()) return bad("variants", "expected an object");
    if (auto s = kVariants.check_keys(*it); !s) return s.error().under("variants");
    auto reg = get_string(kVariants, *it, "register");
    if (!reg) return reg.error().under("variants");
    Variants out;
    for (size_t i = 0; i < m.registers.size(); ++i) {
        if (m.registers[i].id == *reg) out.register_index = static_cast<int>(i);
    }
    if (out.register_index < 0) return bad("variants/register", "no register with id '" + *reg + "'");
    if (m.registers[static_cast<size_t>(out.register_index)].poll != PollClass::once)
        return bad("variants/register", "'" + *reg + "' must be a poll: once register");
    auto choices = it->find("choices");
    if (choices == it->end() || !choices->is_array() || choices->empty())
        return bad("variants/choices", "expected a non-empty array");
    std::set<std::string> names;
    for (size_t i = 0; i < choices->size(); ++i) {
        const auto path = "variants/choices/" + std::to_string(i);
        auto v = parse_choice((*choices)[i], m);
        if (!v) return v.error().under(path);
        if (!names.insert(v->name).second) return bad(path + "/name", "duplicate '" + v->name + "'");
        out.choices.push_back(std::move(*v));
    }
    m.variants = std::move(out);
    // Validated once here: every concrete map the variants can give.
    for (size_t i = 0; i < m.variants->choices.size(); ++i) {
        auto c = concrete(m, m.variants->choices[i].name);
        if (!c) return c.error();
    }
    return {};
}

Status check_map(const RegisterMap& m, size_t common, const std::string& variant_path) {
    std::set<std::string> ids;
    std::set<std::string> source_ids;
    for (const auto& s : m.sources) source_ids.insert(s.id);
    for (size_t i = 0; i < m.registers.size(); ++i) {
        const auto& r = m.registers[i];
        const auto path = register_path(i, common, variant_path);
        if (!r.id.empty() && !ids.insert(r.id).second) return Error::at(path + "/id", "duplicate '" + r.id + "'");
        for (size_t k = 0; k < r.sources.size(); ++k) {
            if (!source_ids.contains(r.sources[k]))
                return Error::at(path + "/sources/" + std::to_string(k), "no source with id '" + r.sources[k] + "'");
        }
        for (const auto& nr : m.no_read) {
            if (nr.kind == r.kind && r.address <= nr.last && r.address + r.words - 1 >= nr.first)
                return Error::at(path + "/address", std::to_string(r.address) + " lies in a no_read range " +
                                                        std::to_string(nr.first) + ".." + std::to_string(nr.last));
        }
        if (r.target.kind != PointTarget::Kind::point) continue;
        // A summed point is summed everywhere: a plain register of it would overwrite the sum.
        for (size_t j = 0; j < m.registers.size(); ++j) {
            const auto& o = m.registers[j];
            if (o.target.kind == PointTarget::Kind::point && o.target.point == r.target.point && o.sum != r.sum && r.sum)
                return Error::at(path + "/combine", "point " + std::string(r.target.point->name) + " is also read without \"combine\" at " +
                                                        register_path(j, common, variant_path));
        }
    }
    return {};
}

Result<RegisterMap> concrete(const RegisterMap& map, std::string_view name) {
    if (!map.variants) return map;
    const auto& choices = map.variants->choices;
    size_t k = 0;
    while (k < choices.size() && choices[k].name != name) ++k;
    if (k == choices.size()) {
        std::string list;
        for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c.name;
        return Error{"no variant '" + std::string(name) + "' (expected " + list + ")", ErrorKind::not_found};
    }
    RegisterMap out = map;
    const auto common = out.registers.size();
    for (auto r : choices[k].registers) {
        if (r.scale_register >= 0) r.scale_register += static_cast<int>(common);
        out.registers.push_back(std::move(r));
    }
    out.variant = choices[k].name;
    // The map's equipment gates the variant's registers of its points too.
    PVF_CHECK(gate_registers(out, common, "variants/choices/" + std::to_string(k)));
    PVF_CHECK(check_map(out, common, "variants/choices/" + std::to_string(k)));
    return out;
}

}  // namespace detail

Result<RegisterMap> variant_named(const RegisterMap& map, std::string_view name) {
    auto r = detail::concrete(map, name);
    if (!r) return Error{map.file + ": " + r.error().message, r.error().kind};
    return r;
}

Result<RegisterMap> apply_variant(const RegisterMap& map, const std::string& selector_text) {
    if (!map.variants) return map;
    std::string tried;
    for (const auto& c : map.variants->choices) {
        if (std::regex_search(selector_text, c.regex)) return variant_named(map, c.name);
        tried += (tried.empty() ? "" : ", ") + c.name + ": " + c.pattern;
    }
    const auto& reg = map.registers[static_cast<size_t>(map.variants->register_index)];
    return Error{map.profile + ": " + reg.id + " '" + selector_text + "' matches no variant (" + tried + ")",
                 ErrorKind::unsupported};
}

}  // namespace pvfleet::devices
