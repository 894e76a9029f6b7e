#include "local_ui_backend.hpp"

#include "commissioning.hpp"
#include "enroll_gateway.hpp"

#include <boost/asio/post.hpp>
#include <fstream>
#include <sstream>

#include "pvfleet/agent/probe_detail.hpp"
#include "pvfleet/detect/ticket_book.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/modbus/scan.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::edge_app {
namespace {

using nlohmann::json;
constexpr std::size_t kMaxWorkers = 2;

Error busy() {
    return Error{"the agent is restarting; try again in a moment", ErrorKind::busy};
}

json scan_json(const modbus::ScanResult& r) {
    json units = json::array();
    for (const auto& h : r.found)
        units.push_back({{"unit", h.unit}, {"answer", h.answer}, {"detail", h.detail}});
    return {
        {"endpoint", r.endpoint}, {"units", units}, {"link_error", r.link_error}, {"link_down", r.link_down}};
}

std::vector<uint8_t> unit_range(uint8_t from, uint8_t to) {
    std::vector<uint8_t> units;
    for (int u = from; u <= to; ++u) units.push_back(static_cast<uint8_t>(u));
    return units;
}

// What `pvfleet-edge probe` does: identify the device, then one reading of its fast and slow registers, in
// the probe command's detail shape (agent::probe_detail).
Result<json> probe_on(modbus::ModbusBus& bus, uint8_t unit,
                      const std::optional<std::filesystem::path>& maps_dir, const std::string& profile) {
    auto dir = devices::find_devices_dir(maps_dir);
    if (!dir) return dir.error();
    auto catalog = devices::Catalog::load(*dir);
    if (!catalog) return Error{"register maps: " + catalog.error().message};
    if (profile != "auto" && profile != "sunspec" && catalog->find(profile) == nullptr)
        return Error::at("profile", "unknown '" + profile + "'");
    auto found = devices::identify(bus, unit, *catalog, profile);
    if (!found) return found.error();
    const devices::MapDeviceModel model(found->map);
    domain::Sample reading;
    reading.device_id = "unit " + std::to_string(unit);
    reading.t = SystemClock{}.now();
    for (auto poll : {devices::PollClass::fast, devices::PollClass::slow}) {
        auto d = model.read(bus, unit, poll);
        if (!d)
            return Error{found->identity.profile + " on " + bus.describe() + " unit " + std::to_string(unit) +
                             ": " + d.error().message,
                         d.error().kind};
        auto& r = d->reading;
        reading.values.merge(r.values);
        reading.arrays.merge(r.arrays);
        if (r.state) reading.state = r.state;
        reading.events.insert(reading.events.end(), r.events.begin(), r.events.end());
    }
    auto j = json::parse(agent::probe_detail(reading, found->identity));
    j["how"] = found->how;
    return j;
}

}  // namespace

AgentLocalUiBackend::AgentLocalUiBackend(boost::asio::any_io_executor executor,
                                         std::function<agent::Agent*()> current)
    : executor_(std::move(executor)), current_(std::move(current)) {}

AgentLocalUiBackend::~AgentLocalUiBackend() {
    *alive_ = false;
    for (auto& w : workers_) w.thread.request_stop();
    workers_.clear();  // joins: a scan stops between units, a probe after its current request
}

Result<agent::Agent*> AgentLocalUiBackend::agent() {
    agent::Agent* a = current_();
    if (a != nullptr) return a;
    if (commissioning())
        return Error{"no site config yet: scan and probe by HOST:PORT, then save a config", ErrorKind::not_found};
    return busy();
}

bool AgentLocalUiBackend::commissioning() const {
    return commissioning_ != nullptr && commissioning_->active() && current_() == nullptr;
}

std::optional<std::filesystem::path> AgentLocalUiBackend::maps_dir() const {
    if (agent::Agent* a = current_()) return a->config().maps_dir;
    return std::nullopt;
}

Result<json> AgentLocalUiBackend::state() {
    if (commissioning()) return commissioning_->state();
    auto a = agent();
    if (!a) return a.error();
    auto state = (*a)->local_state();
    state["mode"] = "running";
    return state;
}

