#include "pvfleet/agent/agent.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cmath>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/agent/commands.hpp"
#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/detect/site.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/solar/expected_power.hpp"
#include "pvfleet/solar/position.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "pvfleet/sync/service.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

#ifndef PVFLEET_VERSION
#define PVFLEET_VERSION "0.0.0"
#endif

namespace pvfleet::agent {
namespace asio = boost::asio;

namespace {
constexpr Millis kIdentifyRetry{60'000};
constexpr Millis kTick{5'000};

// Command ids carried out are kept in the store under this key: a redelivery, even after a restart, is
// answered `duplicate`.
std::string command_key(const std::string& command_id) {
    return "command:" + command_id;
}

struct CommandOutcome {
    protocol::AckStatus status = protocol::AckStatus::done;
    std::string detail;
};

// A device's register map as the poll thread resolved it: what a probe reads with.
struct MappedDevice {
    devices::RegisterMap map;
    uint8_t unit = 1;
    devices::DeviceIdentity identity;
    std::string how;  // how it was identified; empty for a configured map
};
}  // namespace

struct Agent::Impl {
    Impl(SiteConfig c, asio::any_io_executor e, const Clock& k)
        : config(std::move(c)), executor(e), clock(k), timer(e) {}

    SiteConfig config;
    asio::any_io_executor executor;
    const Clock& clock;
    asio::steady_timer timer;
    devices::Catalog catalog;
    std::unique_ptr<store::Store> db;
    std::unique_ptr<store::SqliteOutbox> outbox;
    std::unique_ptr<detect::SolarSunModel> sun;
    std::unique_ptr<detect::DetectionPipeline> pipeline;
    std::unique_ptr<store::PersistentDetection> detection;
    std::unique_ptr<sync::SyncService> sync;
    solar::Location location;
    AgentStats stats;
    std::map<std::string, acquisition::DeviceState> states;  // executor only
    bool stopping = false;
    RestartHandler restart_handler;
    bool restarting = false;                 // a set_config is installed; this agent is about to be replaced
    std::set<std::string> probes_in_flight;  // command ids, executor only
    std::vector<protocol::CommandAck> acks_waiting_for_link;  // sent at the next connect

    // For the local page (executor only): each device's newest values, merged over its fast and slow polls,
    // and its energy counter at the first sample of the mean-solar day (detection's "day").
    struct DayEnergy {
        long long day = -1;
        std::optional<double> first_wh;
        std::optional<double> last_wh;
    };
    std::map<std::string, domain::Sample> latest;
    std::string last_local_change;  // outcome of a config saved on the local page, shown there
    std::map<std::string, DayEnergy> day_energy;
    std::optional<solar::ExpectedPowerModel> expected;  // only when the config has arrays
    mutable long long expected_day = -1;
    mutable solar::DailyEnergy expected_today;
    mutable TimePoint expected_so_far_at{};
    mutable std::optional<solar::DailyEnergy> expected_so_far;

    struct ProbeRequest {
        std::string device_id;
        std::function<void(Result<std::string>)> done;  // posted to the executor
    };
    struct Worker {
        EndpointSpec spec;
        std::vector<DeviceSpec> devices;
        modbus::SystemSleeper sleeper;  // the session's pacing and backoff
        std::unique_ptr<modbus::Session> session;
        std::jthread thread;
        std::mutex probe_mutex;  // the executor queues, the poll thread takes
        std::vector<ProbeRequest> probes;
        std::vector<std::function<void(modbus::ModbusBus&)>> tasks;  // the local page's scans
    };
    std::vector<std::unique_ptr<Worker>> workers;
    // Poll threads post here; stop() waits until every thread has left before it drains and flushes.
    std::shared_ptr<std::atomic<bool>> accepting = std::make_shared<std::atomic<bool>>(true);
    std::atomic<int> running{0};  // poll threads still inside run_worker

    void run_worker(Worker& w, std::stop_token stop);
    Result<MappedDevice> map_device(Worker& w, const DeviceSpec& d);
    Result<std::string> probe_device(Worker& w, std::map<std::string, MappedDevice>& mapped,
                                     const std::string& id);
    void on_sample(domain::Sample s);
    void on_state(const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                  const std::string& why);
    void detect(const std::vector<store::DetectionInput>& inputs);
    void forward_ticket_events();
    void tick();
    void schedule_tick();
    void on_command(const protocol::Command& cmd);
    // nullopt: answered later (a probe runs on a poll thread; a set_config restarts the agent).
    std::optional<CommandOutcome> carry_out(const protocol::Command& cmd);
    std::optional<CommandOutcome> set_config(const protocol::Command& cmd,
                                             const protocol::SetConfigCommand& set);
    std::optional<CommandOutcome> start_probe(const std::string& command_id, const std::string& device_id);
    bool queue_probe(const std::string& device_id, std::function<void(Result<std::string>)> done);
    std::string known_devices() const;
    Status install_and_restart(ConfigChange change, std::string_view config_json);
    Result<domain::TicketEvent> acknowledge(const std::string& id, const std::string& by,
                                            const std::string& note);
    Result<domain::TicketEvent> resolve(const std::string& id, const std::string& by);
    void note_latest(const domain::Sample& s);
    [[nodiscard]] long long solar_day(TimePoint t) const;
    [[nodiscard]] nlohmann::json today_json() const;
    void finish_probe(const std::string& command_id, const Result<std::string>& detail);
    void finish_command(const std::string& command_id, protocol::CommandType type,
                        const CommandOutcome& outcome);
    protocol::CommandAck make_ack(const std::string& command_id, protocol::CommandType type,
                                  protocol::AckStatus status, std::string detail) const;
    void send_ack(const std::string& command_id, protocol::CommandType type, protocol::AckStatus status,
                  std::string detail);
    void send_ack(protocol::CommandAck ack);
    void send_waiting_acks();
};

// Downlink commands (docs/protocol.md): acknowledge/resolve a ticket from the back office (recorded like a
// technician's action on site, so the gateway's ticket list shows it and the change syncs back), resend a
// range of seqs, install a new site config (set_config), read one device now (probe). A command id carried
// out before is acked `duplicate` and not carried out again (ids are kept in the store); an expired one is
// acked `stale`.
void Agent::Impl::on_command(const protocol::Command& cmd) {
    if (restarting) {
        // Not recorded: the agent that comes next carries it out when the server sends it again.
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::failed,
                 "the agent is restarting to apply a new config; send the command again");
        return;
    }
    if (auto seen = db->cursor(command_key(cmd.command_id)); seen && *seen) {
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::duplicate, "already " + **seen);
        return;
    }
    if (probes_in_flight.contains(cmd.command_id)) {
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::duplicate, "already in progress");
        return;
    }
    if (cmd.expires_at && *cmd.expires_at < clock.now()) {
        send_ack(cmd.command_id, cmd.type(), protocol::AckStatus::stale, "expired");
        return;
    }
    if (auto outcome = carry_out(cmd)) finish_command(cmd.command_id, cmd.type(), *outcome);
}

