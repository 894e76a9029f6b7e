#include "pvfleet/sim/simulation.hpp"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pvfleet/util/log.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::sim {

namespace {
// Largest physics step: keeps energy integration and temperature lag smooth under high speed.
constexpr auto max_step = std::chrono::seconds(60);

std::vector<std::string> split_words(std::string_view line) {
    std::vector<std::string> out;
    std::istringstream in{std::string(line)};
    std::string w;
    while (in >> w) out.push_back(w);
    return out;
}
}  // namespace

Result<std::unique_ptr<Simulation>> Simulation::create(SiteSpec site, SimulationOptions options, const Clock& wall) {
    if (!(options.speed > 0.0) || options.speed > 1e6) return Error::at("speed", "must be in (0, 1e6]");
    const TimePoint start = options.start.value_or(wall.now());
    auto physics = SitePhysics::create(site, options.seed, start);
    if (!physics) return physics.error();
    std::unique_ptr<Simulation> sim(new Simulation(std::move(site), std::move(*physics), std::move(options), wall, start));
    for (std::size_t i = 0; i < sim->site_.devices.size(); ++i) {
        auto profile = make_device_profile(sim->site_.devices[i], sim->maps_ ? &*sim->maps_ : nullptr);
        if (!profile) return profile.error().under("devices/" + std::to_string(i));
    }
    for (const auto& d : sim->site_.devices) {
        Device dev{d, std::move(make_device_profile(d, sim->maps_ ? &*sim->maps_ : nullptr).value()), RegisterImage{}, {}};
        dev.profile->build(dev.image, dev.spec);
        sim->devices_.push_back(std::move(dev));
    }
    for (std::size_t i = 0; i < sim->scenario_.size(); ++i) {
        if (sim->find(sim->scenario_[i].device) == nullptr && sim->scenario_[i].device != "all") {
            return Error::at("scenario/events/" + std::to_string(i) + "/device", "unknown device '" + sim->scenario_[i].device + "'");
        }
    }
    sim->physics_.advance(sim->physics_.now(), sim->overrides());
    sim->tick();
    return sim;
}

Simulation::Simulation(SiteSpec site, SitePhysics physics, SimulationOptions options, const Clock& wall, TimePoint start)
    : site_(std::move(site)),
      physics_(std::move(physics)),
      wall_(wall),
      speed_(options.speed),
      anchor_wall_(wall.now()),
      anchor_sim_(start),
      start_sim_(start),
      scenario_(std::move(options.scenario)),
      maps_(std::move(options.maps)) {
    // Scenario entries in sim-time order, offsets resolved against the start.
    std::stable_sort(scenario_.begin(), scenario_.end(), [&](const ScenarioEntry& a, const ScenarioEntry& b) {
        auto abs = [&](const ScenarioEntry& e) {
            return std::holds_alternative<TimePoint>(e.at) ? std::get<TimePoint>(e.at) : start_sim_ + std::get<Millis>(e.at);
        };
        return abs(a) < abs(b);
    });
}

TimePoint Simulation::sim_now() const {
    const auto wall_elapsed = std::chrono::duration<double, std::milli>(wall_.now() - anchor_wall_).count();
    return anchor_sim_ + Millis{static_cast<long long>(std::llround(wall_elapsed * speed_))};
}

void Simulation::set_speed(double speed) {
    const auto now = sim_now();
    anchor_wall_ = wall_.now();
    anchor_sim_ = now;
    speed_ = speed;
}

void Simulation::jump(Millis delta) {
    tick();
    anchor_sim_ += delta;
    physics_.restart_at(sim_now());
    physics_.advance(sim_now(), overrides());
    PVF_LOG(info, "sim", "time jumped to " << format_iso8601(sim_now()));
    tick();
}

Simulation::Device* Simulation::find(const std::string& name) {
    for (auto& d : devices_) {
        if (d.spec.name == name) return &d;
    }
    return nullptr;
}

