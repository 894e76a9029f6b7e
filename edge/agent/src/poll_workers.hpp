#pragma once
// The agent's poll threads: one per Modbus endpoint (blocking libmodbus calls never run on the executor). Each
// identifies its devices (retrying those that do not answer), polls them and posts samples and state changes to
// the executor; between polls it runs the probes and endpoint tasks queued from the executor. Once close()d,
// nothing more reaches the executor, so the owner can be destroyed while the executor goes on (a restart).
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "pvfleet/acquisition/poller.hpp"
#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/devices/catalog.hpp"
#include "pvfleet/devices/map_model.hpp"
#include "pvfleet/modbus/session.hpp"
#include "pvfleet/solar/position.hpp"

namespace pvfleet::agent {

// A device's register map as the poll thread resolved it: what a probe reads with.
struct MappedDevice {
    devices::RegisterMap map;
    uint8_t unit = 1;
    devices::DeviceIdentity identity;
    std::string how;  // how it was identified; empty for a configured map
};

struct PollCallbacks {
    std::function<void(domain::Sample)> sample;  // all run on the executor
    std::function<void(const std::string& id, acquisition::DeviceState from, acquisition::DeviceState to,
                       const std::string& why)>
        state;
};

class PollWorkers {
public:
    // Groups the configured devices by endpoint; `config`, `catalog` and `clock` must outlive this. The clock
    // stamps samples and times the poll schedule on every poll thread: it must be safe to read from several
    // threads (SystemClock, the time systems).
    PollWorkers(const SiteConfig& config, const devices::Catalog& catalog, solar::Location location,
                const Clock& clock, boost::asio::any_io_executor executor, PollCallbacks callbacks);
    ~PollWorkers();  // close()s and joins every thread
    PollWorkers(const PollWorkers&) = delete;
    PollWorkers& operator=(const PollWorkers&) = delete;

    void start();
    // Asks every thread to leave between polls (checked every 500 ms).
    void request_stop();
    // No posted handler reaches the callbacks from now on.
    void close();
    // Threads still inside their loop (one may be blocked in a Modbus request to a silent device).
    [[nodiscard]] int running() const { return running_.load(); }

    // Queues a probe of a configured device for its endpoint's thread; false for an unknown device.
    bool queue_probe(const std::string& device_id, std::function<void(Result<std::string>)> done);
    // Queues a task for a polled endpoint's thread (see Agent::run_on_endpoint).
    Status run_on_endpoint(const std::string& endpoint_id, std::function<void(modbus::ModbusBus&)> task);
    // "a, b, c": the configured device ids, for error messages.
    [[nodiscard]] std::string known_devices() const;

private:
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
        std::mutex queue_mutex;  // the executor queues, the poll thread takes
        std::vector<ProbeRequest> probes;
        std::vector<std::function<void(modbus::ModbusBus&)>> tasks;  // the local page's scans
    };

    struct Pending;
    void run(Worker& w, std::stop_token stop);
    size_t identify_due(Worker& w, std::vector<Pending>& pending, acquisition::Poller& poller,
                        std::map<std::string, MappedDevice>& mapped, TimePoint now);
    Result<MappedDevice> map_device(Worker& w, const DeviceSpec& d);
    Result<std::string> probe_device(Worker& w, std::map<std::string, MappedDevice>& mapped,
                                     const std::string& id);

    const SiteConfig& config_;
    const devices::Catalog& catalog_;
    solar::Location location_;
    const Clock& clock_;
    boost::asio::any_io_executor executor_;
    PollCallbacks callbacks_;
    std::map<std::string, acquisition::Rating, std::less<>> ratings_;  // plausibility bounds per device
    std::vector<std::unique_ptr<Worker>> workers_;
    // Poll threads post through this flag: checked again when the handler runs, so a handler posted late does
    // not reach an owner that is gone.
    std::shared_ptr<std::atomic<bool>> accepting_ = std::make_shared<std::atomic<bool>>(true);
    std::atomic<int> running_{0};
};

}  // namespace pvfleet::agent