std::optional<CommandOutcome> Agent::Impl::carry_out(const protocol::Command& cmd) {
    using protocol::AckStatus;
    if (const auto* ack = std::get_if<protocol::AckTicketCommand>(&cmd.body)) {
        auto r = acknowledge(ack->ticket_id, ack->by, ack->note);
        if (!r) return CommandOutcome{AckStatus::rejected, r.error().message};
        return CommandOutcome{};
    }
    if (const auto* res = std::get_if<protocol::ResolveTicketCommand>(&cmd.body)) {
        auto r = resolve(res->ticket_id, res->by);
        if (!r) return CommandOutcome{AckStatus::rejected, r.error().message};
        return CommandOutcome{};
    }
    if (const auto* rs = std::get_if<protocol::ResendCommand>(&cmd.body)) {
        auto n = sync->engine().resend(rs->from_seq, rs->to_seq);
        if (!n) return CommandOutcome{AckStatus::failed, n.error().message};
        return CommandOutcome{AckStatus::done, std::to_string(*n) + " message(s) queued again"};
    }
    if (const auto* set = std::get_if<protocol::SetConfigCommand>(&cmd.body)) return set_config(cmd, *set);
    if (const auto* probe = std::get_if<protocol::ProbeCommand>(&cmd.body))
        return start_probe(cmd.command_id, probe->device_id);
    return CommandOutcome{AckStatus::rejected, "command '" + std::string(protocol::to_string(cmd.type())) +
                                                   "' is not carried out by this agent version"};
}

// set_config (docs/site-config.md, "Changing the config remotely"): checked here completely — ordering, every
// key path of the parser, the site id — then installed as the config file, and only then applied, by
// replacing this agent with one created from the new config (the caller's restart handler). Decision: a
// restart in the same process rather than changing the running pipeline piece by piece, because every part
// (endpoints, maps, store, detection, broker link) may change, and a fresh Agent::create checks all of them
// exactly as at start-up. The ack waits for the outcome: the next agent acks `done`; when it cannot be
// created, the handler puts the previous file back, starts the previous config again, and that agent acks
// `failed` with the reason.
std::optional<CommandOutcome> Agent::Impl::set_config(const protocol::Command& cmd,
                                                      const protocol::SetConfigCommand& set) {
    using protocol::AckStatus;
    if (!restart_handler || !config.config_file)
        return CommandOutcome{AckStatus::failed,
                              "this agent was not started from a config file it can replace"};
    auto applied = db->cursor(std::string(kAppliedConfigIssuedAtKey));
    if (!applied) return CommandOutcome{AckStatus::failed, "store: " + applied.error().message};
    const std::optional<TimePoint> last = *applied ? decode_issued_at(**applied) : std::nullopt;
    if (is_stale_config(cmd.issued_at, last))
        return CommandOutcome{AckStatus::stale, "issued " + format_iso8601(cmd.issued_at) +
                                                    ", before the config applied last (issued " +
                                                    format_iso8601(*last) + ")"};
    auto next = check_pushed_config(set.config_json, config);
    if (!next) return CommandOutcome{AckStatus::rejected, "config refused:\n" + next.error().message};
    if (auto s = install_and_restart(ConfigChange{cmd.command_id, cmd.issued_at, std::move(*next)},
                                     set.config_json);
        !s)
        return CommandOutcome{AckStatus::failed, s.error().message};
    return std::nullopt;
}

// The part of set_config the local page's "save" shares: install the checked config as the file, then
// restart with it through the caller's handler.
Status Agent::Impl::install_and_restart(ConfigChange change, std::string_view config_json) {
    // Written the way an installer keeps it: indented, keys in the order they were sent.
    const auto ordered = nlohmann::ordered_json::parse(config_json, nullptr, false);
    const auto text = ordered.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    if (auto s = install_config_file(*config.config_file, text); !s)
        return Error{"config not installed: " + s.error().message, s.error().kind};
    restarting = true;
    PVF_LOG(info, "agent",
            (change.command_id.empty() ? "local page" : "command " + change.command_id + " (set_config)")
                << ": config " << change.config.config_version << " installed as "
                << config.config_file->string() << " (the previous one kept as "
                << previous_config_path(*config.config_file).string() << "); restarting with it");
    // Posted: the handler stops and destroys this agent, which must not happen inside its own MQTT callback
    // or HTTP request.
    asio::post(executor, [handler = restart_handler, change = std::move(change)]() mutable {
        handler(std::move(change));
    });
    return {};
}