Simulation::Device* Simulation::find(uint8_t unit) {
    for (auto& d : devices_) {
        if (d.spec.unit == unit) return &d;
    }
    return nullptr;
}

bool Simulation::has(const Device& d, FaultType type) const {
    return std::any_of(d.faults.begin(), d.faults.end(), [&](const ActiveFault& f) { return f.spec.type == type; });
}

std::vector<PhysicsOverride> Simulation::overrides() const {
    std::vector<PhysicsOverride> out(devices_.size());
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        out[i].mppt_lost.assign(static_cast<std::size_t>(devices_[i].spec.mppts), false);
        for (const auto& f : devices_[i].faults) {
            if (f.spec.type == FaultType::string_loss && f.spec.mppt >= 1 && f.spec.mppt <= devices_[i].spec.mppts) {
                out[i].mppt_lost[static_cast<std::size_t>(f.spec.mppt - 1)] = true;
            } else if (f.spec.type == FaultType::event) {
                out[i].events.insert(f.spec.event);
            }
        }
    }
    return out;
}

void Simulation::expire_faults(TimePoint now) {
    for (auto& d : devices_) {
        std::erase_if(d.faults, [&](const ActiveFault& f) {
            const bool expired = f.until && *f.until <= now;
            if (expired) PVF_LOG(info, "sim", d.spec.name << ": fault " << to_string(f.spec.type) << " ended");
            return expired;
        });
    }
}

void Simulation::fire_scenario(TimePoint now) {
    while (scenario_next_ < scenario_.size()) {
        const auto& e = scenario_[scenario_next_];
        const TimePoint at = std::holds_alternative<TimePoint>(e.at) ? std::get<TimePoint>(e.at) : start_sim_ + std::get<Millis>(e.at);
        if (at > now) break;
        ++scenario_next_;
        std::vector<std::string> names;
        if (e.device == "all") {
            for (const auto& d : devices_) names.push_back(d.spec.name);
        } else {
            names.push_back(e.device);
        }
        for (const auto& n : names) {
            Status st = e.fault ? inject(n, *e.fault)
                                : clear(n, e.clear_type && !e.clear_type->empty() ? parse_fault_type(*e.clear_type) : std::nullopt);
            if (!st) PVF_LOG(warn, "sim", "scenario: " << st.error().message);
        }
    }
}

void Simulation::tick() {
    const TimePoint target = sim_now();
    TimePoint t = physics_.now();
    if (target <= t) {
        if (target < t) {
            physics_.restart_at(target);
            physics_.advance(target, overrides());
        }
    }
    while (t < target) {
        t = std::min<TimePoint>(target, t + std::chrono::duration_cast<Millis>(max_step));
        expire_faults(t);
        fire_scenario(t);
        physics_.advance(t, overrides());
    }
    expire_faults(target);
    fire_scenario(target);
    refresh_images();
}

void Simulation::refresh_images() {
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        devices_[i].profile->update(devices_[i].image, devices_[i].spec, physics_.reading(i));
    }
}

Status Simulation::inject(const std::string& name, const FaultSpec& fault) {
    Device* d = find(name);
    if (d == nullptr) return Error{"unknown device '" + name + "'", ErrorKind::not_found};
    if (fault.type == FaultType::string_loss && fault.mppt > d->spec.mppts) {
        return Error{name + " has " + std::to_string(d->spec.mppts) + " MPPT input(s), not " + std::to_string(fault.mppt)};
    }
    const auto index = static_cast<std::size_t>(d - devices_.data());
    if (fault.type == FaultType::counter_reset) {
        physics_.reset_counters(index);
        PVF_LOG(info, "sim", name << ": energy counters reset");
        refresh_images();
        return {};
    }
    // A new fault of the same kind (and same input/event) replaces the old one.
    std::erase_if(d->faults, [&](const ActiveFault& f) {
        return f.spec.type == fault.type && f.spec.mppt == fault.mppt && f.spec.event == fault.event;
    });
    ActiveFault active{fault, std::nullopt, false};
    const TimePoint now = sim_now();
    if (fault.duration) active.until = now + *fault.duration;
    active.once = !fault.duration && (fault.type == FaultType::truncate || fault.type == FaultType::drop_connection);
    d->faults.push_back(active);
    PVF_LOG(info, "sim", name << ": fault " << to_string(fault.type)
                              << (fault.duration ? " for " + format_duration(*fault.duration) : std::string(active.once ? " once" : "")));
    // Physics sees string loss and events from the next step; the registers show them right away.
    physics_.advance(physics_.now(), overrides());
    refresh_images();
    return {};
}

