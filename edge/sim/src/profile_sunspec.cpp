#include <array>
#include <cmath>
#include <limits>

#include "pvfleet/sim/encode.hpp"
#include "pvfleet/sim/profile.hpp"

namespace pvfleet::sim {

namespace sunspec {
namespace {
constexpr std::array<PointOffset, 7> common{{{"Mn", 0}, {"Md", 16}, {"Opt", 32}, {"Vr", 40}, {"SN", 48}, {"DA", 64}, {"Pad", 65}}};
constexpr std::array<PointOffset, 44> inverter{{
    {"A", 0},        {"AphA", 1},     {"AphB", 2},     {"AphC", 3},     {"A_SF", 4},      {"PPVphAB", 5},
    {"PPVphBC", 6},  {"PPVphCA", 7},  {"PhVphA", 8},   {"PhVphB", 9},   {"PhVphC", 10},   {"V_SF", 11},
    {"W", 12},       {"W_SF", 13},    {"Hz", 14},      {"Hz_SF", 15},   {"VA", 16},       {"VA_SF", 17},
    {"VAr", 18},     {"VAr_SF", 19},  {"PF", 20},      {"PF_SF", 21},   {"WH", 22},       {"WH_SF", 24},
    {"DCA", 25},     {"DCA_SF", 26},  {"DCV", 27},     {"DCV_SF", 28},  {"DCW", 29},      {"DCW_SF", 30},
    {"TmpCab", 31},  {"TmpSnk", 32},  {"TmpTrns", 33}, {"TmpOt", 34},   {"Tmp_SF", 35},   {"St", 36},
    {"StVnd", 37},   {"Evt1", 38},    {"Evt2", 40},    {"EvtVnd1", 42}, {"EvtVnd2", 44},  {"EvtVnd3", 46},
    {"EvtVnd4", 48}, {"", 50},
}};
constexpr std::array<PointOffset, 8> mppt{{{"DCA_SF", 0}, {"DCV_SF", 1}, {"DCW_SF", 2}, {"DCWH_SF", 3}, {"Evt", 4}, {"N", 6}, {"TmsPer", 7}, {"", 8}}};
constexpr std::array<PointOffset, 11> module{{{"ID", 0}, {"IDStr", 1}, {"DCA", 9}, {"DCV", 10}, {"DCW", 11}, {"DCWH", 12}, {"Tms", 14}, {"Tmp", 16}, {"DCSt", 17}, {"DCEvt", 18}, {"", 20}}};

constexpr std::array<PointOffset, 7> nameplate{{{"DERTyp", 0}, {"WRtg", 1}, {"WRtg_SF", 2}, {"VARtg", 3}, {"VARtg_SF", 4}, {"ARtg", 10}, {"ARtg_SF", 11}}};

constexpr uint16_t at(std::span<const PointOffset> table, std::string_view name) {
    for (const auto& p : table) {
        if (p.name == name) return p.offset;
    }
    return 0xFFFF;
}

// SunSpec model 103 Evt1 bits, in bit order.
constexpr std::array<std::string_view, 16> evt1_names{
    "ground_fault",    "dc_over_voltage", "ac_disconnect",  "dc_disconnect",  "grid_disconnect",  "cabinet_open",
    "manual_shutdown", "over_temperature", "over_frequency", "under_frequency", "ac_over_voltage", "ac_under_voltage",
    "blown_string_fuse", "under_temperature", "memory_loss", "hw_test_failure"};
}  // namespace

std::span<const PointOffset> common_offsets() { return {common.data(), common.size() - 0}; }
std::span<const PointOffset> inverter_offsets() { return {inverter.data(), inverter.size() - 1}; }
std::span<const PointOffset> mppt_offsets() { return {mppt.data(), mppt.size() - 1}; }
std::span<const PointOffset> mppt_module_offsets() { return {module.data(), module.size() - 1}; }
std::span<const PointOffset> nameplate_offsets() { return nameplate; }

int evt1_bit(std::string_view event) {
    for (std::size_t i = 0; i < evt1_names.size(); ++i) {
        if (evt1_names[i] == event) return static_cast<int>(i);
    }
    return -1;
}
}  // namespace sunspec

namespace {
using namespace sunspec;
constexpr auto H = RegisterKind::holding;
constexpr double nan = std::numeric_limits<double>::quiet_NaN();

// Scale factors the simulated device reports (fixed, as most SunSpec inverters do).
constexpr int a_sf = -2, v_sf = -1, w_sf = 0, hz_sf = -2, va_sf = 0, var_sf = 0, pf_sf = -2, wh_sf = 0,
              dca_sf = -2, dcv_sf = -1, dcw_sf = 0, tmp_sf = -1, dcwh_sf = 0;

void put(RegisterImage& image, uint16_t address, const std::vector<uint16_t>& words) {
    for (std::size_t i = 0; i < words.size(); ++i) image.set(H, static_cast<uint16_t>(address + i), words[i]);
}

// SunSpec operating state enumeration (model 101/103 St).
uint16_t sunspec_state(domain::InverterState s) {
    using domain::InverterState;
    switch (s) {
    case InverterState::off: return 1;
    case InverterState::sleeping: return 2;
    case InverterState::starting: return 3;
    case InverterState::producing: return 4;
    case InverterState::throttled: return 5;
    case InverterState::shutting_down: return 6;
    case InverterState::fault: return 7;
    case InverterState::standby: return 8;
    case InverterState::unknown: return 0xFFFF;
    }
    return 0xFFFF;
}

class SunSpecProfile final : public Profile {
public:
    [[nodiscard]] std::string name() const override { return "sunspec"; }

