// Poll scheduler and device states over the fake bus, on a manual clock: every retry, offline, asleep and
// recovery path runs deterministically.
#include <doctest/doctest.h>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/fakes/fake_modbus_bus.hpp"
#include "pvfleet/modbus/session.hpp"

using namespace pvfleet;
using namespace pvfleet::acquisition;
using fakes::FakeFault;
using fakes::FakeModbusBus;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

namespace {

// A tiny register map: fast = holding 0..1 (state code, power W), slow = holding 10..11 (energy Wh, u32),
// once = holding 20 (rated power W). State codes: 1 sleeping, 4 producing.
class TestModel final : public DeviceModel {
public:
    std::vector<ReadBlock> blocks(PollClass c) const override {
        switch (c) {
            case PollClass::fast: return {{modbus::RegisterKind::holding, 0, 2}};
            case PollClass::slow: return {{modbus::RegisterKind::holding, 10, 2}};
            case PollClass::once: return {{modbus::RegisterKind::holding, 20, 1}};
        }
        return {};
    }
    Result<Reading> decode(PollClass c, const std::vector<modbus::Registers>& words) const override {
        Reading r;
        const auto& w = words.at(0);
        if (c == PollClass::fast) {
            r.state = w[0] == 1 ? domain::InverterState::sleeping : domain::InverterState::producing;
            r.values["ac_power_w"] = w[1];
        } else if (c == PollClass::slow) {
            r.values["energy_total_wh"] = static_cast<double>((uint32_t{w[0]} << 16) | w[1]);
        } else {
            r.values["rated_power_w"] = w[0];
        }
        return r;
    }
};

modbus::SessionTiming timing() {
    modbus::SessionTiming t;
    t.pause_after_connect = Millis{0};
    t.pause_between_units = Millis{0};
    t.jitter = 0.0;
    t.retries = 1;
    return t;
}

struct Rig {
    Rig() {
        auto link = std::make_unique<FakeModbusBus>(clock);
        bus = link.get();
        set_device(1, 4, 2500, 123456);
        session = std::make_unique<modbus::Session>(std::move(link), timing(), clock, sleeper, 7);
        poller = std::make_unique<Poller>(
            clock, sleeper, [this](const domain::Sample& s) { samples.push_back(s); },
            [this](const std::string& id, DeviceState, DeviceState to, const std::string&) {
                transitions.emplace_back(id, to);
            },
            [this](TimePoint) { return sun_down; });
    }
    void set_device(uint8_t unit, uint16_t state, uint16_t power, uint32_t energy) {
        bus->set_holding(unit, 0, {state, power});
        bus->set_holding(unit, 10, {static_cast<uint16_t>(energy >> 16), static_cast<uint16_t>(energy & 0xffff)});
        bus->set_holding(unit, 20, {5000});
    }
    void add(const std::string& id, uint8_t unit, PollIntervals iv = {}) {
        poller->add_device(DeviceConfig{id, session.get(), unit, std::make_unique<TestModel>(), iv, {}});
    }
    // Runs the scheduler for `d` of simulated time.
    void run_for(Millis d) {
        const TimePoint end = clock.now() + d;
        while (clock.now() < end) {
            const TimePoint next = poller->poll_due();
            if (next > clock.now()) clock.set(std::min(next, end));
        }
    }
    ManualClock clock{TimePoint{hours{24 * 20000}}};
    modbus::ManualSleeper sleeper{clock};
    FakeModbusBus* bus = nullptr;
    std::unique_ptr<modbus::Session> session;
    std::unique_ptr<Poller> poller;
    std::vector<domain::Sample> samples;
    std::vector<std::pair<std::string, DeviceState>> transitions;
    bool sun_down = false;
};

}  // namespace

