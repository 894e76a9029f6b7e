#pragma once
// The `update` command on the agent's side (docs/updates.md): the package downloaded on a thread of its own
// (resumed over a few attempts), checked (size, SHA-256, signature with the shipped release keys), and handed to
// the root updater by writing update/request.json; the acks say each step ("downloading …", "installing …") and
// the updater's outcome is acked by the agent that runs afterwards (report_outcome). While an update is under
// way the agent writes health.json on every tick, which the updater waits for. Executor only, except the
// download thread, which posts back.
#include <boost/asio/any_io_executor.hpp>
#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/update/update.hpp"

namespace pvfleet::agent {

class UpdateHandler {
public:
    // `ack(command_id, status, detail, final)`: sends it (and records a final one).
    using Ack = std::function<void(const std::string&, protocol::AckStatus, const std::string&, bool)>;
    UpdateHandler(std::filesystem::path state_dir, std::filesystem::path config_dir, std::string running_version,
                  boost::asio::any_io_executor executor, Ack ack);
    ~UpdateHandler();
    UpdateHandler(const UpdateHandler&) = delete;
    UpdateHandler& operator=(const UpdateHandler&) = delete;

    // Starts it; nullopt: answered later by acks. `rejected`/`done` at once when it cannot or need not start.
    std::optional<std::pair<protocol::AckStatus, std::string>> start(const std::string& command_id,
                                                                    const protocol::UpdateCommand& cmd);
    // The updater's outcome (update/result.json) acked once; call when the broker link is up.
    void report_outcome();
    // health.json while an update is under way (request.json present).
    void write_health(bool connected, bool polling, bool store_open, TimePoint now);

private:
    void run(update::Request r);
    update::Layout layout_;
    std::filesystem::path config_dir_;
    std::string running_version_;
    boost::asio::any_io_executor executor_;
    Ack ack_;
    std::thread worker_;
    std::atomic<bool> busy_{false};
    std::atomic<bool> stop_{false};
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pvfleet::agent
