#include "support/protocol_fixtures.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "pvfleet/util/time.hpp"
#include "support/paths.hpp"

namespace pvfleet::protocol::test {
namespace {
using namespace std::chrono_literals;

// Register resolution, the way a decoder produces it: raw integer divided by a power of ten.
double round_to(double v, double step) {
    const double per_unit = std::round(1.0 / step);
    return std::round(v * per_unit) / per_unit;
}

// 96 quarter-hour AC power values (W) of one local day, or empty when the reference file is absent.
std::vector<double> measured_day(const std::string& date) {
    const auto path = pvfleet::test::reference_dir() / "data/pv/serf_east_15min_ac_power.csv";
    std::ifstream in(path);
    std::vector<double> values;
    std::string line;
    while (std::getline(in, line)) {
        if (!line.starts_with(date)) continue;
        values.push_back(std::stod(line.substr(line.find(',') + 1)));
    }
    return values.size() == 96 ? values : std::vector<double>{};
}

std::vector<double> synthetic_day() {
    std::vector<double> values;
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> cloud(0.2, 1.0);
    for (int q = 0; q < 96; ++q) {
        const double hour = q / 4.0;
        const double sun = std::max(0.0, std::sin((hour - 5.5) / 15.0 * M_PI));
        values.push_back(5200.0 * sun * (q % 3 == 0 ? cloud(rng) : 1.0) - 3.0);
    }
    return values;
}
}  // namespace

TimePoint base_time() { return from_epoch_ms(1468915200000LL); }

domain::Sample inverter_sample(const std::string& device_id, TimePoint t, double ac_power_w) {
    domain::Sample s;
    s.device_id = device_id;
    s.t = t;
    s.values["ac_power_w"] = ac_power_w;
    s.values["energy_total_wh"] = 18234567;
    s.values["energy_today_wh"] = 12044;
    s.values["ac_frequency_hz"] = 50.02;
    s.values["temperature_c"] = 41.3;
    s.arrays["dc_voltage_v"] = {612.4, 598.1};
    s.arrays["dc_current_a"] = {4.12, std::nullopt};
    s.arrays["dc_power_w"] = {2523, 2410};
    s.arrays["ac_voltage_v"] = {231.2};
    s.arrays["ac_current_a"] = {20.71};
    s.state = domain::InverterState::producing;
    return s;
}

TelemetryBatch telemetry_batch() {
    TelemetryBatch b;
    b.site_id = "demo-site-01";
    b.seq = 1042;
    b.sent_at = base_time() + 60s;
    b.resolution_s = 10;
    for (int i = 0; i < 6; ++i) {
        b.samples.push_back(inverter_sample("inv1", base_time() + i * 10s, 4780 + i));
    }
    b.samples[3].events = {"grid_overvoltage", "fan_warning"};
    b.samples[4].state.reset();
    b.samples[5].values["x_isolation_kohm"] = 1870.5;
    auto meter = domain::Sample{};
    meter.device_id = "meter-main";
    meter.t = base_time() + 5s;
    meter.values["grid_power_w"] = -2310.5;
    meter.values["grid_import_wh"] = 9876543;
    b.samples.push_back(meter);
    return b;
}

TicketEventMessage ticket_event() {
    TicketEventMessage m;
    m.site_id = "demo-site-01";
    m.seq = 1043;
    m.sent_at = base_time() + 61s;
    m.event.kind = domain::TicketEventKind::opened;
    m.event.at = base_time() + 60s;
    auto& t = m.event.ticket;
    t.id = "T-20160719-0001";
    t.device_id = "inv1";
    t.kind = domain::FaultKind::string_fault;
    t.severity = domain::Severity::major;
    t.state = domain::TicketState::open;
    t.summary = "MPPT 2 of inv1 delivers 4% of MPPT 1 in full sun";
    t.evidence.push_back({"dc_power_w", 98.0, 2410.0, "W", base_time() + 50s});
    t.evidence.push_back({"string_ratio", 0.04, std::nullopt, "", base_time() + 50s});
    t.opened_at = base_time() + 60s;
    t.updated_at = base_time() + 60s;
    return m;
}

StatusMessage status_online() {
    StatusMessage s;
    s.site_id = "demo-site-01";
    s.state = SiteState::online;
    s.sent_at = base_time() + 30s;
    s.agent_version = "0.1.0";
    s.uptime_s = 86400;
    s.backlog_depth = 3;
    s.last_seq = 1043;
    s.config_version = "2016-07-01.2";
    s.devices = {{"inv1", base_time() + 20s, {}}, {"inv2", std::nullopt, {}}};
    s.quota = QuotaReport{120, 0, base_time() - 24h};
    return s;
}

std::vector<Command> commands() {
    const auto issued = base_time() + 2min;
    return {
        Command{"demo-site-01", "c-0001", issued, issued + 1h, AckTicketCommand{"T-20160719-0001", "alice", "on my way"}},
        Command{"demo-site-01", "c-0002", issued, std::nullopt, ResolveTicketCommand{"T-20160719-0001", "alice", ""}},
        Command{"demo-site-01", "c-0003", issued, std::nullopt,
                SetConfigCommand{R"({"devices":[{"id":"inv1","host":"192.168.1.20"}],"site_id":"demo-site-01"})"}},
        Command{"demo-site-01", "c-0004", issued, std::nullopt, ResendCommand{1000, 1041}},
        Command{"demo-site-01", "c-0005", issued, std::nullopt, ProbeCommand{"inv2"}},
        Command{"demo-site-01", "c-0006", issued, issued + 6h,
                SetConfigCommand{"", R"({"poll":{"slow_s":600},"detection":{"not_producing":null}})",
                                 "2016-08-01.1"}},
        Command{"demo-site-01", "c-0007", issued, issued + 1h,
                LogBundleCommand{24, 2097152,
                                 "https://pv.example.com/api/log-bundles/lb-3f9c2a7d0b1e4c56/upload?site=demo-site-01"
                                 "&max=2097152&expires=1469174520&token=5d41402abc4b2a76b9719d911017c592"}},
    };
}

CommandAck command_ack() {
    return CommandAck{"demo-site-01", "c-0004", CommandType::resend, AckStatus::accepted, base_time() + 121s,
                      "42 messages queued"};
}

SiteDay site_day() {
    SiteDay day;
    auto quarter_hours = measured_day("2016-07-19");
    day.source = "measured 2016-07-19 (NREL SERF east), interpolated to 10 s with noise";
    if (quarter_hours.empty()) {
        quarter_hours = synthetic_day();
        day.source = "synthetic cloudy day (reference data not found)";
    }
    std::mt19937 rng(42);
    std::normal_distribution<double> noise(0.0, 1.0);
    const TimePoint midnight = from_epoch_ms(1468886400000LL + 7 * 3600 * 1000LL);  // local midnight, UTC-7
    struct Inverter {
        std::string id;
        double scale;
        double energy_total;
        double energy_today = 0;
        double temperature = 24;
    };
    std::vector<Inverter> inverters{{"inv1", 1.0, 18234567}, {"inv2", 0.62, 7345120}};
    constexpr int kStep = 10;
    for (int sec = 0; sec < 86400; sec += kStep) {
        const double pos = sec / 900.0;
        const auto q = static_cast<std::size_t>(pos);
        const double frac = pos - static_cast<double>(q);
        const double a = quarter_hours[q];
        const double b = quarter_hours[std::min<std::size_t>(q + 1, 95)];
        const double base = a + (b - a) * frac;
        for (auto& inv : inverters) {
            domain::Sample s;
            s.device_id = inv.id;
            s.t = midnight + std::chrono::seconds(sec);
            const bool producing = base > 5.0;
            double ac = producing ? std::max(0.0, base * inv.scale * (1.0 + 0.03 * noise(rng))) : 0.0;
            ac = std::round(ac);
            inv.energy_total += ac * kStep / 3600.0;
            inv.energy_today += ac * kStep / 3600.0;
            inv.temperature += ((producing ? 25.0 + ac / 150.0 : 22.0) - inv.temperature) * 0.01;
            s.values["energy_total_wh"] = std::floor(inv.energy_total);
            s.values["energy_today_wh"] = std::floor(inv.energy_today);
            s.values["ac_frequency_hz"] = round_to(50.0 + 0.02 * noise(rng), 0.01);
            s.values["temperature_c"] = round_to(inv.temperature + 0.2 * noise(rng), 0.1);
            s.arrays["ac_voltage_v"] = {round_to(231.0 + 1.5 * noise(rng), 0.1)};
            if (producing) {
                s.values["ac_power_w"] = ac;
                std::vector<std::optional<double>> v, i, p;
                for (int m = 0; m < 2; ++m) {
                    const double dc = ac / 0.965 * (m == 0 ? 0.55 : 0.45);
                    const double volts = round_to(560.0 + 40.0 * (m == 0 ? 1 : -1) + 8.0 * noise(rng), 0.1);
                    const double amps = round_to(dc / volts, 0.01);
                    v.emplace_back(volts);
                    i.emplace_back(amps);
                    p.emplace_back(std::round(volts * amps));
                }
                s.arrays["dc_voltage_v"] = v;
                s.arrays["dc_current_a"] = i;
                s.arrays["dc_power_w"] = p;
                s.arrays["ac_current_a"] = {round_to(ac / 231.0, 0.01)};
                s.state = domain::InverterState::producing;
            } else {
                s.values["ac_power_w"] = 0;
                s.state = domain::InverterState::sleeping;
            }
            day.samples.push_back(std::move(s));
        }
    }
    return day;
}

}  // namespace pvfleet::protocol::test