Result<domain::TicketEvent> Agent::Impl::acknowledge(const std::string& id, const std::string& by,
                                                     const std::string& note) {
    return store::PersistentDetection::acknowledge(*db, id, by, note, clock.now());
}

Result<domain::TicketEvent> Agent::Impl::resolve(const std::string& id, const std::string& by) {
    return store::PersistentDetection::resolve(*db, id, by, clock.now());
}

// probe: queued for the poll thread of the device's endpoint, which owns that Modbus session (the executor
// never waits on a device); the thread posts the reading back and finish_probe() acks it.
std::optional<CommandOutcome> Agent::Impl::start_probe(const std::string& command_id,
                                                       const std::string& device_id) {
    if (queue_probe(device_id,
                    [this, command_id](Result<std::string> detail) { finish_probe(command_id, detail); })) {
        probes_in_flight.insert(command_id);
        return std::nullopt;
    }
    return CommandOutcome{
        protocol::AckStatus::rejected,
        "no device '" + device_id + "' in this site's config (devices: " + known_devices() + ")"};
}

bool Agent::Impl::queue_probe(const std::string& device_id, std::function<void(Result<std::string>)> done) {
    for (auto& w : workers) {
        for (const auto& d : w->devices) {
            if (d.id != device_id) continue;
            std::lock_guard lock(w->probe_mutex);
            w->probes.push_back({device_id, std::move(done)});
            return true;
        }
    }
    return false;
}

std::string Agent::Impl::known_devices() const {
    std::string known;
    for (const auto& d : config.devices) known += (known.empty() ? "" : ", ") + d.id;
    return known;
}

void Agent::Impl::finish_probe(const std::string& command_id, const Result<std::string>& detail) {
    probes_in_flight.erase(command_id);
    finish_command(command_id, protocol::CommandType::probe,
                   detail ? CommandOutcome{protocol::AckStatus::done, *detail}
                          : CommandOutcome{protocol::AckStatus::failed, detail.error().message});
}

void Agent::Impl::finish_command(const std::string& command_id, protocol::CommandType type,
                                 const CommandOutcome& outcome) {
    if (outcome.status == protocol::AckStatus::done)
        (void)db->save_cursor(command_key(command_id), std::string(protocol::to_string(outcome.status)));
    constexpr size_t kLoggedDetail = 300;  // a probe's detail can be kilobytes
    PVF_LOG(info, "agent",
            "command " << command_id << " (" << protocol::to_string(type)
                       << "): " << protocol::to_string(outcome.status)
                       << (outcome.detail.empty() ? "" : ": " + outcome.detail.substr(0, kLoggedDetail))
                       << (outcome.detail.size() > kLoggedDetail ? "..." : ""));
    forward_ticket_events();
    send_ack(command_id, type, outcome.status, outcome.detail);
}

protocol::CommandAck Agent::Impl::make_ack(const std::string& command_id, protocol::CommandType type,
                                           protocol::AckStatus status, std::string detail) const {
    protocol::CommandAck ack;
    ack.site_id = config.site_id;
    ack.command_id = command_id;
    ack.command = type;
    ack.status = status;
    ack.at = clock.now();
    ack.detail = std::move(detail);
    return ack;
}

void Agent::Impl::send_ack(const std::string& command_id, protocol::CommandType type,
                           protocol::AckStatus status, std::string detail) {
    send_ack(make_ack(command_id, type, status, std::move(detail)));
}

void Agent::Impl::send_ack(protocol::CommandAck ack) {
    if (!sync) return;
    auto payload = protocol::encode(ack);
    if (!payload) {
        PVF_LOG(error, "agent", "command ack: " << payload.error().message);
        return;
    }
    mqtt::Message m{protocol::topic_for(config.site_id, protocol::MessageKind::command_ack),
                    std::move(*payload), 1, false};
    sync->client().publish(std::move(m), [](const Status& s) {
        if (!s) PVF_LOG(warn, "agent", "command ack not sent: " << s.error().message);
    });
}

void Agent::Impl::send_waiting_acks() {
    auto waiting = std::move(acks_waiting_for_link);
    acks_waiting_for_link.clear();
    for (auto& ack : waiting) send_ack(std::move(ack));
}

Result<MappedDevice> Agent::Impl::map_device(Worker& w, const DeviceSpec& d) {
    if (d.profile != "auto" && d.profile != "sunspec") {
        const devices::RegisterMap& map = *catalog.find(d.profile);  // checked at create()
        MappedDevice m{map, d.unit.value_or(map.default_unit.value_or(1)), {}, {}};
        m.identity.profile = d.profile;
        m.identity.vendor = map.vendor;
        return m;
    }
    const uint8_t unit = d.unit.value_or(1);
    auto found = devices::identify(*w.session, unit, catalog, d.profile, d.sunspec_device);
    if (!found) return found.error();
    return MappedDevice{std::move(found->map), unit, std::move(found->identity), std::move(found->how)};
}

