#include "pvfleet/devices/catalog.hpp"

#include <algorithm>

#include "pvfleet/devices/register_codec.hpp"
#include "pvfleet/util/data_dir.hpp"

namespace pvfleet::devices {
namespace {

constexpr uint16_t kMarkerHigh = 0x5375;  // "Su"
constexpr uint16_t kMarkerLow = 0x6E53;   // "nS"
constexpr std::array<uint16_t, 3> kMarkerAddresses{40000, 0, 50000};
constexpr size_t kMaxModels = 64;
constexpr int kDropped = -1000;  // a scale factor cut off by a short model length

std::string kind_text(ErrorKind k) {
    switch (k) {
        case ErrorKind::timeout: return "no answer";
        case ErrorKind::rejected: return "illegal address";
        case ErrorKind::busy: return "busy";
        case ErrorKind::io: return "link failed";
        default: return "error";
    }
}

}  // namespace

Result<SunSpecChain> walk_sunspec(modbus::ModbusBus& bus, uint8_t unit) {
    std::string tried;
    for (uint16_t base : kMarkerAddresses) {
        auto marker = bus.read_registers(unit, RegisterKind::holding, base, 2);
        if (!marker) {
            if (marker.error().kind == ErrorKind::io) return marker.error();
            tried += (tried.empty() ? "" : ", ") + std::to_string(base) + " (" + kind_text(marker.error().kind) + ")";
            continue;
        }
        if ((*marker)[0] != kMarkerHigh || (*marker)[1] != kMarkerLow) {
            tried += (tried.empty() ? "" : ", ") + std::to_string(base) + " (no SunS)";
            continue;
        }
        SunSpecChain chain;
        chain.base = base;
        uint32_t address = base + 2U;
        while (address + 1 <= 0xFFFF && chain.models.size() < kMaxModels) {
            auto header = bus.read_registers(unit, RegisterKind::holding, static_cast<uint16_t>(address), 2);
            if (!header) {
                if (header.error().kind == ErrorKind::rejected) break;  // end of the map
                return Error{"SunSpec chain at " + std::to_string(address) + ": " + header.error().message,
                             header.error().kind};
            }
            const uint16_t id = (*header)[0];
            const uint16_t length = (*header)[1];
            if (id == 0xFFFF || id == 0) break;
            chain.models.push_back({id, static_cast<uint16_t>(address), length});
            address += 2U + length;
        }
        if (chain.models.empty()) return Error{"SunSpec marker at " + std::to_string(base) + " but no models", ErrorKind::unsupported};
        return chain;
    }
    return Error{"no SunSpec marker at " + tried, ErrorKind::not_found};
}

std::vector<std::vector<SunSpecModelAt>> split_devices(const SunSpecChain& chain) {
    std::vector<std::vector<SunSpecModelAt>> devices;
    for (const auto& m : chain.models) {
        if (m.id == 1 || devices.empty()) devices.emplace_back();
        devices.back().push_back(m);
    }
    return devices;
}

Result<Catalog> Catalog::load(const std::filesystem::path& devices_dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(devices_dir, ec))
        return Error{devices_dir.string() + ": not a folder of register maps", ErrorKind::not_found};
    Catalog c;
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::directory_iterator(devices_dir)) {
        if (e.path().extension() == ".json" && e.path().filename().string().find("schema") == std::string::npos)
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) {
        auto m = load_register_map(f);
        if (!m) return m.error();
        if (m->profile + ".json" != f.filename().string())
            return Error{f.filename().string() + ": profile: '" + m->profile + "' must equal the file name"};
        c.add(std::move(*m));
    }
    const auto sunspec_dir = devices_dir / "sunspec";
    if (std::filesystem::is_directory(sunspec_dir, ec)) {
        std::vector<std::filesystem::path> models;
        for (const auto& e : std::filesystem::directory_iterator(sunspec_dir)) {
            if (e.path().extension() == ".json") models.push_back(e.path());
        }
        std::sort(models.begin(), models.end());
        for (const auto& f : models) {
            auto m = load_sunspec_model_map(f);
            if (!m) return Error{"sunspec/" + m.error().message, m.error().kind};
            c.add(std::move(*m));
        }
    }
    return c;
}

void Catalog::add(RegisterMap map) {
    auto name = map.profile;
    vendor_.insert_or_assign(std::move(name), std::move(map));
}
void Catalog::add(SunSpecModelMap map) { sunspec_.insert_or_assign(map.model, std::move(map)); }

const RegisterMap* Catalog::find(std::string_view profile) const {
    auto it = vendor_.find(profile);
    return it == vendor_.end() ? nullptr : &it->second;
}

std::vector<std::string> Catalog::profiles() const {
    std::vector<std::string> out;
    for (const auto& [name, m] : vendor_) out.push_back(name);
    return out;
}