    [[nodiscard]] std::vector<std::string> supported_events() const override {
        std::vector<std::string> out;
        for (const auto& e : fault_events()) {
            if (evt1_bit(e.name) >= 0) out.emplace_back(e.name);
        }
        return out;
    }

    static uint16_t inverter_start() { return base + 2 + 2 + common_length; }
    static uint16_t mppt_start() { return inverter_start() + 2 + inverter_length; }

    void build(RegisterImage& image, const DeviceSpec& d) const override {
        put(image, base, encode_string("SunS", 2));
        uint16_t a = base + 2;
        put(image, a, {1, common_length});
        const uint16_t c = a + 2;
        put(image, c + at(common, "Mn"), encode_string(d.manufacturer, 16));
        put(image, c + at(common, "Md"), encode_string(d.model, 16));
        put(image, c + at(common, "Opt"), encode_string("pvfleet-sim", 8));
        put(image, c + at(common, "Vr"), encode_string("1.0", 8));
        put(image, c + at(common, "SN"), encode_string(d.serial, 16));
        put(image, c + at(common, "DA"), {d.unit});
        put(image, c + at(common, "Pad"), {0x8000});
        a = inverter_start();
        put(image, a, {static_cast<uint16_t>(d.phases == 1 ? 101 : 103), inverter_length});
        const uint16_t i = a + 2;
        for (uint16_t k = 0; k < inverter_length; ++k) image.set(H, static_cast<uint16_t>(i + k), 0);
        const std::pair<std::string_view, int> sfs[] = {{"A_SF", a_sf},   {"V_SF", v_sf},     {"W_SF", w_sf},
                                                         {"Hz_SF", hz_sf}, {"VA_SF", va_sf},   {"VAr_SF", var_sf},
                                                         {"PF_SF", pf_sf}, {"WH_SF", wh_sf},   {"DCA_SF", dca_sf},
                                                         {"DCV_SF", dcv_sf}, {"DCW_SF", dcw_sf}, {"Tmp_SF", tmp_sf}};
        for (const auto& [n, v] : sfs) put(image, i + at(inverter, n), encode_value(v, WordType::sunssf));
        for (auto n : {"PPVphAB", "PPVphBC", "PPVphCA"}) put(image, i + at(inverter, n), unimplemented_value(WordType::u16));
        for (auto n : {"TmpSnk", "TmpTrns", "TmpOt"}) put(image, i + at(inverter, n), unimplemented_value(WordType::s16));
        put(image, i + at(inverter, "StVnd"), unimplemented_value(WordType::enum16));
        // Model 160: MPPT inputs.
        a = mppt_start();
        const auto n = static_cast<uint16_t>(d.mppts);
        const auto length = static_cast<uint16_t>(mppt_header_length + n * mppt_module_length);
        put(image, a, {160, length});
        const uint16_t m = a + 2;
        put(image, m + at(mppt, "DCA_SF"), encode_value(dca_sf, WordType::sunssf));
        put(image, m + at(mppt, "DCV_SF"), encode_value(dcv_sf, WordType::sunssf));
        put(image, m + at(mppt, "DCW_SF"), encode_value(dcw_sf, WordType::sunssf));
        put(image, m + at(mppt, "DCWH_SF"), encode_value(dcwh_sf, WordType::sunssf));
        put(image, m + at(mppt, "Evt"), {0, 0});
        put(image, m + at(mppt, "N"), {n});
        put(image, m + at(mppt, "TmsPer"), unimplemented_value(WordType::u16));
        for (uint16_t k = 0; k < n; ++k) {
            const uint16_t mod = m + mppt_header_length + k * mppt_module_length;
            put(image, mod + at(module, "ID"), {static_cast<uint16_t>(k + 1)});
            put(image, mod + at(module, "IDStr"), encode_string("MPPT" + std::to_string(k + 1), 8));
            put(image, mod + at(module, "DCWH"), unimplemented_value(WordType::acc32));
            put(image, mod + at(module, "Tms"), unimplemented_value(WordType::u32));
            put(image, mod + at(module, "Tmp"), unimplemented_value(WordType::s16));
            put(image, mod + at(module, "DCEvt"), {0, 0});
        }
        // Model 120: nameplate ratings (read once by pollers).
        a = static_cast<uint16_t>(a + 2 + length);
        put(image, a, {120, nameplate_length});
        const uint16_t np = a + 2;
        for (uint16_t k = 0; k < nameplate_length; ++k) put(image, np + k, unimplemented_value(k == 25 ? WordType::s16 : WordType::u16));
        for (uint16_t k : {5, 6, 7, 8, 12, 13, 14, 15}) put(image, np + k, unimplemented_value(WordType::s16));
        for (uint16_t k : {9, 16, 18, 20, 22, 24}) put(image, np + k, unimplemented_value(WordType::sunssf));
        put(image, np + at(nameplate, "DERTyp"), {4});  // PV
        put(image, np + at(nameplate, "WRtg"), encode_value(d.ac_kw * 1000.0, WordType::u16, 0));
        put(image, np + at(nameplate, "WRtg_SF"), encode_value(0, WordType::sunssf));
        put(image, np + at(nameplate, "VARtg"), encode_value(d.ac_kw * 1000.0, WordType::u16, 0));
        put(image, np + at(nameplate, "VARtg_SF"), encode_value(0, WordType::sunssf));
        put(image, np + at(nameplate, "ARtg"), encode_value(d.ac_kw * 1000.0 / 230.0 / d.phases * 1.1, WordType::u16, -1));
        put(image, np + at(nameplate, "ARtg_SF"), encode_value(-1, WordType::sunssf));
        put(image, static_cast<uint16_t>(np + nameplate_length), {0xFFFF, 0});
        update(image, d, DeviceReading{.mppt = std::vector<MpptReading>(static_cast<std::size_t>(d.mppts)),
                                       .phase_voltage_v = std::vector<double>(static_cast<std::size_t>(d.phases), 0.0),
                                       .phase_current_a = std::vector<double>(static_cast<std::size_t>(d.phases), 0.0),
                                       .events = {}});
    }