TEST_CASE("a healthy device yields one sample per fast interval with slow and once values merged") {
    Rig rig;
    rig.add("inv1", 1);
    rig.run_for(minutes{10});
    REQUIRE(rig.samples.size() >= 59);
    CHECK(rig.samples.size() <= 61);
    const auto& s = rig.samples.front();
    CHECK(s.device_id == "inv1");
    CHECK(s.value("ac_power_w") == 2500);
    CHECK(s.value("energy_total_wh") == 123456);
    CHECK(s.value("rated_power_w") == 5000);
    CHECK(s.state == domain::InverterState::producing);
    // Fast interval: samples 10 s apart.
    CHECK(rig.samples[1].t - rig.samples[0].t == seconds{10});
    // The slow block is read once per 5 minutes, the once block once.
    int slow_reads = 0, once_reads = 0;
    for (const auto& r : rig.bus->requests()) {
        slow_reads += r.address == 10;
        once_reads += r.address == 20;
    }
    CHECK(slow_reads == 2);
    CHECK(once_reads == 1);
    auto st = rig.poller->status("inv1");
    REQUIRE(st);
    CHECK(st->state == DeviceState::ok);
    CHECK(st->last_ok == rig.samples.back().t);
    CHECK(rig.transitions == std::vector<std::pair<std::string, DeviceState>>{{"inv1", DeviceState::ok}});
}

TEST_CASE("after a failed read nothing stale is republished; slow values come back only freshly read") {
    Rig rig;
    rig.add("inv1", 1);
    rig.run_for(seconds{25});  // polls at 0, 10, 20
    REQUIRE(rig.samples.size() == 3);
    rig.bus->script({FakeFault::timeout, FakeFault::timeout});  // one poll fails (retries exhausted)
    rig.run_for(seconds{10});
    CHECK(rig.samples.size() == 3);  // no sample for the failed poll
    CHECK(rig.poller->status("inv1")->failures_in_row == 1);
    CHECK_FALSE(rig.poller->status("inv1")->last_error.empty());
    rig.set_device(1, 4, 1800, 123500);
    rig.bus->clear_log();
    rig.run_for(seconds{10});
    REQUIRE(rig.samples.size() == 4);
    CHECK(rig.samples.back().value("ac_power_w") == 1800);
    CHECK(rig.samples.back().value("energy_total_wh") == 123500);  // re-read, not the value from before
    bool reread_slow = false;
    for (const auto& r : rig.bus->requests()) reread_slow = reread_slow || r.address == 10;
    CHECK(reread_slow);
}

TEST_CASE("fail-after-N: offline with capped backoff, polled forever, recovers") {
    Rig rig;
    PollIntervals iv;
    iv.offline_max = minutes{10};
    rig.add("inv1", 1, iv);
    rig.bus->fail_after(4, FakeFault::timeout);  // 2 polls answer (once+fast+slow, then fast), then silence
    rig.run_for(minutes{1});
    const auto answered = rig.samples.size();
    CHECK(answered == 2);
    auto st = rig.poller->status("inv1");
    CHECK(st->state == DeviceState::offline);
    rig.bus->clear_log();
    rig.run_for(hours{24 * 7});  // a week of snow
    CHECK(rig.samples.size() == answered);
    // Polled all week, at the cap once backed off: ~1 poll per 10 min, each poll = 2 attempts.
    const auto polls = rig.bus->requests().size() / 2;
    CHECK(polls >= 7 * 24 * 6 - 10);
    CHECK(polls <= 7 * 24 * 6 + 20);
    rig.bus->clear_faults();
    rig.run_for(minutes{11});
    CHECK(rig.samples.size() > answered);
    CHECK(rig.poller->status("inv1")->state == DeviceState::ok);
    CHECK(rig.transitions.back() == std::make_pair(std::string("inv1"), DeviceState::ok));
}

TEST_CASE("no answer after sunset is sleep, not offline") {
    Rig rig;
    rig.add("inv1", 1);
    rig.run_for(seconds{15});
    rig.sun_down = true;
    rig.bus->remove_unit(1);
    rig.run_for(hours{10});
    CHECK(rig.poller->status("inv1")->state == DeviceState::asleep);
    for (const auto& [id, to] : rig.transitions) CHECK(to != DeviceState::offline);
    rig.sun_down = false;
    rig.bus->add_unit(1);
    rig.run_for(minutes{3});
    CHECK(rig.poller->status("inv1")->state == DeviceState::ok);
}

TEST_CASE("a device reporting SLEEPING is asleep, still sampled at the slower asleep interval") {
    Rig rig;
    PollIntervals iv;
    iv.asleep = minutes{2};
    rig.add("inv1", 1, iv);
    rig.set_device(1, 1, 0, 123456);
    rig.run_for(minutes{10} + seconds{1});
    CHECK(rig.poller->status("inv1")->state == DeviceState::asleep);
    CHECK(rig.samples.size() == 6);  // 0, 2, 4, 6, 8, 10 min
    CHECK(rig.samples.back().state == domain::InverterState::sleeping);
}