Result<json> AgentLocalUiBackend::acknowledge(const std::string& ticket_id, const std::string& by,
                                              const std::string& note) {
    auto a = agent();
    if (!a) return a.error();
    auto t = (*a)->acknowledge_ticket(ticket_id, by, note);
    if (!t) return t.error();
    return detect::to_page_json(*t);
}

Result<json> AgentLocalUiBackend::resolve(const std::string& ticket_id, const std::string& by,
                                          const std::string& note) {
    auto a = agent();
    if (!a) return a.error();
    // The resolve_ticket command carries no note, and neither does the ticket's resolution: it is logged.
    if (!note.empty())
        PVF_LOG(info, "local-ui", "ticket " << ticket_id << " resolved by " << by << ": " << note);
    auto t = (*a)->resolve_ticket(ticket_id, by);
    if (!t) return t.error();
    return detect::to_page_json(*t);
}

void AgentLocalUiBackend::post_result(local_ui::JsonDone done, Result<json> result) {
    boost::asio::post(executor_,
                      [alive = alive_, done = std::move(done), result = std::move(result)]() mutable {
                          if (*alive) done(std::move(result));
                      });
}

void AgentLocalUiBackend::on_worker(std::function<Result<json>(std::stop_token)> work,
                                    local_ui::JsonDone done) {
    workers_.remove_if([](const Worker& w) { return w.finished->load(); });  // joins the finished ones
    if (workers_.size() >= kMaxWorkers) {
        done(Error{"two scans or probes are already running; wait for them", ErrorKind::busy});
        return;
    }
    auto& w = workers_.emplace_back();
    w.thread = std::jthread([this, work = std::move(work), done = std::move(done),
                             finished = w.finished](std::stop_token stop) mutable {
        auto result = work(stop);
        post_result(std::move(done), std::move(result));
        finished->store(true);
    });
}

void AgentLocalUiBackend::scan(const local_ui::ScanRequest& request, local_ui::JsonDone done) {
    modbus::ScanOptions options{unit_range(request.unit_from, request.unit_to), modbus::RegisterKind::holding,
                                request.register_address};
    if (!request.endpoint_id.empty()) {
        auto a = agent();
        if (!a) return done(a.error());
        // A configured endpoint: its poll thread owns the link (one serial line, or a one-connection TCP
        // gateway), so the scan runs there, with that endpoint's timing; polling waits meanwhile.
        auto queued = (*a)->run_on_endpoint(
            request.endpoint_id, [ex = executor_, alive = alive_, options, done](modbus::ModbusBus& bus) {
                auto result = scan_json(modbus::scan_units(bus, options));
                // Runs on the poll thread: only copies are touched here, the backend only back on the executor.
                boost::asio::post(ex, [alive, done, result = std::move(result)]() mutable {
                    if (*alive) done(std::move(result));
                });
            });
        if (!queued) done(queued.error());
        return;
    }
    if (!commissioning() && current_() == nullptr) return done(busy());
    auto address = modbus::parse_tcp_address(request.tcp);
    if (!address) return done(Error::at("tcp", address.error().message));
    const modbus::EndpointConfig endpoint{*address, modbus::scan_timing(Millis{request.timeout_ms})};
    on_worker(
        [endpoint, options](std::stop_token stop) -> Result<json> {
            SystemClock clock;
            modbus::SystemSleeper sleeper;
            auto session = modbus::make_session(endpoint, clock, sleeper);
            return scan_json(modbus::scan_units(*session, options, [&] { return stop.stop_requested(); }));
        },
        std::move(done));
}

