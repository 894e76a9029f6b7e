#pragma once
// The local page's backend in `pvfleet-edge run`: LocalUiBackend over whichever agent runs (a set_config or
// a save on the page replaces it), plus worker threads for scans and probes of addresses the config does not
// poll, so the executor never waits on a device.
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <list>
#include <memory>
#include <thread>

#include "pvfleet/agent/agent.hpp"
#include "pvfleet/local_ui/backend.hpp"

namespace pvfleet::edge_app {

class Commissioning;

class AgentLocalUiBackend final : public local_ui::LocalUiBackend {
public:
    // `current` returns the running agent, nullptr while none runs (between two agents of a restart).
    AgentLocalUiBackend(boost::asio::any_io_executor executor, std::function<agent::Agent*()> current);
    ~AgentLocalUiBackend() override;
    AgentLocalUiBackend(const AgentLocalUiBackend&) = delete;
    AgentLocalUiBackend& operator=(const AgentLocalUiBackend&) = delete;
    // While `commissioning` is active (no site config yet) the page's state, config and saves go to it, and
    // scans and probes of a HOST:PORT run without an agent.
    void set_commissioning(Commissioning* commissioning) { commissioning_ = commissioning; }
    // The site config whose folder the enrollment screen writes pki/ (and enrollment.json) beside.
    void set_config_file(std::filesystem::path file) { config_file_ = std::move(file); }

    Result<nlohmann::json> state() override;
    Result<nlohmann::json> acknowledge(const std::string& ticket_id, const std::string& by,
                                       const std::string& note) override;
    Result<nlohmann::json> resolve(const std::string& ticket_id, const std::string& by,
                                   const std::string& note) override;
    void scan(const local_ui::ScanRequest& request, local_ui::JsonDone done) override;
    void probe(const local_ui::ProbeRequest& request, local_ui::JsonDone done) override;
    Result<std::string> config_text() override;
    Status validate_config(std::string_view config_json) override;
    Result<std::string> save_config(std::string_view config_json) override;
    void enroll(const local_ui::EnrollPageRequest& request, local_ui::JsonDone done) override;

private:
    Result<agent::Agent*> agent();
    [[nodiscard]] bool commissioning() const;
    // The register-map folder of scans and probes of a HOST:PORT: the running config's, else the default.
    [[nodiscard]] std::optional<std::filesystem::path> maps_dir() const;
    // Runs `work` on a thread of its own (at most kMaxWorkers at once) and `done` with its result on the
    // executor. The stop token is set when the backend goes away: a scan stops between units.
    void on_worker(std::function<Result<nlohmann::json>(std::stop_token)> work, local_ui::JsonDone done);
    void probe_configured(agent::Agent& a, const local_ui::ProbeRequest& request, local_ui::JsonDone done);
    void post_result(local_ui::JsonDone done, Result<nlohmann::json> result);

    boost::asio::any_io_executor executor_;
    std::function<agent::Agent*()> current_;
    Commissioning* commissioning_ = nullptr;
    std::filesystem::path config_file_;
    struct Worker {
        std::jthread thread;
        std::shared_ptr<std::atomic<bool>> finished = std::make_shared<std::atomic<bool>>(false);
    };
    std::list<Worker> workers_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pvfleet::edge_app