// One reading of the fast and the slow registers (the energy counters too), as `pvfleet-edge probe` reads.
// Runs on the endpoint's poll thread, between polls. It goes beside the poller: its state (backoff, offline
// counting) is left as it is, and the reading is not stored.
Result<std::string> Agent::Impl::probe_device(Worker& w, std::map<std::string, MappedDevice>& mapped,
                                              const std::string& id) {
    auto it = mapped.find(id);
    if (it == mapped.end()) {
        // Not identified yet (asleep or silent at start): try now, as an installer's probe would.
        const auto spec =
            std::find_if(w.devices.begin(), w.devices.end(), [&](const auto& d) { return d.id == id; });
        auto found = map_device(w, *spec);
        if (!found) return Error{id + ": not identified: " + found.error().message, found.error().kind};
        it = mapped.emplace(id, std::move(*found)).first;
    }
    const MappedDevice& device = it->second;
    SystemClock wall;
    domain::Sample reading;
    reading.device_id = id;
    reading.t = wall.now();
    const devices::MapDeviceModel model(device.map);
    for (auto poll : {devices::PollClass::fast, devices::PollClass::slow}) {
        auto decoded = model.read(*w.session, device.unit, poll);
        if (!decoded) {
            return Error{id + ": " + device.identity.profile + " on " + w.session->describe() + " unit " +
                             std::to_string(device.unit) + ": " + decoded.error().message,
                         decoded.error().kind};
        }
        auto& r = decoded->reading;
        reading.values.merge(r.values);
        reading.arrays.merge(r.arrays);
        if (r.state) reading.state = r.state;
        reading.events.insert(reading.events.end(), r.events.begin(), r.events.end());
    }
    return probe_detail(reading, device.identity);
}

void Agent::Impl::run_worker(Worker& w, std::stop_token stop) {
    ++running;
    struct Leave {
        std::atomic<int>& n;
        ~Leave() { --n; }
    } leave{running};
    modbus::SystemSleeper sleeper;
    SystemClock wall;
    // Checked again when the handler runs: after stop() drained the executor, a handler that was posted late
    // must not reach this Impl — a restart (set_config) destroys it while the executor goes on.
    auto post = [this, open = accepting](auto fn) {
        if (!open->load()) return;
        asio::post(executor, [open, fn = std::move(fn)]() mutable {
            if (open->load()) fn();
        });
    };
    acquisition::Poller poller(
        wall, sleeper, [&, post](const domain::Sample& s) { post([this, s] { on_sample(s); }); },
        [&, post](const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                  const std::string& why) {
            post([this, id, from, to, why] { on_state(id, from, to, why); });
        },
        [this](TimePoint t) { return solar::solar_position(t, location).apparent_elevation_deg < 0; });

    struct Pending {
        DeviceSpec spec;
        TimePoint next{};
        bool warned = false;
    };
    std::vector<Pending> pending;
    for (const auto& d : w.devices) pending.push_back({d});
    std::map<std::string, MappedDevice> mapped;  // what probes read with
    size_t polled = 0;
    while (!stop.stop_requested()) {
        std::vector<ProbeRequest> probes;
        std::vector<std::function<void(modbus::ModbusBus&)>> tasks;
        {
            std::lock_guard lock(w.probe_mutex);
            probes.swap(w.probes);
            tasks.swap(w.tasks);
        }
        for (auto& p : probes) {
            auto detail = probe_device(w, mapped, p.device_id);
            post([done = std::move(p.done), detail = std::move(detail)] { done(detail); });
        }
        for (auto& task : tasks) {
            if (stop.stop_requested()) break;
            task(*w.session);
        }
        const TimePoint now = wall.now();
        for (auto it = pending.begin(); it != pending.end();) {
            if (it->next > now) {
                ++it;
                continue;
            }
            const auto& d = it->spec;
            auto found = map_device(w, d);
            if (!found) {
                if (!it->warned)
                    PVF_LOG(warn, "agent",
                            d.id << ": not identified yet, retrying every minute: " << found.error().message);
                it->warned = true;
                it->next = now + kIdentifyRetry;
                ++it;
                continue;
            }
            if (!found->how.empty())
                PVF_LOG(info, "agent",
                        d.id << ": " << found->identity.vendor << " " << found->identity.model << " serial "
                             << found->identity.serial << " (" << found->how << ")");
            acquisition::DeviceConfig dc;
            dc.id = d.id;
            dc.bus = w.session.get();
            dc.unit = found->unit;
            dc.model = std::make_unique<devices::MapDeviceModel>(found->map);
            dc.intervals = config.intervals;
            poller.add_device(std::move(dc));
            mapped.insert_or_assign(d.id, std::move(*found));
            ++polled;
            it = pending.erase(it);
        }
        TimePoint next = now + Millis{500};
        if (polled > 0) next = std::min(next, poller.poll_due());
        for (const auto& p : pending) next = std::min(next, std::max(p.next, now));
        const auto wait = std::chrono::duration_cast<Millis>(next - wall.now());
        if (wait > Millis{0} && !stop.stop_requested()) sleeper.sleep_for(std::min(wait, Millis{500}));
    }
}

void Agent::Impl::on_sample(domain::Sample s) {
    ++stats.samples;
    note_latest(s);
    if (auto st = db->insert_sample(s); !st)
        PVF_LOG(error, "agent", "telemetry not stored: " << st.error().message);
    if (sync) {
        sync->engine().note_poll_ok(s.device_id, s.t);
        if (auto st = sync->engine().add_sample(s); !st)
            PVF_LOG(error, "agent", "sync: " << st.error().message);
    }
    detect({store::DetectionInput{std::move(s)}});
}