TEST_CASE("energy counter dropping to 0 on wake-up is ignored and flagged, never booked") {
    Rig rig;
    PollIntervals iv;
    iv.slow = seconds{10};
    rig.add("inv1", 1, iv);
    rig.run_for(seconds{5});
    REQUIRE(rig.samples.back().value("energy_total_wh") == 123456);
    rig.set_device(1, 4, 100, 0);
    rig.run_for(seconds{10});
    CHECK_FALSE(rig.samples.back().value("energy_total_wh").has_value());
    CHECK(rig.samples.back().events == std::vector<std::string>{"energy_counter_glitch"});
    rig.set_device(1, 4, 100, 123460);
    rig.run_for(seconds{10});
    CHECK(rig.samples.back().value("energy_total_wh") == 123460);
    CHECK(rig.samples.back().events.empty());
}

TEST_CASE("illegal address is a register-map error, reported once, and retried slowly") {
    Rig rig;
    rig.add("inv1", 1);
    rig.bus->script({FakeFault::none, FakeFault::rejected});  // once block ok, fast block rejected
    rig.bus->fail_after(0, FakeFault::rejected);
    rig.run_for(hours{1});
    CHECK(rig.samples.empty());
    CHECK(rig.poller->status("inv1")->state == DeviceState::map_error);
    int reports = 0;
    for (const auto& [id, to] : rig.transitions) reports += to == DeviceState::map_error;
    CHECK(reports == 1);
    // Re-checked at the slow interval (5 min), not hammered: 12 polls in an hour.
    CHECK(rig.bus->requests().size() <= 14);
}

TEST_CASE("two units behind one gateway: a silent unit does not starve the other") {
    Rig rig;
    rig.set_device(2, 4, 700, 9999);
    rig.add("inv1", 1);
    rig.add("inv2", 2);
    rig.run_for(seconds{5});
    rig.bus->remove_unit(1);
    rig.samples.clear();
    rig.run_for(minutes{10});
    int inv2 = 0;
    for (const auto& s : rig.samples) inv2 += s.device_id == "inv2";
    CHECK(inv2 >= 55);  // 60 polls in 10 minutes, minus a few delayed by inv1's timeouts
    CHECK(rig.poller->status("inv1")->state == DeviceState::offline);
    CHECK(rig.poller->status("inv2")->state == DeviceState::ok);
}

TEST_CASE("busy device keeps its state") {
    Rig rig;
    rig.add("inv1", 1);
    rig.run_for(seconds{5});
    rig.bus->script({FakeFault::busy, FakeFault::busy});
    rig.run_for(seconds{10});
    CHECK(rig.poller->status("inv1")->state == DeviceState::ok);
    CHECK(rig.poller->status("inv1")->failures_in_row == 1);
}

TEST_CASE("run() stops when asked") {
    Rig rig;
    rig.add("inv1", 1);
    std::stop_source stop;
    int seen = 0;
    Poller poller(rig.clock, rig.sleeper, [&](const domain::Sample&) {
        if (++seen == 5) stop.request_stop();
    });
    poller.add_device(DeviceConfig{"inv1", rig.session.get(), 1, std::make_unique<TestModel>(), {}, {}});
    poller.run(stop.get_token());
    CHECK(seen == 5);
}

TEST_CASE("the wall clock stepping back (NTP correcting a fast clock) does not stop polling") {
    Rig rig;
    rig.add("inv1", 1);
    rig.run_for(minutes{1});
    const auto before = rig.samples.size();
    REQUIRE(before >= 6);
    // Back by 2 h: the old schedule lies 2 h ahead; the device is polled at once and then every fast interval.
    rig.clock.set(rig.clock.now() - hours{2});
    rig.run_for(minutes{1});
    CHECK(rig.samples.size() >= before + 6);
    CHECK(rig.samples.back().t < rig.samples[before - 1].t);  // stamped by the corrected clock
    CHECK(rig.samples.back().value("energy_total_wh") == 123456);  // slow values still read
    // Forward by 3 h: polled at once too (it was due long ago), no burst of catch-up polls.
    const auto at_step = rig.samples.size();
    rig.clock.set(rig.clock.now() + hours{3});
    rig.run_for(seconds{25});
    CHECK(rig.samples.size() - at_step == 3);
}