void AgentLocalUiBackend::probe(const local_ui::ProbeRequest& request, local_ui::JsonDone done) {
    if (!request.device_id.empty() || !request.endpoint_id.empty()) {
        auto a = agent();
        if (!a) return done(a.error());
        probe_configured(**a, request, std::move(done));
        return;
    }
    if (!commissioning() && current_() == nullptr) return done(busy());
    const auto maps = maps_dir();
    auto address = modbus::parse_tcp_address(request.tcp);
    if (!address) return done(Error::at("tcp", address.error().message));
    modbus::SessionTiming timing;
    timing.timeout_max = timing.timeout_initial = Millis{2000};
    timing.timeout_min = std::min(timing.timeout_min, timing.timeout_max);
    timing.retries = 1;
    const modbus::EndpointConfig endpoint{*address, timing};
    on_worker(
        [endpoint, request, maps](std::stop_token) -> Result<json> {
            SystemClock clock;
            modbus::SystemSleeper sleeper;
            auto session = modbus::make_session(endpoint, clock, sleeper);
            return probe_on(*session, request.unit, maps, request.profile);
        },
        std::move(done));
}

// A configured device (the probe command's path) or a unit behind a configured endpoint (its poll thread).
void AgentLocalUiBackend::probe_configured(agent::Agent& a, const local_ui::ProbeRequest& request,
                                           local_ui::JsonDone done) {
    if (!request.device_id.empty()) {
        // The probe command's path: the device's poll thread reads it with the map it polls with.
        auto queued = a.probe(request.device_id, [done](Result<std::string> detail) {
            if (!detail) return done(detail.error());
            auto j = json::parse(*detail, nullptr, false);
            if (j.is_discarded()) return done(Error{"probe detail is not JSON"});
            done(std::move(j));
        });
        if (!queued) done(queued.error());
        return;
    }
    const auto maps_dir = a.config().maps_dir;
    auto queued = a.run_on_endpoint(
        request.endpoint_id, [ex = executor_, alive = alive_, request, maps_dir, done](modbus::ModbusBus& bus) {
            auto result = probe_on(bus, request.unit, maps_dir, request.profile);
            boost::asio::post(ex, [alive, done, result = std::move(result)]() mutable {
                if (*alive) done(std::move(result));
            });
        });
    if (!queued) done(queued.error());
}

Result<std::string> AgentLocalUiBackend::config_text() {
    if (commissioning()) return commissioning_->template_config();
    auto a = agent();
    if (!a) return a.error();
    const auto& file = (*a)->config().config_file;
    if (!file) return Error{"the agent was not started from a config file", ErrorKind::not_found};
    std::ifstream in(*file, std::ios::binary);
    if (!in) return Error{"cannot read " + file->string(), ErrorKind::io};
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

Status AgentLocalUiBackend::validate_config(std::string_view config_json) {
    if (commissioning()) return commissioning_->validate(config_json);
    auto a = agent();
    if (!a) return a.error();
    auto checked = (*a)->check_config(config_json);
    if (!checked) return checked.error();
    return {};
}

Result<std::string> AgentLocalUiBackend::save_config(std::string_view config_json) {
    if (commissioning()) return commissioning_->save(config_json);
    auto a = agent();
    if (!a) return a.error();
    return (*a)->apply_config(config_json);
}

// The enrollment screen: pvfleet-edge enroll's path on a worker thread (the HTTPS exchange may take seconds).
void AgentLocalUiBackend::enroll(const local_ui::EnrollPageRequest& request, local_ui::JsonDone done) {
    if (config_file_.empty()) {
        done(Error{"this gateway runs without a config path: enroll with pvfleet-edge enroll", ErrorKind::unsupported});
        return;
    }
    on_worker(
        [input = EnrollInput{request.server, request.code, "", config_file_.string(), std::chrono::seconds(30)}](
            std::stop_token) -> Result<json> {
            PVF_TRY(auto s, enroll_gateway(input));
            PVF_LOG(info, "local_ui", "enrolled as site " << s.site_id << " from the gateway page");
            return json{{"site_id", s.site_id},       {"serial", s.serial},
                        {"not_after", s.not_after},   {"broker_uri", s.broker_uri},
                        {"config_installed", s.config_installed}, {"lines", s.lines}};
        },
        std::move(done));
}

}  // namespace pvfleet::edge_app