void Agent::Impl::note_latest(const domain::Sample& s) {
    auto& l = latest[s.device_id];
    // A fast poll carries power, state and events; a slow one energy and temperatures: the page shows the
    // newest of each, so a slow sample must not clear the events of the fast one before it.
    const bool fast = s.state.has_value() || s.values.contains("ac_power_w");
    l.device_id = s.device_id;
    l.t = std::max(l.t, s.t);
    for (const auto& [k, v] : s.values) l.values.insert_or_assign(k, v);
    for (const auto& [k, v] : s.arrays) l.arrays.insert_or_assign(k, v);
    if (s.state) l.state = s.state;
    if (fast) l.events = s.events;

    const auto wh = s.value("energy_total_wh");
    if (!wh) return;
    auto& d = day_energy[s.device_id];
    const long long day = solar_day(s.t);
    if (d.day != day) {
        d = DayEnergy{day, {}, {}};
        // After a restart the day's first counter reading is in the store: one query per device and day.
        const TimePoint start{
            Millis{day * 86'400'000LL - static_cast<long long>(location.longitude_deg / 15.0 * 3'600'000)}};
        if (auto rows = db->samples(s.device_id, start, s.t)) {
            for (const auto& row : *rows) {
                if (auto first = row.value("energy_total_wh")) {
                    d.first_wh = first;
                    break;
                }
            }
        }
        if (!d.first_wh) d.first_wh = wh;
    }
    d.last_wh = wh;
}

// The local mean-solar day (midnight to midnight in mean solar time), as detection counts days: no time zone
// needed, and it matches the clear-sky expectation of solar::ExpectedPowerModel::daily_energy_around().
long long Agent::Impl::solar_day(TimePoint t) const {
    const double solar_ms = static_cast<double>(to_epoch_ms(t)) + location.longitude_deg / 15.0 * 3'600'000.0;
    return static_cast<long long>(std::floor(solar_ms / 86'400'000.0));
}

nlohmann::json Agent::Impl::today_json() const {
    using nlohmann::json;
    const TimePoint now = clock.now();
    const long long day = solar_day(now);
    const TimePoint start{
        Millis{day * 86'400'000LL - static_cast<long long>(location.longitude_deg / 15.0 * 3'600'000)}};
    if (expected && expected_day != day) {
        expected_today = expected->daily_energy_around(now);
        expected_day = day;
    }
    // The expectation so far is an integration over the day: once a minute is fresh enough for the page.
    if (expected && (!expected_so_far || now - expected_so_far_at > Millis{60'000})) {
        expected_so_far = expected->energy_between(start, now);
        expected_so_far_at = now;
    }
    json devices = json::array();
    double total = 0;
    bool any = false;
    for (const auto& d : config.devices) {
        json row = {{"id", d.id},
                    {"energy_kwh", nullptr},
                    {"expected_kwh", nullptr},
                    {"expected_so_far_kwh", nullptr}};
        if (auto it = day_energy.find(d.id);
            it != day_energy.end() && it->second.day == day && it->second.first_wh && it->second.last_wh) {
            const double kwh = std::max(0.0, *it->second.last_wh - *it->second.first_wh) / 1000.0;
            row["energy_kwh"] = kwh;
            total += kwh;
            any = true;
        }
        if (expected) {
            const auto& inverters = expected->site().inverters;
            for (size_t i = 0; i < inverters.size(); ++i) {
                if (inverters[i].id != d.id) continue;
                if (i < expected_today.inverter_ac_wh.size())
                    row["expected_kwh"] = expected_today.inverter_ac_wh[i] / 1000.0;
                if (expected_so_far && i < expected_so_far->inverter_ac_wh.size())
                    row["expected_so_far_kwh"] = expected_so_far->inverter_ac_wh[i] / 1000.0;
            }
        }
        devices.push_back(std::move(row));
    }
    return {{"day_start", format_iso8601(start)},
            {"basis", "mean solar day; expected = clear sky"},
            {"devices", devices},
            {"energy_kwh", any ? json(total) : json(nullptr)},
            {"expected_kwh", expected ? json(expected_today.total_ac_wh / 1000.0) : json(nullptr)},
            {"expected_so_far_kwh",
             expected && expected_so_far ? json(expected_so_far->total_ac_wh / 1000.0) : json(nullptr)}};
}

void Agent::Impl::on_state(const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                           const std::string& why) {
    states[id] = to;
    PVF_LOG(info, "agent",
            id << ": " << acquisition::to_string(from) << " -> " << acquisition::to_string(to)
               << (why.empty() ? "" : " (" + why + ")"));
    if (to == acquisition::DeviceState::offline) detect({store::NoAnswer{id, clock.now()}});
}

void Agent::Impl::detect(const std::vector<store::DetectionInput>& inputs) {
    auto events = detection->process(inputs);
    if (!events) {
        PVF_LOG(error, "agent", "detection: " << events.error().message);
        return;
    }
    for (const auto& e : *events) {
        ++stats.ticket_events;
        PVF_LOG(info, "agent",
                "ticket " << domain::to_string(e.kind) << " " << e.ticket.id << " ("
                          << domain::to_string(e.ticket.kind) << ", " << e.ticket.device_id << ")");
    }
    forward_ticket_events();
}

void Agent::Impl::forward_ticket_events() {
    if (!sync) return;
    // Everything the store recorded after the outbox's cursor: detector events and technicians' actions from
    // the `tickets` CLI alike, each queued exactly once (the cursor moves in the outbox's transaction).
    for (;;) {
        auto batch = db->events_after(outbox->ticket_event_cursor().value_or(0), 200);
        if (!batch) {
            PVF_LOG(error, "agent", "ticket events: " << batch.error().message);
            return;
        }
        if (batch->empty()) return;
        for (const auto& e : *batch) {
            if (auto r = sync->engine().add_ticket_event(e.event, e.event_id); !r) {
                PVF_LOG(error, "agent", "sync: ticket event " << e.event_id << ": " << r.error().message);
                return;
            }
        }
    }
}

void Agent::Impl::tick() {
    // Devices still offline: keep telling detection they do not answer (it times comm loss from these).
    std::vector<store::DetectionInput> silent;
    for (const auto& [id, st] : states) {
        if (st == acquisition::DeviceState::offline) silent.emplace_back(store::NoAnswer{id, clock.now()});
    }
    stats.no_answers += silent.size();
    // An empty batch still lets time-based rules (closing resolved tickets) run.
    detect(silent);
}

void Agent::Impl::schedule_tick() {
    timer.expires_after(kTick);
    timer.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopping) return;
        tick();
        schedule_tick();
    });
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() {
    if (impl_) {
        impl_->accepting->store(false);
        for (auto& w : impl_->workers) {
            if (w->thread.joinable()) {
                w->thread.request_stop();
                w->thread.join();
            }
        }
    }
}