Result<RegisterMap> Catalog::instantiate(const std::vector<SunSpecModelAt>& models, std::vector<uint16_t>* skipped) const {
    RegisterMap out;
    out.profile = "sunspec";
    out.vendor = "";
    out.source = "SunSpec discovery";
    out.file = "sunspec";
    bool any_inverter = false;
    std::optional<DeviceKind> first_kind;
    for (const auto& at : models) {
        auto it = sunspec_.find(at.id);
        if (it == sunspec_.end()) {
            if (skipped != nullptr) skipped->push_back(at.id);
            continue;
        }
        const auto& model = it->second;
        if (model.device_kind == DeviceKind::inverter && at.id != 1 && at.id != 120) any_inverter = true;
        if (at.id != 1 && !first_kind) first_kind = model.device_kind;
        const uint32_t model_end = static_cast<uint32_t>(at.address) + 2U + at.length;  // one past the last
        const int base = static_cast<int>(out.registers.size());
        auto place = [&](RegisterDef r, uint32_t address, int sf_base, int group) -> bool {
            if (address + r.words > model_end || address + r.words - 1 > 0xFFFF) return false;
            r.address = static_cast<uint16_t>(address);
            if (group >= 0 && r.target.index >= 0) r.target.index = group;
            if (r.scale_register >= 0) r.scale_register += sf_base;
            out.registers.push_back(std::move(r));
            return true;
        };
        // Fixed part; a register cut by a short L is dropped, and a value whose factor was dropped too.
        std::vector<int> fixed_index(model.registers.size(), -1);
        for (size_t i = 0; i < model.registers.size(); ++i) {
            const auto& r = model.registers[i];
            const int before = static_cast<int>(out.registers.size());
            if (place(r, at.address + static_cast<uint32_t>(r.address), base, -1)) fixed_index[i] = before;
        }
        // Indices shift when registers are dropped: remap scale references of this model.
        for (int k = base; k < static_cast<int>(out.registers.size()); ++k) {
            auto& r = out.registers[static_cast<size_t>(k)];
            if (r.scale_register < 0) continue;
            const int placed = fixed_index[static_cast<size_t>(r.scale_register - base)];
            r.scale_register = placed >= 0 ? placed : kDropped;
        }
        if (model.repeat) {
            const auto& rep = *model.repeat;
            const uint32_t fixed_end = at.address + static_cast<uint32_t>(rep.first_offset);
            const uint32_t groups = model_end > fixed_end ? (model_end - fixed_end) / rep.length : 0;
            for (uint32_t g = 0; g < groups; ++g) {
                const int group_base = static_cast<int>(out.registers.size());
                std::vector<int> group_index(rep.registers.size(), -1);
                std::vector<int> wanted_sf;  // per placed register: its reference as parsed
                for (size_t i = 0; i < rep.registers.size(); ++i) {
                    auto r = rep.registers[i];
                    const int sf = r.scale_register;
                    r.scale_register = -1;
                    const int before = static_cast<int>(out.registers.size());
                    if (!place(r, fixed_end + g * rep.length + r.address, 0, static_cast<int>(g))) continue;
                    group_index[i] = before;
                    wanted_sf.push_back(sf);
                }
                for (int k = group_base; k < static_cast<int>(out.registers.size()); ++k) {
                    const int sf = wanted_sf[static_cast<size_t>(k - group_base)];
                    int resolved = -1;
                    if (sf >= 0) resolved = group_index[static_cast<size_t>(sf)];             // within the group
                    else if (sf < -1) resolved = fixed_index[static_cast<size_t>(-sf - 2)];   // in the fixed part
                    if (sf != -1 && resolved < 0) resolved = kDropped;
                    out.registers[static_cast<size_t>(k)].scale_register = resolved;
                }
            }
        }
    }
    // Values whose scale factor was dropped (short L) cannot be decoded: remove their point.
    for (auto& r : out.registers) {
        if (r.scale_register < -1 || r.scale_register >= static_cast<int>(out.registers.size())) {
            r.scale_register = -1;
            r.target = {};
        }
    }
    if (out.registers.empty()) return Error{"no known SunSpec model in this device", ErrorKind::unsupported};
    out.device_kind = any_inverter ? DeviceKind::inverter : first_kind.value_or(DeviceKind::inverter);
    if (auto s = validate(out); !s) return s.error();
    return out;
}

Result<std::filesystem::path> find_devices_dir(const std::optional<std::filesystem::path>& explicit_dir) {
    return find_data_dir("devices", explicit_dir, "PVFLEET_DEVICES_DIR", "register-map folder", "--maps DIR");
}

