#include "pvfleet/agent/agent.hpp"

#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "command_handler.hpp"
#include "page_model.hpp"
#include "poll_workers.hpp"
#include "pvfleet/agent/config_lifecycle.hpp"
#include "pvfleet/agent/log_bundle_handler.hpp"
#include "pvfleet/agent/wiring_check.hpp"
#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/detect/site.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/store/telemetry_writer.hpp"
#include "pvfleet/sync/service.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/util/version.hpp"

namespace pvfleet::agent {
namespace asio = boost::asio;

namespace {
constexpr Millis kTick{5'000};
// Detector state saved at least this often without events (store::PersistentDetection::save_state_every).
constexpr Millis kStateInterval{300'000};
// Retention batches run per detection tick at most (each one short transaction, posted one after another).
constexpr int kRetentionBatchesPerTick = 20;
// Ticks skipped after a retention step found nothing to do (it then looks every 15 s: a step that finds
// nothing costs a few index seeks, and a filesystem running full is noticed soon).
constexpr int kRetentionIdleTicks = 2;
}  // namespace

// The composition of the agent's parts, and the glue between them on the executor: a sample goes to the store,
// the sync's batch, the page model and detection; detection's ticket events go to the store and the sync.
//   poll_workers.cpp    poll threads (identify, poll, probes, endpoint tasks)
//   command_handler.cpp downlink commands
//   config_lifecycle.cpp a new config checked, installed and applied by a restart (set_config, local page saves)
//   page_model.cpp      the local page's newest readings and today's energy
struct Agent::Impl {
    Impl(SiteConfig c, asio::any_io_executor e, TimeSystem& time, AgentClocks clocks)
        : config(std::move(c)),
          executor(e),
          clock(time),
          timer(time.make_timer()),
          gate(clocks.sync ? *clocks.sync : trusted, time, clocks.steady ? *clocks.steady : steady) {}

    SiteConfig config;
    asio::any_io_executor executor;
    const Clock& clock;  // the time system's wall clock
    std::unique_ptr<Timer> timer;  // detection's tick
    TrustedClockSync trusted;      // the defaults of AgentClocks
    SteadyClock steady;
    ClockGate gate;                // samples wait for a set clock; steps of the wall clock are watched
    devices::Catalog catalog;
    std::unique_ptr<store::GatewayStore> db;
    std::unique_ptr<store::SqliteOutbox> outbox;
    std::unique_ptr<store::TelemetryWriter> telemetry;  // raw samples, committed right behind each poll cycle
    bool commit_posted = false;                         // a commit of `telemetry` is posted on the executor
    int retention_idle = 0;                             // ticks until the next retention step
    std::unique_ptr<store::Retention> retention;        // raw window, daily aggregates, disk budget
    std::shared_ptr<bool> alive = std::make_shared<bool>(true);  // expires with this: posted batches check it
    std::unique_ptr<detect::SolarSunModel> sun;
    std::unique_ptr<detect::DetectionPipeline> pipeline;
    std::unique_ptr<store::PersistentDetection> detection;
    std::unique_ptr<PageModel> page;
    std::unique_ptr<ConfigLifecycle> config_lifecycle;
    std::unique_ptr<UpdateHandler> updates;  // the update command; before `commands`, which points at it
    std::unique_ptr<LogBundleHandler> log_bundles;  // the log_bundle command; likewise
    TimePoint started_at{};                         // for the bundle's uptime
    std::unique_ptr<CommandHandler> commands;
    std::unique_ptr<sync::SyncService> sync;  // after `commands`: destroyed before it, its callbacks use it
    solar::Location location;
    AgentStats stats;
    std::map<std::string, acquisition::DeviceState> states;  // executor only
    bool stopping = false;
    std::unique_ptr<PollWorkers> workers;  // last: destroyed first, its threads joined before the rest goes

    void on_sample(domain::Sample s);
    void process_sample(domain::Sample s);
    void on_state(const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                  const std::string& why);
    void detect(const std::vector<store::DetectionInput>& inputs);
    void queue_ticket_events(const std::vector<store::StoredEvent>& events);
    void queue_stored_ticket_events();
    void tick();
    void schedule_tick();
    void post_telemetry_commit();
    void commit_telemetry();
    void housekeeping(int batches_left);
    [[nodiscard]] nlohmann::json diagnostics_summary() const;

    // The steps of Agent::create, in order; each fails with the error create() returns.
    Status load_catalog();
    Status open_store();
    Status start_detection();
    Status start_sync();
    void start_parts();
};

// Through the clock gate first: held while the clock is not set, restamped once it is (clock_sync.hpp).
void Agent::Impl::on_sample(domain::Sample s) {
    for (auto& ready : gate.admit(std::move(s))) process_sample(std::move(ready));
}

void Agent::Impl::process_sample(domain::Sample s) {
    ++stats.samples;
    page->note_sample(s);
    telemetry->add(s);
    post_telemetry_commit();
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
    if (to == acquisition::DeviceState::offline && gate.may_judge_now()) detect({store::NoAnswer{id, clock.now()}});
}

void Agent::Impl::detect(const std::vector<store::DetectionInput>& inputs) {
    auto events = detection->process(inputs);
    if (!events) {
        PVF_LOG(error, "agent", "detection: " << events.error().message);
        return;
    }
    for (const auto& stored : *events) {
        const auto& e = stored.event;
        ++stats.ticket_events;
        PVF_LOG(info, "agent",
                "ticket " << domain::to_string(e.kind) << " " << e.ticket.id << " ("
                          << domain::to_string(e.ticket.kind) << ", " << e.ticket.device_id << ")");
    }
    // Technicians' actions from the `tickets` CLI are in the store only: they go first, read back from it.
    if (detection->others_recorded()) queue_stored_ticket_events();
    queue_ticket_events(*events);
}

// Ticket events go to the sync as they are recorded, each with its store event_id, which the outbox keeps as
// its cursor in the same transaction: each event is queued exactly once, in event_id order.
void Agent::Impl::queue_ticket_events(const std::vector<store::StoredEvent>& events) {
    if (!sync) return;
    for (const auto& e : events) {
        const long long cursor = outbox->ticket_event_cursor().value_or(0);
        if (e.event_id <= cursor) continue;  // queued already (read back from the store)
        // Events before this one are not queued yet (an earlier append failed, another writer's): read back.
        if (e.event_id != cursor + 1) return queue_stored_ticket_events();
        if (auto r = sync->engine().add_ticket_event(e.event, e.event_id); !r) {
            PVF_LOG(error, "agent", "sync: ticket event " << e.event_id << ": " << r.error().message);
            return;
        }
    }
}

void Agent::Impl::queue_stored_ticket_events() {
    if (!sync) return;
    // Everything the store recorded after the outbox's cursor: what a previous run recorded but did not queue,
    // and technicians' actions from the `tickets` CLI.
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
    // The updater waits for this while an update is under way: connected, polling, store open.
    updates->write_health(sync && sync->client().connected(), stats.samples > 0 || !states.empty(), db != nullptr, clock.now());
    // The updater writes its outcome only after this agent reported healthy — connected already — so looking for
    // it when the link comes up is not enough: the tick looks too (nothing to do while there is no result.json).
    if (sync && sync->client().connected()) updates->report_outcome();
    // Nothing is judged on an unset clock, or while a step back has put it behind what was judged already.
    std::vector<domain::Sample> released;
    const bool judge = gate.tick(released);
    for (auto& s : released) process_sample(std::move(s));
    commit_telemetry();  // what a failed commit kept, again
    if (!judge) return;
    // Devices still offline: keep telling detection they do not answer (it times comm loss from these).
    std::vector<store::DetectionInput> silent;
    for (const auto& [id, st] : states) {
        if (st == acquisition::DeviceState::offline) silent.emplace_back(store::NoAnswer{id, clock.now()});
    }
    stats.no_answers += silent.size();
    // An empty batch still lets time-based rules (closing resolved tickets) run.
    detect(silent);
    // Nothing is pruned by a clock that is not set (above); while there is nothing to do, once a minute.
    if (retention_idle > 0) {
        --retention_idle;
    } else {
        housekeeping(kRetentionBatchesPerTick);
    }
}

// A poll cycle's samples are committed right behind it: the commit is posted behind whatever the poll threads
// posted with them, so the devices of one cycle usually share it. Once it ran, a killed process loses none of
// them (store/telemetry_writer.hpp).
void Agent::Impl::post_telemetry_commit() {
    if (commit_posted) return;
    commit_posted = true;
    asio::post(executor, [this, alive = std::weak_ptr<bool>(alive)] {
        if (alive.expired()) return;
        commit_posted = false;
        commit_telemetry();
    });
}

void Agent::Impl::commit_telemetry() {
    const auto skipped = telemetry->stats().skipped;
    (void)telemetry->flush(clock.now());  // a failure is logged and the samples kept for the next attempt
    // Below the free-space floor the raw copy was not stored: the sync's batch goes to the outbox now instead
    // of at its interval, so a kill still finds every sample polled in the file.
    if (sync && telemetry->stats().skipped > skipped) (void)sync->engine().flush();
}

// One retention batch; while there is more to do, the next is posted behind whatever the poll threads posted
// meanwhile, so samples are never held up by more than one short transaction.
void Agent::Impl::housekeeping(int batches_left) {
    if (stopping || batches_left <= 0) return;
    // Asked only when there is something to prune; without a sync nothing waits to be sent.
    auto synced = [this]() -> Result<std::optional<TimePoint>> {
        if (!sync) return std::optional<TimePoint>(TimePoint::max());
        return outbox->synced_through();
    };
    auto more = retention->step(clock.now(), synced);
    if (!more) {
        PVF_LOG(error, "agent", "retention: " << more.error().message);
        return;
    }
    if (!*more) retention_idle = kRetentionIdleTicks;
    if (*more)
        asio::post(executor, [this, alive = std::weak_ptr<bool>(alive), batches_left] {
            if (!alive.expired()) housekeeping(batches_left - 1);
        });
}

void Agent::Impl::schedule_tick() {
    // The time system runs the callback on the executor (AsioTimeSystem) or where a test advances time.
    timer->arm(kTick, [this] {
        if (stopping) return;
        tick();
        schedule_tick();
    });
}

Agent::Agent(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Agent::~Agent() = default;  // PollWorkers closes and joins its threads first

// The register maps, and every configured profile found among them.
Status Agent::Impl::load_catalog() {
    const auto& c = config;
    auto dir = devices::find_devices_dir(c.maps_dir);
    if (!dir) return dir.error();
    auto loaded = devices::Catalog::load(*dir);
    if (!loaded) return Error{"register maps: " + loaded.error().message};
    catalog = std::move(*loaded);
    for (size_t i = 0; i < c.devices.size(); ++i) {
        const auto& d = c.devices[i];
        if (d.profile != "auto" && d.profile != "sunspec" && catalog.find(d.profile) == nullptr) {
            std::string list;
            for (const auto& p : catalog.profiles()) list += ", " + p;
            return Error::at("devices/" + d.id + "/profile",
                             "unknown '" + d.profile + "' (expected auto, sunspec" + list + ")");
        }
        // Wired inputs the named map cannot read: refused; auto, sunspec and variants are checked once identified.
        if (const auto* map = catalog.find(d.profile); map != nullptr) {
            for (auto& m : wiring_misfits(c, d.id, *map)) {
                if (m.array) return m.error;
                PVF_LOG(warn, "agent", m.error.message);
            }
        }
    }
    return {};
}

Status Agent::Impl::open_store() {
    const auto& c = config;
    std::error_code ec;
    std::filesystem::create_directories(c.store_path.parent_path(), ec);
    auto opened = store::GatewayStore::open(c.store_path.string());
    if (!opened) return Error{"store " + c.store_path.string() + ": " + opened.error().message};
    db = std::move(*opened);
    auto opened_outbox = store::SqliteOutbox::open(c.store_path.string());
    if (!opened_outbox) return Error{"outbox " + c.store_path.string() + ": " + opened_outbox.error().message};
    outbox = std::move(*opened_outbox);
    telemetry = std::make_unique<store::TelemetryWriter>(
        *db, store::TelemetryWriterOptions{.min_free_bytes = c.min_free_bytes});
    store::RetentionOptions ro;
    ro.raw_window = std::chrono::hours(24LL * c.retention_days);
    ro.longitude_deg = c.detection_site.value("longitude", 0.0);
    ro.budget_bytes = c.budget_bytes;
    ro.min_free_bytes = c.min_free_bytes;
    auto opened_retention = store::Retention::open(c.store_path.string(), std::move(ro), outbox.get());
    if (!opened_retention) return Error{"store " + c.store_path.string() + ": " + opened_retention.error().message};
    retention = std::move(*opened_retention);
    return {};
}

// Detection over the site model, resumed from the store, and the local page's model.
Status Agent::Impl::start_detection() {
    auto site = detect::parse_site_detection(config.detection_site);
    if (!site) return site.error();
    location = {site->model.latitude_deg, site->model.longitude_deg, site->model.elevation_m};
    auto created = detect::SolarSunModel::create(site->model);
    if (!created) return created.error();
    sun = std::move(*created);
    pipeline = std::make_unique<detect::DetectionPipeline>(site->config, *sun, clock);
    pipeline->set_wiring(site->wiring);
    gate.on_step([p = pipeline.get()](Millis by) { p->clock_stepped(by); });
    // The local page's expectation for today: the same clear-sky model detection judges with, when the
    // config describes arrays (without them there is nothing to expect, and the page says so).
    std::optional<solar::ExpectedPowerModel> expected;
    if (!site->model.arrays.empty()) {
        if (auto model = solar::ExpectedPowerModel::create(site->model)) expected = std::move(*model);
    }
    page = std::make_unique<PageModel>(*db, location, std::move(expected));
    detection = std::make_unique<store::PersistentDetection>(*db, *pipeline);
    detection->save_state_every(kStateInterval, clock);
    if (auto s = detection->resume(); !s) return Error{"detector state: " + s.error().message};
    return {};
}

// The MQTT sync, when the config has a broker.
Status Agent::Impl::start_sync() {
    const auto& c = config;
    if (!c.mqtt) return {};
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
    o.sync.agent_version = std::string(util::program_version());
    o.sync.config_version = c.config_version;
    for (const auto& d : c.devices) o.sync.devices.push_back(d.id);
    // The wiring goes to the server with each status, so the back office sees which inputs are used.
    if (auto site = detect::parse_site_detection(c.detection_site)) {
        for (const auto& [inverter, inputs] : site->wiring) o.sync.wired_inputs[inverter] = inputs;
    }
    o.sync.batch_interval = Millis{c.batch_interval_s * 1000LL};
    o.sync.resolution_s = static_cast<std::uint32_t>(c.intervals.fast.count() / 1000);
    o.sync.quota_bytes = c.quota_bytes;
    auto service = sync::SyncService::create(executor, std::move(o), *outbox, clock);
    if (!service) return Error{"mqtt: " + service.error().message};
    sync = std::move(*service);
    return {};
}

// Poll workers, config lifecycle and command handler, and the sync's callbacks into them.
void Agent::Impl::start_parts() {
    const auto& c = config;
    Impl* i = this;
    workers = std::make_unique<PollWorkers>(
        c, catalog, location, clock, executor,
        PollCallbacks{[i](domain::Sample s) { i->on_sample(std::move(s)); },
                      [i](const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                          const std::string& why) { i->on_state(id, from, to, why); }});
    config_lifecycle = std::make_unique<ConfigLifecycle>(ConfigLifecycle::Parts{*db, clock, c, executor});
    // Over-the-air updates (docs/updates.md): files in the store's folder (the state directory).
    updates = std::make_unique<UpdateHandler>(
        c.store_path.parent_path(), c.config_file ? c.config_file->parent_path() : std::filesystem::path("/etc/pvfleet"),
        std::string(util::program_version()), executor,
        [i](const std::string& id, protocol::AckStatus s, const std::string& detail, bool final) {
            i->commands->update_ack(id, s, detail, final);
        });
    // Remote diagnostics (docs/updates.md): the journal of this unit, uploaded as the update downloads.
    started_at = clock.now();
    log_bundles = std::make_unique<LogBundleHandler>(LogBundleHandler::Parts{
        c.site_id, clock, [i] { return i->diagnostics_summary(); }, journalctl_source(),
        LogBundleHandler::https_upload(c.config_file ? c.config_file->parent_path()
                                                     : std::filesystem::path("/etc/pvfleet")),
        executor,
        [i](const std::string& id, protocol::AckStatus s, const std::string& detail, bool final) {
            i->commands->log_bundle_ack(id, s, detail, final);
        }});
    commands = std::make_unique<CommandHandler>(CommandHandler::Parts{
        *db, clock, c, executor, *workers, *config_lifecycle, sync.get(), *detection,
        [i](const std::vector<store::StoredEvent>& events) { i->queue_ticket_events(events); }, updates.get(),
        log_bundles.get()});
    if (sync) {
        sync->on_command = [i](const protocol::Command& cmd) { i->commands->on_command(cmd); };
        sync->on_connected = [i] {
            i->commands->send_waiting_acks();
            i->updates->report_outcome();  // what the updater did before this agent started
        };
    }
}

// What a log bundle says of the agent: only what it knows already or asks cheaply (one storage status).
nlohmann::json Agent::Impl::diagnostics_summary() const {
    using nlohmann::json;
    const TimePoint now = clock.now();
    json link = {{"configured", sync != nullptr},
                 {"broker_connected", sync ? sync->client().connected() : false}};
    if (sync) {
        if (auto at = sync->engine().last_status_at()) link["last_status_at"] = format_iso8601(*at);
        link["buffered_samples"] = sync->engine().buffered_samples();
    }
    json outbox_json = {{"backlog_depth", outbox->depth()}};
    if (auto through = outbox->telemetry_through())
        outbox_json["telemetry_through"] = format_iso8601(*through);
    if (auto synced = outbox->synced_through(); synced && *synced)
        outbox_json["synced_through"] = format_iso8601(**synced);
    std::size_t open_tickets = 0;
    if (auto all = db->tickets(false)) {
        for (const auto& t : *all)
            if (t.state == domain::TicketState::open || t.state == domain::TicketState::acknowledged)
                ++open_tickets;
    }
    json storage = json::object();
    if (auto st = retention->status()) storage = st->to_json();
    if (auto pages = db->page_use()) {
        storage["page_size"] = pages->page_size;
        storage["page_count"] = pages->page_count;
    }
    json devices = json::array();
    for (const auto& d : config.devices) {
        const auto st = states.contains(d.id) ? states.at(d.id) : acquisition::DeviceState::unknown;
        devices.push_back(
            {{"id", d.id}, {"endpoint", d.endpoint}, {"poll_state", acquisition::to_string(st)}});
    }
    return {{"agent_version", util::program_version()},
            {"config_version", config.config_version},
            {"now", format_iso8601(now)},
            {"started_at", format_iso8601(started_at)},
            {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(now - started_at).count()},
            {"clock_synchronised", gate.synchronised()},
            {"restarting", config_lifecycle->restarting()},
            {"link", link},
            {"outbox", outbox_json},
            {"open_tickets", open_tickets},
            {"storage", storage},
            {"devices", devices},
            {"samples", stats.samples},
            {"ticket_events", stats.ticket_events}};
}

Result<std::unique_ptr<Agent>> Agent::create(SiteConfig config, asio::any_io_executor executor,
                                             TimeSystem& time, AgentClocks clocks) {
    auto impl = std::make_unique<Impl>(std::move(config), executor, time, clocks);
    if (auto s = impl->load_catalog(); !s) return s.error();
    if (auto s = impl->open_store(); !s) return s.error();
    if (auto s = impl->start_detection(); !s) return s.error();
    if (auto s = impl->start_sync(); !s) return s.error();
    impl->start_parts();
    return std::unique_ptr<Agent>(new Agent(std::move(impl)));
}

void Agent::start() {
    auto& i = *impl_;
    i.workers->start();
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
    i.queue_stored_ticket_events();  // what a previous run recorded but did not queue
    i.schedule_tick();
}

void Agent::stop(std::function<void()> done) {
    auto& i = *impl_;
    i.stopping = true;
    i.timer->cancel();
    // 1. poll threads: they leave between polls (checked every 500 ms). One blocked in a Modbus request to a
    //    silent device may need its full timeout; it is not waited for beyond 1.5 s (see idle()).
    i.workers->request_stop();
    std::thread([&i, done = std::move(done)]() mutable {
        // Real threads leaving: a steady-clock bound on this helper thread, not simulated time.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
        while (i.workers->running() > 0 && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        // 2. back on the executor: what they posted is handled first (posts are FIFO), then no more is taken,
        //    the sync's batch goes to the outbox and the link closes. The executor is copied: `done` may
        //    destroy the agent (a restart) before this thread has left post().
        const auto executor = i.executor;
        asio::post(executor, [&i, done = std::move(done)] {
            i.workers->close();
            (void)i.telemetry->flush(i.clock.now());
            if (auto s = i.detection->flush_state(); !s)
                PVF_LOG(error, "agent", "detector state: " << s.error().message);
            if (i.sync) i.sync->stop();
            done();
        });
    }).detach();
}

void Agent::on_restart_requested(RestartHandler handler) {
    impl_->config_lifecycle->set_restart_handler(std::move(handler));
}

void Agent::finish_config_change(const ConfigChange& change, const Status& outcome) {
    impl_->commands->finish_config_change(change, outcome);
}


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
        if (const domain::Sample* latest = i.page->latest(d.id)) {
            const auto& s = *latest;
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
                tickets.push_back(page_ticket_json(t));
        }
    } else {
        PVF_LOG(error, "agent", "local page: tickets: " << all.error().message);
    }
    json endpoints = json::array();
    for (const auto& ep : i.config.endpoints) endpoints.push_back(ep.id);
    json storage = json::object();
    if (auto st = i.retention->status()) storage = st->to_json();
    const auto& w = i.telemetry->stats();
    storage["raw_buffered"] = i.telemetry->buffered();
    storage["raw_skipped_low_space"] = w.skipped;
    storage["raw_dropped_failed_commits"] = w.dropped;
    json out = {{"site_id", i.config.site_id},
                {"config_version", i.config.config_version},
                {"now", format_iso8601(i.clock.now())},
                {"restarting", i.config_lifecycle->restarting()},
                {"clock_synchronised", i.gate.synchronised()},
                {"endpoints", endpoints},
                {"devices", devices},
                {"today", i.page->today(i.clock.now(), i.config.devices)},
                {"link", link},
                {"tickets", tickets},
                {"storage", storage}};
    if (const auto& change = i.config_lifecycle->last_local_change(); !change.empty())
        out["last_config_change"] = change;
    return out;
}

Result<domain::Ticket> Agent::acknowledge_ticket(const std::string& id, const std::string& by,
                                                 const std::string& note) {
    auto& i = *impl_;
    auto r = i.commands->acknowledge(id, by, note);  // recorded and queued for the server
    if (!r) return r.error();
    return r->ticket;
}

Result<domain::Ticket> Agent::resolve_ticket(const std::string& id, const std::string& by) {
    auto& i = *impl_;
    auto r = i.commands->resolve(id, by);
    if (!r) return r.error();
    return r->ticket;
}

Status Agent::probe(const std::string& device_id, std::function<void(Result<std::string>)> done) {
    auto& i = *impl_;
    if (i.config_lifecycle->restarting())
        return Error{"the agent is restarting to apply a new config", ErrorKind::busy};
    if (!i.workers->queue_probe(device_id, std::move(done)))
        return Error{
            "no device '" + device_id + "' in this site's config (devices: " + i.workers->known_devices() + ")",
            ErrorKind::not_found};
    return {};
}

Status Agent::run_on_endpoint(const std::string& endpoint_id, std::function<void(modbus::ModbusBus&)> task) {
    auto& i = *impl_;
    if (i.config_lifecycle->restarting())
        return Error{"the agent is restarting to apply a new config", ErrorKind::busy};
    return i.workers->run_on_endpoint(endpoint_id, std::move(task));
}

Result<SiteConfig> Agent::check_config(std::string_view config_json) const {
    return impl_->config_lifecycle->check(config_json);
}

Result<std::string> Agent::apply_config(std::string_view config_json) {
    return impl_->config_lifecycle->apply_from_local_page(config_json);
}

bool Agent::idle() const {
    return impl_->workers->running() == 0;
}

const AgentStats& Agent::stats() const {
    return impl_->stats;
}
const ClockGate::Stats& Agent::clock_stats() const {
    return impl_->gate.stats();
}
const SiteConfig& Agent::config() const {
    return impl_->config;
}

}  // namespace pvfleet::agent
