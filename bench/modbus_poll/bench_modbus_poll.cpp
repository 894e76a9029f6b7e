// bench_modbus_poll throughput --tcp HOST:PORT [--unit N] [--blocks ADDR+COUNT,...] [--input] [--seconds S]
//   The same block reads, back to back, through (a) a bare libmodbus loop and (b) our modbus::Session; prints
//   requests/s of each and the ratio (target: session >= 90% of bare).
// bench_modbus_poll footprint --tcp HOST:PORT [--devices 10] [--units 1,2,...] [--blocks ...] [--seconds 60]
// --profile NAME [--maps DIR] (both modes): the blocks come from that register map's planner and our side
//   decodes every answer with it (pvfleet::devices), so the comparison includes decoding.
//   The acquisition Poller polling N devices every second (fast class = the blocks) for S seconds; prints
//   CPU time / wall time (% of one core) and max RSS from getrusage (target: < 2% and < 16 MB).
#include <modbus/modbus.h>
#include <sys/resource.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <stop_token>
#include <string>
#include <vector>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/modbus/endpoint_args.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/util/log.hpp"

using namespace pvfleet;
using Steady = std::chrono::steady_clock;

namespace {

struct Options {
    std::string mode;
    modbus::TcpAddress tcp;
    uint8_t unit = 1;
    std::vector<uint8_t> units;
    std::vector<acquisition::ReadBlock> blocks;
    double seconds = 10;
    int devices = 10;
    std::optional<devices::RegisterMap> map;  // --profile: decode with this map
};

std::vector<acquisition::ReadBlock> parse_blocks(const std::string& text, modbus::RegisterKind kind) {
    std::vector<acquisition::ReadBlock> out;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto plus = item.find('+');
        if (plus == std::string::npos) throw std::runtime_error("block '" + item + "': expected ADDR+COUNT");
        out.push_back({kind, static_cast<uint16_t>(std::stoi(item.substr(0, plus))),
                       static_cast<uint16_t>(std::stoi(item.substr(plus + 1)))});
    }
    return out;
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long max_rss_kb() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

struct Rate {
    long requests = 0;
    long failures = 0;
    double seconds = 0;
    [[nodiscard]] double per_second() const { return static_cast<double>(requests) / seconds; }
};

Rate bare_libmodbus(const Options& o) {
    modbus_t* ctx = modbus_new_tcp(o.tcp.host.c_str(), o.tcp.port);
    if (ctx == nullptr || modbus_connect(ctx) != 0) throw std::runtime_error("bare: cannot connect");
    modbus_set_slave(ctx, o.unit);
    modbus_set_response_timeout(ctx, 1, 0);
    std::vector<uint16_t> buf(125);
    Rate r;
    const auto start = Steady::now();
    const auto end = start + std::chrono::duration<double>(o.seconds);
    while (Steady::now() < end) {
        for (const auto& b : o.blocks) {
            const int n = b.kind == modbus::RegisterKind::holding ? modbus_read_registers(ctx, b.address, b.count, buf.data())
                                                                 : modbus_read_input_registers(ctx, b.address, b.count, buf.data());
            ++r.requests;
            if (n != b.count) ++r.failures;
        }
    }
    r.seconds = std::chrono::duration<double>(Steady::now() - start).count();
    modbus_close(ctx);
    modbus_free(ctx);
    return r;
}

modbus::SessionTiming bench_timing() {
    modbus::SessionTiming t;  // production defaults, except: no settle pause skewing a short run
    t.pause_after_connect = Millis{0};
    return t;
}

Rate through_session(const Options& o) {
    SystemClock clock;
    modbus::SystemSleeper sleeper;
    auto session = modbus::make_session({o.tcp, bench_timing()}, clock, sleeper);
    std::optional<devices::MapDeviceModel> model;
    if (o.map) model.emplace(*o.map);
    Rate r;
    const auto start = Steady::now();
    const auto end = start + std::chrono::duration<double>(o.seconds);
    std::vector<modbus::Registers> answers;
    double checksum = 0;
    while (Steady::now() < end) {
        answers.clear();
        for (const auto& b : o.blocks) {
            auto res = session->read_registers(o.unit, b.kind, b.address, b.count);
            ++r.requests;
            if (!res) {
                if (++r.failures <= 3) std::fprintf(stderr, "session: %s\n", res.error().message.c_str());
            } else {
                answers.push_back(std::move(*res));
            }
        }
        if (model && answers.size() == o.blocks.size()) {
            auto reading = model->decode(acquisition::PollClass::fast, answers);
            if (reading) checksum += reading->value("ac_power_w").value_or(0);
        }
    }
    if (checksum < 0) std::fprintf(stderr, "negative power seen\n");
    r.seconds = std::chrono::duration<double>(Steady::now() - start).count();
    return r;
}

// Reads the given blocks as the fast class and reports their first words: the footprint of scheduling,
// transport and sample building, independent of any particular register map.
class BlockModel final : public acquisition::DeviceModel {
public:
    explicit BlockModel(std::vector<acquisition::ReadBlock> blocks) : blocks_(std::move(blocks)) {}
    std::vector<acquisition::ReadBlock> blocks(acquisition::PollClass c) const override {
        return c == acquisition::PollClass::fast ? blocks_ : std::vector<acquisition::ReadBlock>{};
    }
    Result<acquisition::Reading> decode(acquisition::PollClass, const std::vector<modbus::Registers>& words) const override {
        acquisition::Reading r;
        double sum = 0;
        for (const auto& w : words) sum += w.front();
        r.values["ac_power_w"] = sum;
        return r;
    }

private:
    std::vector<acquisition::ReadBlock> blocks_;
};

int footprint(const Options& o) {
    SystemClock clock;
    modbus::SystemSleeper sleeper;
    auto session = modbus::make_session({o.tcp, modbus::SessionTiming{}}, clock, sleeper);
    long samples = 0;
    acquisition::Poller poller(clock, sleeper, [&](const domain::Sample&) { ++samples; });
    acquisition::PollIntervals iv;
    iv.fast = Millis{1000};
    for (int i = 0; i < o.devices; ++i) {
        const uint8_t unit = o.units.empty() ? o.unit : o.units[static_cast<size_t>(i) % o.units.size()];
        std::unique_ptr<acquisition::DeviceModel> model;
        if (o.map) model = std::make_unique<devices::MapDeviceModel>(*o.map);
        else model = std::make_unique<BlockModel>(o.blocks);
        poller.add_device({"dev" + std::to_string(i + 1), session.get(), unit, std::move(model), iv, acquisition::Rating{}});
    }
    const double cpu0 = cpu_seconds();
    const auto t0 = Steady::now();
    std::stop_source stop;
    const auto end = t0 + std::chrono::duration<double>(o.seconds);
    // Same loop as Poller::run, bounded by the benchmark duration.
    while (Steady::now() < end) {
        const TimePoint next = poller.poll_due();
        const auto now = clock.now();
        if (next > now) sleeper.sleep_for(std::min(std::chrono::duration_cast<Millis>(next - now), Millis{500}));
    }
    const double wall = std::chrono::duration<double>(Steady::now() - t0).count();
    const double cpu = cpu_seconds() - cpu0;
    const auto st = session->stats();
    std::printf("footprint: %d devices, 1 s interval, %.0f s: %ld samples, %llu requests (%llu failed)\n", o.devices,
                wall, samples, static_cast<unsigned long long>(st.attempts),
                static_cast<unsigned long long>(st.attempts - st.answered));
    std::printf("cpu %.3f s = %.2f%% of one core; max RSS %.1f MB\n", cpu, 100.0 * cpu / wall,
                static_cast<double>(max_rss_kb()) / 1024.0);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << "usage: bench_modbus_poll throughput|footprint --tcp HOST:PORT [--unit N] [--units 1,2]\n"
                     "                         [--blocks ADDR+COUNT,...] [--input] [--seconds S] [--devices N]\n";
        return 2;
    }
    log::set_level(log::Level::warn);
    Options o;
    o.mode = args[0];
    auto ep = modbus::parse_endpoint_args(std::vector<std::string>(args.begin() + 1, args.end()));
    if (!ep || !std::holds_alternative<modbus::TcpAddress>(ep->address)) {
        std::cerr << "bench_modbus_poll: " << (ep ? "TCP only" : ep.error().message) << "\n";
        return 2;
    }
    o.tcp = std::get<modbus::TcpAddress>(ep->address);
    std::string blocks = "0+50";
    std::string profile;
    std::optional<std::filesystem::path> maps;
    auto kind = modbus::RegisterKind::holding;
    for (size_t i = 0; i < ep->rest.size(); ++i) {
        const auto& a = ep->rest[i];
        const std::string v = i + 1 < ep->rest.size() ? ep->rest[i + 1] : "";
        if (a == "--input") { kind = modbus::RegisterKind::input; continue; }
        ++i;
        if (a == "--unit") o.unit = static_cast<uint8_t>(std::stoi(v));
        else if (a == "--units") o.units = modbus::parse_unit_list(v).value();
        else if (a == "--blocks") blocks = v;
        else if (a == "--seconds") o.seconds = std::stod(v);
        else if (a == "--devices") o.devices = std::stoi(v);
        else if (a == "--profile") profile = v;
        else if (a == "--maps") maps = v;
        else { std::cerr << "unknown option " << a << "\n"; return 2; }
    }
    o.blocks = parse_blocks(blocks, kind);
    if (!profile.empty()) {
        auto dir = devices::find_devices_dir(maps);
        auto catalog = dir ? devices::Catalog::load(*dir) : Result<devices::Catalog>(dir.error());
        if (!catalog || catalog->find(profile) == nullptr) {
            std::cerr << "bench_modbus_poll: --profile " << profile << ": " << (catalog ? "unknown" : catalog.error().message) << "\n";
            return 2;
        }
        o.map = *catalog->find(profile);
        o.blocks = devices::MapDeviceModel(*o.map).blocks(acquisition::PollClass::fast);
        std::printf("profile %s: fast class = %zu read(s)\n", profile.c_str(), o.blocks.size());
    }
    if (o.mode == "footprint") return footprint(o);
    if (o.mode != "throughput") {
        std::cerr << "mode must be throughput or footprint\n";
        return 2;
    }
    // Alternate in short rounds so server warm-up and load from other processes hit both sides alike.
    constexpr int kRounds = 10;
    Options slice = o;
    slice.seconds = o.seconds / (2 * kRounds);
    Rate bare, ours;
    for (int round = 0; round < kRounds; ++round) {
        for (int side = 0; side < 2; ++side) {
            const Rate r = (side == 0) == (round % 2 == 0) ? bare_libmodbus(slice) : through_session(slice);
            Rate& into = (side == 0) == (round % 2 == 0) ? bare : ours;
            into.requests += r.requests;
            into.failures += r.failures;
            into.seconds += r.seconds;
        }
    }
    std::printf("bare libmodbus: %8.0f req/s (%ld requests, %ld failed)\n", bare.per_second(), bare.requests, bare.failures);
    std::printf("modbus::Session: %7.0f req/s (%ld requests, %ld failed)\n", ours.per_second(), ours.requests, ours.failures);
    std::printf("ratio: %.1f%% of bare\n", 100.0 * ours.per_second() / bare.per_second());
    return (bare.failures == 0 && ours.failures == 0) ? 0 : 1;
}