Status Simulation::clear(const std::string& name, std::optional<FaultType> type) {
    if (name == "all") {
        for (auto& d : devices_) d.faults.clear();
    } else {
        Device* d = find(name);
        if (d == nullptr) return Error{"unknown device '" + name + "'", ErrorKind::not_found};
        std::erase_if(d->faults, [&](const ActiveFault& f) { return !type || f.spec.type == *type; });
    }
    physics_.advance(physics_.now(), overrides());
    refresh_images();
    return {};
}

ReplyPlan Simulation::handle(uint8_t unit, std::span<const uint8_t> pdu) {
    ReplyPlan plan;
    Device* d = find(unit);
    if (d == nullptr) {
        if (site_.unknown_unit == UnknownUnit::silent) {
            plan.action = ReplyPlan::Action::silent;
        } else {
            plan.pdu = exception_pdu(pdu.empty() ? 0 : pdu[0], ExceptionCode::gateway_target_failed);
        }
        return plan;
    }
    tick();
    if (has(*d, FaultType::offline)) {
        plan.action = ReplyPlan::Action::silent;
        return plan;
    }
    for (auto it = d->faults.begin(); it != d->faults.end();) {
        bool consumed = false;
        switch (it->spec.type) {
        case FaultType::drop_connection:
            plan.action = ReplyPlan::Action::drop_connection;
            consumed = it->once;
            break;
        case FaultType::truncate:
            plan.truncate = true;
            consumed = it->once;
            break;
        case FaultType::slow:
            plan.delay = std::max(plan.delay, it->spec.delay);
            break;
        default:
            break;
        }
        it = consumed ? d->faults.erase(it) : std::next(it);
    }
    if (plan.action == ReplyPlan::Action::drop_connection) return plan;
    const auto exception = std::find_if(d->faults.begin(), d->faults.end(),
                                        [](const ActiveFault& f) { return f.spec.type == FaultType::exception; });
    if (exception != d->faults.end()) {
        plan.pdu = exception_pdu(pdu.empty() ? 0 : pdu[0], static_cast<ExceptionCode>(exception->spec.exception_code));
        return plan;
    }
    plan.pdu = handle_request(d->image, pdu);
    return plan;
}

bool Simulation::tcp_open() const {
    const bool all_offline = std::all_of(devices_.begin(), devices_.end(), [&](const Device& d) { return has(d, FaultType::offline); });
    if (all_offline) return false;
    if (site_.night != NightBehaviour::refuse_tcp) return true;
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        if (physics_.reading(i).state != domain::InverterState::sleeping) return true;
    }
    return false;
}