    void update(RegisterImage& image, const DeviceSpec& d, const DeviceReading& r) const override {
        const uint16_t i = inverter_start() + 2;
        double total_a = 0.0;
        for (double x : r.phase_current_a) total_a += x;
        put(image, i + at(inverter, "A"), encode_value(total_a, WordType::u16, a_sf));
        const char* amps[] = {"AphA", "AphB", "AphC"};
        const char* volts[] = {"PhVphA", "PhVphB", "PhVphC"};
        for (std::size_t p = 0; p < 3; ++p) {
            const bool present = p < r.phase_current_a.size();
            put(image, i + at(inverter, amps[p]), encode_value(present ? r.phase_current_a[p] : nan, WordType::u16, a_sf));
            put(image, i + at(inverter, volts[p]), encode_value(present ? r.phase_voltage_v[p] : nan, WordType::u16, v_sf));
        }
        put(image, i + at(inverter, "W"), encode_value(r.ac_power_w, WordType::s16, w_sf));
        put(image, i + at(inverter, "Hz"), encode_value(r.ac_frequency_hz, WordType::u16, hz_sf));
        put(image, i + at(inverter, "VA"), encode_value(r.ac_power_w, WordType::s16, va_sf));
        put(image, i + at(inverter, "VAr"), encode_value(0.0, WordType::s16, var_sf));
        put(image, i + at(inverter, "PF"), encode_value(r.ac_power_w > 0.0 ? 100.0 : nan, WordType::s16, pf_sf));
        put(image, i + at(inverter, "WH"), encode_value(r.energy_total_wh, WordType::acc32, wh_sf));
        double dc_v = 0.0;
        for (const auto& m : r.mppt) dc_v = std::max(dc_v, m.voltage_v);
        put(image, i + at(inverter, "DCA"), encode_value(dc_v > 0.0 ? r.dc_power_w / dc_v : 0.0, WordType::u16, dca_sf));
        put(image, i + at(inverter, "DCV"), encode_value(dc_v, WordType::u16, dcv_sf));
        put(image, i + at(inverter, "DCW"), encode_value(r.dc_power_w, WordType::s16, dcw_sf));
        put(image, i + at(inverter, "TmpCab"), encode_value(r.temperature_c, WordType::s16, tmp_sf));
        put(image, i + at(inverter, "St"), {sunspec_state(r.state)});
        uint32_t evt1 = 0;
        for (const auto& e : r.events) {
            const int bit = evt1_bit(e);
            if (bit >= 0) evt1 |= 1u << bit;
        }
        put(image, i + at(inverter, "Evt1"), {static_cast<uint16_t>(evt1 >> 16), static_cast<uint16_t>(evt1 & 0xFFFF)});
        const uint16_t m = mppt_start() + 2;
        for (std::size_t k = 0; k < r.mppt.size() && k < static_cast<std::size_t>(d.mppts); ++k) {
            const auto mod = static_cast<uint16_t>(m + mppt_header_length + k * mppt_module_length);
            put(image, mod + at(module, "DCA"), encode_value(r.mppt[k].current_a, WordType::u16, dca_sf));
            put(image, mod + at(module, "DCV"), encode_value(r.mppt[k].voltage_v, WordType::u16, dcv_sf));
            put(image, mod + at(module, "DCW"), encode_value(r.mppt[k].power_w, WordType::u16, dcw_sf));
            // DCSt (model 160): 1 OFF, 2 SLEEPING, 3 STARTING, 4 MPPT, 7 FAULT.
            const uint16_t st = r.mppt[k].voltage_v <= 0.0 ? 1 : sunspec_state(r.state);
            put(image, mod + at(module, "DCSt"), {st});
        }
    }
};
}  // namespace

std::unique_ptr<Profile> make_sunspec_profile() { return std::make_unique<SunSpecProfile>(); }

}  // namespace pvfleet::sim
