#pragma once
// The `log_bundle` command on the agent's side (docs/updates.md, "Remote diagnostics"): the state summary
// taken on the executor when the command arrives, then the journal read, the bundle built (log_bundle.hpp)
// and uploaded over HTTPS on a thread of its own; its outcome is posted back and acked. One bundle at a time:
// another command meanwhile is `rejected`. Executor only, except the worker thread, which posts back.
#include <atomic>
#include <boost/asio/any_io_executor.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>

#include "pvfleet/agent/log_bundle.hpp"
#include "pvfleet/protocol/messages.hpp"

namespace pvfleet::agent {

class LogBundleHandler {
public:
    // `ack(command_id, status, detail, final)`: sends it (and records a final `done`).
    using Ack = std::function<void(const std::string&, protocol::AckStatus, const std::string&, bool)>;
    // Sends the bundle to the command's upload_url (default: update::upload with the server's CA).
    using Upload = std::function<Status(const std::string& url, std::string body)>;
    struct Parts {
        std::string site_id;
        const Clock& clock;
        std::function<nlohmann::json()> summary;  // the agent's state, on the executor
        std::unique_ptr<JournalSource> journal;
        Upload upload;
        boost::asio::any_io_executor executor;
        Ack ack;
    };
    explicit LogBundleHandler(Parts parts);
    ~LogBundleHandler();
    LogBundleHandler(const LogBundleHandler&) = delete;
    LogBundleHandler& operator=(const LogBundleHandler&) = delete;

    // Acks `accepted` and starts the bundle; `rejected` (returned, nothing started) while one is under way.
    std::optional<std::pair<protocol::AckStatus, std::string>> start(const std::string& command_id,
                                                                     const protocol::LogBundleCommand& cmd);
    [[nodiscard]] bool busy() const { return busy_; }
    // Whether `command_id` is the bundle under way (a redelivery is a duplicate, not a second bundle).
    [[nodiscard]] bool running(const std::string& command_id) const {
        return busy_ && current_ == command_id;
    }

    // The default upload: HTTPS with the server's certificate checked as for an update's download.
    static Upload https_upload(const std::filesystem::path& config_dir);

private:
    void run(std::string command_id, LogBundleRequest request, nlohmann::json summary, std::string url);
    Parts p_;
    std::thread worker_;
    std::atomic<bool> busy_{false};
    std::string current_;  // the command under way; executor only
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace pvfleet::agent