std::string Simulation::status_json() const {
    nlohmann::json j;
    j["time"] = format_iso8601(physics_.now());
    j["speed"] = speed_;
    j["sun_elevation_deg"] = std::round(physics_.sun_elevation_deg() * 100.0) / 100.0;
    j["cloud_factor"] = std::round(physics_.cloud_factor(physics_.now()) * 1000.0) / 1000.0;
    j["tcp_open"] = tcp_open();
    j["devices"] = nlohmann::json::array();
    for (std::size_t i = 0; i < devices_.size(); ++i) {
        const auto& d = devices_[i];
        const auto& r = physics_.reading(i);
        nlohmann::json dj;
        dj["name"] = d.spec.name;
        dj["unit"] = d.spec.unit;
        dj["profile"] = d.spec.profile;
        dj["state"] = std::string(domain::to_string(r.state));
        dj["ac_power_w"] = std::round(r.ac_power_w * 10.0) / 10.0;
        dj["dc_power_w"] = std::round(r.dc_power_w * 10.0) / 10.0;
        dj["energy_total_wh"] = std::round(r.energy_total_wh);
        dj["energy_today_wh"] = std::round(r.energy_today_wh * 10.0) / 10.0;
        dj["temperature_c"] = std::round(r.temperature_c * 10.0) / 10.0;
        dj["mppt"] = nlohmann::json::array();
        for (const auto& m : r.mppt) {
            dj["mppt"].push_back({{"voltage_v", std::round(m.voltage_v * 10.0) / 10.0},
                                  {"current_a", std::round(m.current_a * 100.0) / 100.0},
                                  {"power_w", std::round(m.power_w * 10.0) / 10.0}});
        }
        dj["events"] = r.events;
        dj["faults"] = nlohmann::json::array();
        for (const auto& f : d.faults) {
            nlohmann::json fj{{"type", std::string(to_string(f.spec.type))}};
            if (f.until) fj["until"] = format_iso8601(*f.until);
            if (f.once) fj["once"] = true;
            if (f.spec.type == FaultType::string_loss) fj["mppt"] = f.spec.mppt;
            if (f.spec.type == FaultType::event) fj["event"] = f.spec.event;
            if (f.spec.type == FaultType::slow) fj["delay_ms"] = f.spec.delay.count();
            if (f.spec.type == FaultType::exception) fj["code"] = f.spec.exception_code;
            dj["faults"].push_back(fj);
        }
        j["devices"].push_back(dj);
    }
    return j.dump();
}

std::string Simulation::command(std::string_view line) {
    const auto words = split_words(line);
    if (words.empty()) return "error empty command";
    const auto& verb = words[0];
    if (verb == "help") {
        return "ok commands: fault DEV TYPE [ARGS] [DURATION] | clear DEV|all [TYPE] | time | jump +DUR|-DUR|ISO | "
               "speed N | status | help";
    }
    if (verb == "time") {
        tick();
        return "ok " + format_iso8601(sim_now()) + " speed " + std::to_string(speed_);
    }
    if (verb == "status") {
        tick();
        return status_json();
    }
    if (verb == "jump" && words.size() == 2) {
        const auto& arg = words[1];
        Millis delta{0};
        if (arg[0] == '+' || arg[0] == '-') {
            auto d = parse_duration(std::string_view(arg).substr(1));
            if (!d) return "error " + d.error().message;
            delta = arg[0] == '+' ? *d : -*d;
        } else {
            auto t = parse_iso8601(arg);
            if (!t) return "error " + t.error().message;
            delta = *t - sim_now();
        }
        jump(delta);
        return "ok " + format_iso8601(sim_now());
    }
    if (verb == "speed" && words.size() == 2) {
        const auto speed = parse_leading_number<double>(words[1]);
        if (!speed) return "error bad speed '" + words[1] + "'";
        const double s = *speed;
        if (!(s > 0.0) || s > 1e6) return "error speed must be in (0, 1e6]";
        set_speed(s);
        return "ok speed " + std::to_string(s);
    }
    if (verb == "fault" && words.size() >= 3) {
        auto spec = parse_fault_words(std::vector<std::string>(words.begin() + 2, words.end()));
        if (!spec) return "error " + spec.error().message;
        tick();
        if (auto st = inject(words[1], *spec); !st) return "error " + st.error().message;
        return "ok fault " + words[1] + " " + std::string(to_string(spec->type));
    }
    if (verb == "clear" && (words.size() == 2 || words.size() == 3)) {
        std::optional<FaultType> type;
        if (words.size() == 3) {
            type = parse_fault_type(words[2]);
            if (!type) return "error unknown fault '" + words[2] + "'";
        }
        tick();
        if (auto st = clear(words[1], type); !st) return "error " + st.error().message;
        return "ok clear " + words[1];
    }
    return "error unknown command '" + std::string(line) + "' (try help)";
}

}  // namespace pvfleet::sim
