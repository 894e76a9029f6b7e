#include "poll_workers.hpp"

#include <algorithm>
#include <boost/asio/post.hpp>

#include "pvfleet/agent/probe_detail.hpp"
#include "pvfleet/agent/ratings.hpp"
#include "pvfleet/agent/wiring_check.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::agent {
namespace asio = boost::asio;

namespace {
constexpr Millis kIdentifyRetry{60'000};
}  // namespace

PollWorkers::PollWorkers(const SiteConfig& config, const devices::Catalog& catalog, solar::Location location,
                         const Clock& clock, asio::any_io_executor executor, PollCallbacks callbacks)
    : config_(config),
      catalog_(catalog),
      location_(location),
      clock_(clock),
      executor_(std::move(executor)),
      callbacks_(std::move(callbacks)),
      ratings_(device_ratings(config)) {
    for (const auto& ep : config.endpoints) {
        auto w = std::make_unique<Worker>();
        w->spec = ep;
        for (const auto& d : config.devices) {
            if (d.endpoint == ep.id) w->devices.push_back(d);
        }
        if (w->devices.empty()) continue;
        workers_.push_back(std::move(w));
    }
}

PollWorkers::~PollWorkers() {
    close();
    for (auto& w : workers_) {
        if (w->thread.joinable()) {
            w->thread.request_stop();
            w->thread.join();
        }
    }
}

void PollWorkers::start() {
    for (auto& w : workers_) {
        w->session = modbus::make_session(w->spec.endpoint, clock_, w->sleeper);
        w->thread = std::jthread([this, wp = w.get()](std::stop_token st) { run(*wp, st); });
    }
}

void PollWorkers::request_stop() {
    for (auto& w : workers_) w->thread.request_stop();
}

void PollWorkers::close() {
    accepting_->store(false);
}

bool PollWorkers::queue_probe(const std::string& device_id, std::function<void(Result<std::string>)> done) {
    for (auto& w : workers_) {
        for (const auto& d : w->devices) {
            if (d.id != device_id) continue;
            std::lock_guard lock(w->queue_mutex);
            w->probes.push_back({device_id, std::move(done)});
            return true;
        }
    }
    return false;
}

Status PollWorkers::run_on_endpoint(const std::string& endpoint_id, std::function<void(modbus::ModbusBus&)> task) {
    for (auto& w : workers_) {
        if (w->spec.id != endpoint_id) continue;
        std::lock_guard lock(w->queue_mutex);
        w->tasks.push_back(std::move(task));
        return {};
    }
    std::string known;
    for (const auto& w : workers_) known += (known.empty() ? "" : ", ") + w->spec.id;
    return Error{"no polled endpoint '" + endpoint_id + "' (endpoints: " + known + ")", ErrorKind::not_found};
}

std::string PollWorkers::known_devices() const {
    std::string known;
    for (const auto& d : config_.devices) known += (known.empty() ? "" : ", ") + d.id;
    return known;
}

Result<MappedDevice> PollWorkers::map_device(Worker& w, const DeviceSpec& d) {
    // A map with model variants is identified like auto: its variant register picks the model's registers.
    const devices::RegisterMap* named =
        d.profile != "auto" && d.profile != "sunspec" ? catalog_.find(d.profile) : nullptr;  // checked at Agent::create()
    if (named != nullptr && !named->variants) {
        const devices::RegisterMap& map = *named;
        MappedDevice m{map, d.unit.value_or(map.default_unit.value_or(1)), {}, {}};
        m.identity.profile = d.profile;
        m.identity.vendor = map.vendor;
        return m;
    }
    const uint8_t unit = d.unit.value_or(named != nullptr ? named->default_unit.value_or(1) : 1);
    auto found = devices::identify(*w.session, unit, catalog_, d.profile, d.sunspec_device);
    if (!found) return found.error();
    return MappedDevice{std::move(found->map), unit, std::move(found->identity), std::move(found->how)};
}

// One reading of the fast and the slow registers (the energy counters too), as `pvfleet-edge probe` reads.
// Runs on the endpoint's poll thread, between polls. It goes beside the poller: its state (backoff, offline
// counting) is left as it is, and the reading is not stored.
Result<std::string> PollWorkers::probe_device(Worker& w, std::map<std::string, MappedDevice>& mapped,
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
    domain::Sample reading;
    reading.device_id = id;
    reading.t = clock_.now();
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

// A device not identified yet: retried every kIdentifyRetry, warned about once.
struct PollWorkers::Pending {
    DeviceSpec spec;
    TimePoint next{};
    bool warned = false;
};

// Identifies the pending devices whose retry is due; each one found joins the poller. Returns how many joined.
size_t PollWorkers::identify_due(Worker& w, std::vector<Pending>& pending, acquisition::Poller& poller,
                                 std::map<std::string, MappedDevice>& mapped, TimePoint now) {
    size_t joined = 0;
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
        if (!found->how.empty()) {
            PVF_LOG(info, "agent",
                    d.id << ": " << found->identity.vendor << " " << found->identity.model << " serial "
                         << found->identity.serial << " (" << found->how << ")");
            // The identified map's inputs against the wiring (a named map without variants was checked at start).
            for (const auto& m : wiring_misfits(config_, d.id, found->map)) {
                if (m.array) {
                    PVF_LOG(error, "agent", "site config: " << m.error.message);
                } else {
                    PVF_LOG(warn, "agent", "site config: " << m.error.message);
                }
            }
        }
        acquisition::DeviceConfig dc;
        dc.id = d.id;
        dc.bus = w.session.get();
        dc.unit = found->unit;
        dc.model = std::make_unique<devices::MapDeviceModel>(found->map);
        dc.intervals = config_.intervals;
        if (auto r = ratings_.find(d.id); r != ratings_.end()) dc.rating = r->second;
        poller.add_device(std::move(dc));
        mapped.insert_or_assign(d.id, std::move(*found));
        ++joined;
        it = pending.erase(it);
    }
    return joined;
}

void PollWorkers::run(Worker& w, std::stop_token stop) {
    ++running_;
    struct Leave {
        std::atomic<int>& n;
        ~Leave() { --n; }
    } leave{running_};
    modbus::SystemSleeper sleeper;
    auto post = [this, open = accepting_](auto fn) {
        if (!open->load()) return;
        asio::post(executor_, [open, fn = std::move(fn)]() mutable {
            if (open->load()) fn();
        });
    };
    acquisition::Poller poller(
        clock_, sleeper, [&, post](const domain::Sample& s) { post([this, s] { callbacks_.sample(s); }); },
        [&, post](const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                  const std::string& why) {
            post([this, id, from, to, why] { callbacks_.state(id, from, to, why); });
        },
        [this](TimePoint t) { return solar::solar_position(t, location_).apparent_elevation_deg < 0; });

    std::vector<Pending> pending;
    for (const auto& d : w.devices) pending.push_back({d});
    std::map<std::string, MappedDevice> mapped;  // what probes read with
    size_t polled = 0;
    while (!stop.stop_requested()) {
        std::vector<ProbeRequest> probes;
        std::vector<std::function<void(modbus::ModbusBus&)>> tasks;
        {
            std::lock_guard lock(w.queue_mutex);
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
        const TimePoint now = clock_.now();
        polled += identify_due(w, pending, poller, mapped, now);
        TimePoint next = now + Millis{500};
        if (polled > 0) next = std::min(next, poller.poll_due());
        for (const auto& p : pending) next = std::min(next, std::max(p.next, now));
        const auto wait = std::chrono::duration_cast<Millis>(next - clock_.now());
        if (wait > Millis{0} && !stop.stop_requested()) sleeper.sleep_for(std::min(wait, Millis{500}));
    }
}

}  // namespace pvfleet::agent
