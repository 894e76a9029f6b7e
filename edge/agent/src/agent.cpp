#include "pvfleet/agent/agent.hpp"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/detect/site.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
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

    struct Worker {
        EndpointSpec spec;
        std::vector<DeviceSpec> devices;
        modbus::SystemSleeper sleeper;  // the session's pacing and backoff
        std::unique_ptr<modbus::Session> session;
        std::jthread thread;
    };
    std::vector<std::unique_ptr<Worker>> workers;
    // Poll threads post here; stop() waits until every thread has left before it drains and flushes.
    std::shared_ptr<std::atomic<bool>> accepting = std::make_shared<std::atomic<bool>>(true);
    std::atomic<int> running{0};  // poll threads still inside run_worker

    void run_worker(Worker& w, std::stop_token stop);
    void on_sample(domain::Sample s);
    void on_state(const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                  const std::string& why);
    void detect(const std::vector<store::DetectionInput>& inputs);
    void forward_ticket_events();
    void tick();
    void schedule_tick();
    void on_command(const protocol::Command& cmd);
    void send_ack(const protocol::Command& cmd, protocol::AckStatus status, std::string detail);
};

// Downlink commands (docs/protocol.md): acknowledge/resolve a ticket from the back office (recorded like a
// technician's action on site, so the gateway's ticket list shows it and the change syncs back), resend a
// range of seqs. A command id seen before is acked `duplicate` and not carried out again (ids are kept in the
// store); an expired one is acked `stale`.
void Agent::Impl::on_command(const protocol::Command& cmd) {
    const std::string key = "command:" + cmd.command_id;
    if (auto seen = db->cursor(key); seen && *seen) {
        send_ack(cmd, protocol::AckStatus::duplicate, "already " + **seen);
        return;
    }
    if (cmd.expires_at && *cmd.expires_at < clock.now()) {
        send_ack(cmd, protocol::AckStatus::stale, "expired");
        return;
    }
    protocol::AckStatus status = protocol::AckStatus::done;
    std::string detail;
    if (const auto* ack = std::get_if<protocol::AckTicketCommand>(&cmd.body)) {
        auto r =
            store::PersistentDetection::acknowledge(*db, ack->ticket_id, ack->by, ack->note, clock.now());
        if (!r) {
            status = protocol::AckStatus::rejected;
            detail = r.error().message;
        }
    } else if (const auto* res = std::get_if<protocol::ResolveTicketCommand>(&cmd.body)) {
        auto r = store::PersistentDetection::resolve(*db, res->ticket_id, res->by, clock.now());
        if (!r) {
            status = protocol::AckStatus::rejected;
            detail = r.error().message;
        }
    } else if (const auto* rs = std::get_if<protocol::ResendCommand>(&cmd.body)) {
        auto n = sync->engine().resend(rs->from_seq, rs->to_seq);
        if (n)
            detail = std::to_string(*n) + " message(s) queued again";
        else {
            status = protocol::AckStatus::failed;
            detail = n.error().message;
        }
    } else {
        status = protocol::AckStatus::rejected;
        detail = "command '" + std::string(protocol::to_string(cmd.type())) +
                 "' is not carried out by this agent version";
    }
    if (status == protocol::AckStatus::done)
        (void)db->save_cursor(key, std::string(protocol::to_string(status)));
    PVF_LOG(info, "agent",
            "command " << cmd.command_id << " (" << protocol::to_string(cmd.type())
                       << "): " << protocol::to_string(status) << (detail.empty() ? "" : ": " + detail));
    forward_ticket_events();
    send_ack(cmd, status, detail);
}

void Agent::Impl::send_ack(const protocol::Command& cmd, protocol::AckStatus status, std::string detail) {
    protocol::CommandAck ack;
    ack.site_id = config.site_id;
    ack.command_id = cmd.command_id;
    ack.command = cmd.type();
    ack.status = status;
    ack.at = clock.now();
    ack.detail = std::move(detail);
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

void Agent::Impl::run_worker(Worker& w, std::stop_token stop) {
    ++running;
    struct Leave {
        std::atomic<int>& n;
        ~Leave() { --n; }
    } leave{running};
    modbus::SystemSleeper sleeper;
    SystemClock wall;
    auto post = [this](auto fn) {
        if (accepting->load()) asio::post(executor, std::move(fn));
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
    size_t polled = 0;
    while (!stop.stop_requested()) {
        const TimePoint now = wall.now();
        for (auto it = pending.begin(); it != pending.end();) {
            if (it->next > now) {
                ++it;
                continue;
            }
            const auto& d = it->spec;
            std::optional<devices::RegisterMap> map;
            uint8_t unit = d.unit.value_or(1);
            if (d.profile != "auto" && d.profile != "sunspec") {
                map = *catalog.find(d.profile);  // checked at create()
                unit = d.unit.value_or(map->default_unit.value_or(1));
            } else {
                auto found = devices::identify(*w.session, unit, catalog, d.profile, d.sunspec_device);
                if (found) {
                    PVF_LOG(info, "agent",
                            d.id << ": " << found->identity.vendor << " " << found->identity.model
                                 << " serial " << found->identity.serial << " (" << found->how << ")");
                    map = std::move(found->map);
                } else {
                    if (!it->warned)
                        PVF_LOG(
                            warn, "agent",
                            d.id << ": not identified yet, retrying every minute: " << found.error().message);
                    it->warned = true;
                    it->next = now + kIdentifyRetry;
                    ++it;
                    continue;
                }
            }
            acquisition::DeviceConfig dc;
            dc.id = d.id;
            dc.bus = w.session.get();
            dc.unit = unit;
            dc.model = std::make_unique<devices::MapDeviceModel>(std::move(*map));
            dc.intervals = config.intervals;
            poller.add_device(std::move(dc));
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
    if (auto st = db->insert_sample(s); !st)
        PVF_LOG(error, "agent", "telemetry not stored: " << st.error().message);
    if (sync) {
        sync->engine().note_poll_ok(s.device_id, s.t);
        if (auto st = sync->engine().add_sample(s); !st)
            PVF_LOG(error, "agent", "sync: " << st.error().message);
    }
    detect({store::DetectionInput{std::move(s)}});
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
        //    the sync's batch goes to the outbox and the link closes.
        asio::post(i.executor, [&i, done = std::move(done)] {
            i.accepting->store(false);
            if (i.sync) i.sync->stop();
            done();
        });
    }).detach();
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