namespace {
Result<Identified> identify_unit(modbus::ModbusBus& bus, uint8_t unit, const Catalog& catalog, std::string_view profile,
                                 int sunspec_device);

// A register's decoded value as text: strings as they are, numbers in decimal.
std::string decoded_text(const RegisterDef& reg, const modbus::Registers& words) {
    if (reg.type == ValueType::string) return text_value(reg, words);
    auto n = raw_number(reg, words);
    return n ? std::to_string(static_cast<long long>(*n)) : std::string();
}

// A map with model variants becomes the concrete map of the device's model: its variant register is read and
// matched against the choices. Then the identity is read through the concrete map.
Result<Identified> with_variant(modbus::ModbusBus& bus, uint8_t unit, const RegisterMap& m, std::string how) {
    RegisterMap concrete = m;
    if (m.variants) {
        const auto& reg = m.registers[static_cast<size_t>(m.variants->register_index)];
        auto words = bus.read_registers(unit, reg.kind, reg.address, reg.words);
        if (!words)
            return Error{"profile " + m.profile + ": variant register " + reg.id + ": " + words.error().message,
                         words.error().kind};
        const auto text = decoded_text(reg, *words);
        PVF_TRY(concrete, apply_variant(m, text));
        how += "; variant " + concrete.variant + " (" + reg.id + " = '" + text + "')";
    }
    MapDeviceModel model(concrete);
    auto d = model.read(bus, unit, PollClass::once);
    if (!d) return Error{"profile " + m.profile + ": identity read failed: " + d.error().message, d.error().kind};
    return Identified{d->identity, std::move(concrete), std::move(how)};
}
}  // namespace

Result<Identified> identify(modbus::ModbusBus& bus, uint8_t unit, const Catalog& catalog, std::string_view profile,
                            int sunspec_device) {
    auto r = identify_unit(bus, unit, catalog, profile, sunspec_device);
    if (!r && r.error().message.rfind("unit ", 0) != 0)
        return Error{"unit " + std::to_string(unit) + " on " + bus.describe() + ": " + r.error().message, r.error().kind};
    return r;
}

namespace {
Result<Identified> identify_unit(modbus::ModbusBus& bus, uint8_t unit, const Catalog& catalog, std::string_view profile,
                                 int sunspec_device) {
    std::string tried;
    const bool try_sunspec = profile == "auto" || profile == "sunspec";
    if (try_sunspec) {
        auto chain = walk_sunspec(bus, unit);
        if (chain) {
            auto devices = split_devices(*chain);
            if (sunspec_device < 0 || sunspec_device >= static_cast<int>(devices.size()))
                return Error{"SunSpec chain at " + std::to_string(chain->base) + " has " + std::to_string(devices.size()) +
                                 " device(s); sunspec_device " + std::to_string(sunspec_device) + " does not exist",
                             ErrorKind::not_found};
            std::vector<uint16_t> skipped;
            auto map = catalog.instantiate(devices[static_cast<size_t>(sunspec_device)], &skipped);
            if (!map) return map.error();
            Identified out;
            out.how = "SunSpec at " + std::to_string(chain->base) + ": models";
            for (const auto& m : devices[static_cast<size_t>(sunspec_device)]) out.how += " " + std::to_string(m.id);
            if (!skipped.empty()) {
                out.how += " (not decoded:";
                for (auto id : skipped) out.how += " " + std::to_string(id);
                out.how += ")";
            }
            MapDeviceModel model(*map);
            auto identity = model.read_identity(bus, unit);
            if (!identity) return Error{"SunSpec identity: " + identity.error().message, identity.error().kind};
            out.identity = *identity;
            out.map = std::move(*map);
            return out;
        }
        if (chain.error().kind == ErrorKind::io || profile == "sunspec") return chain.error();
        tried = "SunSpec: " + chain.error().message;
    }
    std::vector<const RegisterMap*> candidates;
    if (profile == "auto") {
        for (const auto& name : catalog.profiles()) {
            const auto* m = catalog.find(name);
            if (m->identify) candidates.push_back(m);
        }
    } else if (!try_sunspec) {
        const auto* m = catalog.find(profile);
        if (m == nullptr) {
            std::string list;
            for (const auto& p : catalog.profiles()) list += (list.empty() ? "" : ", ") + p;
            return Error{"unknown profile '" + std::string(profile) + "' (expected auto, sunspec or one of: " + list + ")",
                         ErrorKind::not_found};
        }
        return with_variant(bus, unit, *m, "profile " + m->profile + " given");
    }
    for (const auto* m : candidates) {
        const auto& rule = *m->identify;
        const auto& reg = m->registers[static_cast<size_t>(rule.register_index)];
        auto words = bus.read_registers(unit, reg.kind, reg.address, reg.words);
        if (!words) {
            tried += "; " + m->profile + " (" + std::to_string(reg.address) + ": " + kind_text(words.error().kind) + ")";
            if (words.error().kind == ErrorKind::io) break;
            continue;
        }
        const std::string text = decoded_text(reg, *words);
        if (!std::regex_search(text, rule.regex)) {
            tried += "; " + m->profile + " ('" + text + "' does not match)";
            continue;
        }
        return with_variant(bus, unit, *m,
                            "identify register " + (reg.id.empty() ? std::to_string(reg.address) : reg.id) + " = '" + text + "'");
    }
    return Error{"unit " + std::to_string(unit) + " on " + bus.describe() + ": no profile fits; tried " + tried,
                 ErrorKind::not_found};
}
}  // namespace

}  // namespace pvfleet::devices