Result<std::unique_ptr<Agent>> Agent::create(SiteConfig config, asio::any_io_executor executor,
                                             const Clock& clock) {
    auto impl = std::make_unique<Impl>(std::move(config), executor, clock);
    auto& c = impl->config;
    auto dir = devices::find_devices_dir(c.maps_dir);
    if (!dir) return dir.error();
    auto catalog = devices::Catalog::load(*dir);
    if (!catalog) return Error{"register maps: " + catalog.error().message};
    impl->catalog = std::move(*catalog);
    for (size_t i = 0; i < c.devices.size(); ++i) {
        const auto& d = c.devices[i];
        if (d.profile != "auto" && d.profile != "sunspec" && impl->catalog.find(d.profile) == nullptr) {
            std::string list;
            for (const auto& p : impl->catalog.profiles()) list += ", " + p;
            return Error::at("devices/" + d.id + "/profile",
                             "unknown '" + d.profile + "' (expected auto, sunspec" + list + ")");
        }
    }
    std::error_code ec;
    std::filesystem::create_directories(c.store_path.parent_path(), ec);
    auto db = store::Store::open(c.store_path.string());
    if (!db) return Error{"store " + c.store_path.string() + ": " + db.error().message};
    impl->db = std::move(*db);
    auto outbox = store::SqliteOutbox::open(c.store_path.string());
    if (!outbox) return Error{"outbox " + c.store_path.string() + ": " + outbox.error().message};
    impl->outbox = std::move(*outbox);

    auto site = detect::parse_site_detection(c.detection_site);
    if (!site) return site.error();
    impl->location = {site->model.latitude_deg, site->model.longitude_deg, site->model.elevation_m};
    auto sun = detect::SolarSunModel::create(site->model);
    if (!sun) return sun.error();
    impl->sun = std::move(*sun);
    impl->pipeline = std::make_unique<detect::DetectionPipeline>(site->config, *impl->sun, clock);
    // The local page's expectation for today: the same clear-sky model detection judges with, when the
    // config describes arrays (without them there is nothing to expect, and the page says so).
    if (!site->model.arrays.empty()) {
        if (auto model = solar::ExpectedPowerModel::create(site->model)) impl->expected = std::move(*model);
    }
    impl->detection = std::make_unique<store::PersistentDetection>(*impl->db, *impl->pipeline);
    if (auto s = impl->detection->resume(); !s) return Error{"detector state: " + s.error().message};

    if (c.mqtt) {
        sync::SyncServiceOptions o;
        o.mqtt.server_uri = c.mqtt->uri;
        o.mqtt.username = c.mqtt->username;
        if (!c.mqtt->password.empty()) o.mqtt.password = c.mqtt->password;
        if (c.mqtt->ca_file) {
            mqtt::TlsOptions tls;
            tls.ca_file = c.mqtt->ca_file->string();
            if (c.mqtt->cert_file) tls.cert_file = c.mqtt->cert_file->string();
            if (c.mqtt->key_file) tls.key_file = c.mqtt->key_file->string();
            o.mqtt.tls = tls;
        }
        o.sync.site_id = c.site_id;
        o.sync.agent_version = PVFLEET_VERSION;
        o.sync.config_version = c.config_version;
        for (const auto& d : c.devices) o.sync.devices.push_back(d.id);
        o.sync.batch_interval = Millis{c.batch_interval_s * 1000LL};
        o.sync.resolution_s = static_cast<std::uint32_t>(c.intervals.fast.count() / 1000);
        o.sync.quota_bytes = c.quota_bytes;
        auto service = sync::SyncService::create(executor, std::move(o), *impl->outbox, clock);
        if (!service) return Error{"mqtt: " + service.error().message};
        impl->sync = std::move(*service);
        impl->sync->on_command = [i = impl.get()](const protocol::Command& cmd) { i->on_command(cmd); };
        impl->sync->on_connected = [i = impl.get()] { i->send_waiting_acks(); };
    }

    for (const auto& ep : c.endpoints) {
        auto w = std::make_unique<Impl::Worker>();
        w->spec = ep;
        for (const auto& d : c.devices) {
            if (d.endpoint == ep.id) w->devices.push_back(d);
        }
        if (w->devices.empty()) continue;
        impl->workers.push_back(std::move(w));
    }
    return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

void Agent::start() {
    auto& i = *impl_;
    static SystemClock wall;
    for (auto& w : i.workers) {
        w->session = modbus::make_session(w->spec.endpoint, wall, w->sleeper);
        w->thread = std::jthread([&i, wp = w.get()](std::stop_token st) { i.run_worker(*wp, st); });
    }
    if (i.sync) {
        // Samples a previous run stored but still held in its unsent batch when it stopped (power cut, kill):
        // the outbox knows the newest sample it has; everything stored after it goes into the first batch.
        if (auto through = i.outbox->telemetry_through()) {
            size_t refed = 0;
            for (const auto& d : i.config.devices) {
                auto rows = i.db->samples(d.id, *through + Millis{1}, i.clock.now() + std::chrono::hours(1));
                if (!rows) continue;
                for (auto& row : *rows) {
                    if (i.sync->engine().add_sample(std::move(row))) ++refed;
                }
            }
            if (refed > 0)
                PVF_LOG(info, "agent", "re-queued " << refed << " stored sample(s) not yet in the outbox");
        }
        i.sync->start();
    }
    i.forward_ticket_events();  // what a previous run recorded but did not queue
    i.schedule_tick();
}

void Agent::stop(std::function<void()> done) {
    auto& i = *impl_;
    i.stopping = true;
    i.timer.cancel();
    // 1. poll threads: they leave between polls (checked every 500 ms). One blocked in a Modbus request to a
    //    silent device may need its full timeout; it is not waited for beyond 1.5 s (see idle()).
    for (auto& w : i.workers) w->thread.request_stop();
    std::thread([&i, done = std::move(done)]() mutable {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
        while (i.running.load() > 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        // 2. back on the executor: what they posted is handled first (posts are FIFO), then no more is taken,
        //    the sync's batch goes to the outbox and the link closes. The executor is copied: `done` may
        //    destroy the agent (a restart) before this thread has left post().
        const auto executor = i.executor;
        asio::post(executor, [&i, done = std::move(done)] {
            i.accepting->store(false);
            if (i.sync) i.sync->stop();
            done();
        });
    }).detach();
}

void Agent::on_restart_requested(RestartHandler handler) {
    impl_->restart_handler = std::move(handler);
}

void Agent::finish_config_change(const ConfigChange& change, const Status& outcome) {
    auto& i = *impl_;
    CommandOutcome result;
    if (outcome) {
        if (auto s =
                i.db->save_cursor(std::string(kAppliedConfigIssuedAtKey), encode_issued_at(change.issued_at));
            !s)
            PVF_LOG(error, "agent", "set_config: applied time not stored: " << s.error().message);
        result = {protocol::AckStatus::done, "config " + i.config.config_version + " applied"};
    } else {
        result = {protocol::AckStatus::failed, "config " + change.config.config_version + " did not start (" +
                                                   outcome.error().message + "); config " +
                                                   i.config.config_version + " restored"};
    }
    if (change.command_id.empty()) {
        // Saved on the local page: no command to answer; the status heartbeat reports the config_version.
        PVF_LOG(info, "agent",
                "local page config change: " << protocol::to_string(result.status) << ": " << result.detail);
        i.last_local_change = result.detail;
        return;
    }
    // Recorded either way: a redelivery must not restart the agent again (a config that failed fails again).
    (void)i.db->save_cursor(command_key(change.command_id), std::string(protocol::to_string(result.status)));
    PVF_LOG(info, "agent",
            "command " << change.command_id << " (set_config): " << protocol::to_string(result.status) << ": "
                       << result.detail);
    // The link is not up yet: the ack goes out at the connect.
    i.acks_waiting_for_link.push_back(
        i.make_ack(change.command_id, protocol::CommandType::set_config, result.status, result.detail));
}

namespace {
nlohmann::json ticket_json(const domain::Ticket& t) {
    using nlohmann::json;
    json evidence = json::array();
    for (const auto& e : t.evidence) {
        evidence.push_back({{"name", e.name},
                            {"observed", e.observed},
                            {"expected", e.expected ? json(*e.expected) : json(nullptr)},
                            {"unit", e.unit},
                            {"t", format_iso8601(e.t)}});
    }
    auto time = [](const std::optional<TimePoint>& at) {
        return at ? json(format_iso8601(*at)) : json(nullptr);
    };
    return {{"id", t.id},
            {"device_id", t.device_id},
            {"kind", domain::to_string(t.kind)},
            {"severity", domain::to_string(t.severity)},
            {"state", domain::to_string(t.state)},
            {"summary", t.summary},
            {"evidence", evidence},
            {"opened_at", format_iso8601(t.opened_at)},
            {"updated_at", format_iso8601(t.updated_at)},
            {"acknowledged_at", time(t.acknowledged_at)},
            {"acknowledged_by", t.acknowledged_by},
            {"acknowledge_note", t.acknowledge_note}};
}

// The page's three states: a device not polled yet or whose map does not fit counts as offline (the raw
// acquisition state is beside it).
std::string_view page_state(acquisition::DeviceState s) {
    switch (s) {
        case acquisition::DeviceState::ok:
            return "ok";
        case acquisition::DeviceState::asleep:
            return "asleep";
        default:
            return "offline";
    }
}
}  // namespace

nlohmann::json Agent::local_state() const {
    using nlohmann::json;
    const auto& i = *impl_;
    json devices = json::array();
    for (const auto& d : i.config.devices) {
        const auto st = i.states.contains(d.id) ? i.states.at(d.id) : acquisition::DeviceState::unknown;
        json row = {{"id", d.id},
                    {"role", d.role == DeviceRole::inverter ? "inverter"
                             : d.role == DeviceRole::meter  ? "meter"
                                                            : "battery"},
                    {"endpoint", d.endpoint},
                    {"state", page_state(st)},
                    {"poll_state", acquisition::to_string(st)},
                    {"last_ok_poll", nullptr},
                    {"readings", nullptr}};
        if (auto it = i.latest.find(d.id); it != i.latest.end()) {
            const auto& s = it->second;
            row["last_ok_poll"] = format_iso8601(s.t);
            json arrays = json::object();
            for (const auto& [k, v] : s.arrays) {
                json a = json::array();
                for (const auto& x : v) a.push_back(x ? json(*x) : json(nullptr));
                arrays[k] = a;
            }
            json values = json::object();
            for (const auto& [k, v] : s.values) values[k] = v;
            row["readings"] = {
                {"t", format_iso8601(s.t)},
                {"ac_power_w", s.value("ac_power_w") ? json(*s.value("ac_power_w")) : json(nullptr)},
                {"energy_total_wh",
                 s.value("energy_total_wh") ? json(*s.value("energy_total_wh")) : json(nullptr)},
                {"inverter_state", s.state ? json(domain::to_string(*s.state)) : json(nullptr)},
                {"events", s.events},
                {"arrays", arrays},
                {"values", values}};
        }
        devices.push_back(std::move(row));
    }
    json link = {{"configured", i.sync != nullptr},
                 {"broker_connected", i.sync ? i.sync->client().connected() : false},
                 {"backlog_depth", i.outbox->depth()},
                 {"last_status_at", nullptr}};
    if (i.sync) {
        if (auto at = i.sync->engine().last_status_at()) link["last_status_at"] = format_iso8601(*at);
        link["buffered_samples"] = i.sync->engine().buffered_samples();
    }
    json tickets = json::array();
    if (auto all = i.db->tickets(false)) {
        for (const auto& t : *all) {
            if (t.state == domain::TicketState::open || t.state == domain::TicketState::acknowledged)
                tickets.push_back(ticket_json(t));
        }
    } else {
        PVF_LOG(error, "agent", "local page: tickets: " << all.error().message);
    }
    json endpoints = json::array();
    for (const auto& ep : i.config.endpoints) endpoints.push_back(ep.id);
    json out = {{"site_id", i.config.site_id},
                {"config_version", i.config.config_version},
                {"now", format_iso8601(i.clock.now())},
                {"restarting", i.restarting},
                {"endpoints", endpoints},
                {"devices", devices},
                {"today", i.today_json()},
                {"link", link},
                {"tickets", tickets}};
    if (!i.last_local_change.empty()) out["last_config_change"] = i.last_local_change;
    return out;
}

Result<domain::Ticket> Agent::acknowledge_ticket(const std::string& id, const std::string& by,
                                                 const std::string& note) {
    auto& i = *impl_;
    auto r = i.acknowledge(id, by, note);
    if (!r) return r.error();
    i.forward_ticket_events();  // as finish_command does for the downlink command
    return r->ticket;
}

Result<domain::Ticket> Agent::resolve_ticket(const std::string& id, const std::string& by) {
    auto& i = *impl_;
    auto r = i.resolve(id, by);
    if (!r) return r.error();
    i.forward_ticket_events();
    return r->ticket;
}

Status Agent::probe(const std::string& device_id, std::function<void(Result<std::string>)> done) {
    auto& i = *impl_;
    if (i.restarting) return Error{"the agent is restarting to apply a new config", ErrorKind::busy};
    if (!i.queue_probe(device_id, std::move(done)))
        return Error{
            "no device '" + device_id + "' in this site's config (devices: " + i.known_devices() + ")",
            ErrorKind::not_found};
    return {};
}

Status Agent::run_on_endpoint(const std::string& endpoint_id, std::function<void(modbus::ModbusBus&)> task) {
    auto& i = *impl_;
    if (i.restarting) return Error{"the agent is restarting to apply a new config", ErrorKind::busy};
    for (auto& w : i.workers) {
        if (w->spec.id != endpoint_id) continue;
        std::lock_guard lock(w->probe_mutex);
        w->tasks.push_back(std::move(task));
        return {};
    }
    std::string known;
    for (const auto& w : i.workers) known += (known.empty() ? "" : ", ") + w->spec.id;
    return Error{"no polled endpoint '" + endpoint_id + "' (endpoints: " + known + ")", ErrorKind::not_found};
}

Result<SiteConfig> Agent::check_config(std::string_view config_json) const {
    return check_pushed_config(config_json, impl_->config);
}

Result<std::string> Agent::apply_config(std::string_view config_json) {
    auto& i = *impl_;
    if (i.restarting) return Error{"a config change is already being applied", ErrorKind::busy};
    if (!i.restart_handler || !i.config.config_file)
        return Error{"this agent was not started from a config file it can replace", ErrorKind::unsupported};
    auto next = check_pushed_config(config_json, i.config);
    if (!next) return next.error();
    std::string version = next->config_version;
    // Ordered like a set_config issued now: a set_config the server issued before this save is stale.
    if (auto s = i.install_and_restart(ConfigChange{"", i.clock.now(), std::move(*next)}, config_json); !s)
        return Error{s.error().message, ErrorKind::io};
    return version;
}

bool Agent::idle() const {
    return impl_->running.load() == 0;
}

const AgentStats& Agent::stats() const {
    return impl_->stats;
}
const SiteConfig& Agent::config() const {
    return impl_->config;
}

}  // namespace pvfleet::agent
