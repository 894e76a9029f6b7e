#include "pvfleet/agent/log_bundle_handler.hpp"

#include <boost/asio/post.hpp>

#include "pvfleet/update/https_client.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::agent {
namespace {
constexpr const char* kBundleLog = "log-bundle";
}  // namespace

LogBundleHandler::LogBundleHandler(Parts parts) : p_(std::move(parts)) {}

LogBundleHandler::~LogBundleHandler() {
    // A bundle in progress ends with journalctl's or the upload's timeout at most; its acks are dropped.
    if (worker_.joinable()) worker_.join();
}

LogBundleHandler::Upload LogBundleHandler::https_upload(const std::filesystem::path& config_dir) {
    return [config_dir](const std::string& url, std::string body) {
        update::UploadOptions options;
        options.ca_file =
            update::server_ca_file(config_dir);  // read again for each bundle: it may be renewed
        return update::upload(url, std::move(body), options);
    };
}

std::optional<std::pair<protocol::AckStatus, std::string>> LogBundleHandler::start(
    const std::string& command_id, const protocol::LogBundleCommand& cmd) {
    using protocol::AckStatus;
    if (busy_) return std::pair{AckStatus::rejected, std::string("another log bundle is under way")};
    if (worker_.joinable()) worker_.join();  // the last one has finished (busy_ is false)
    busy_ = true;
    current_ = command_id;
    LogBundleRequest request{p_.site_id, command_id, cmd.hours, cmd.max_bytes, p_.clock.now()};
    nlohmann::json summary = p_.summary ? p_.summary() : nlohmann::json::object();
    p_.ack(command_id, AckStatus::accepted,
           "collecting " + std::to_string(cmd.hours) + " h of journal, at most " +
               std::to_string(cmd.max_bytes) + " bytes",
           false);
    worker_ = std::thread(
        [this, command_id, request, summary = std::move(summary), url = cmd.upload_url]() mutable {
            run(command_id, std::move(request), std::move(summary), std::move(url));
        });
    return std::nullopt;
}

// On the worker thread; the outcome is posted to the executor.
void LogBundleHandler::run(std::string command_id, LogBundleRequest request, nlohmann::json summary,
                           std::string url) {
    auto finish = [this, &command_id](protocol::AckStatus status, std::string detail) {
        PVF_LOG(info, kBundleLog, command_id << ": " << protocol::to_string(status) << ": " << detail);
        boost::asio::post(p_.executor, [this, alive = std::weak_ptr<bool>(alive_), id = command_id, status,
                                        detail = std::move(detail)] {
            if (alive.expired()) return;
            busy_ = false;
            p_.ack(id, status, detail, true);
        });
    };
    auto bundle = build_log_bundle(request, summary, *p_.journal);
    if (!bundle) return finish(protocol::AckStatus::failed, "bundle: " + bundle.error().message);
    const std::size_t size = bundle->body.size();
    const std::string counts = "journal: " + std::to_string(bundle->journal_lines) + " lines, " +
                               std::to_string(bundle->cut_lines) + " cut";
    if (auto sent = p_.upload(url, std::move(bundle->body)); !sent)
        return finish(protocol::AckStatus::failed, "upload: " + sent.error().message);
    finish(protocol::AckStatus::done, "uploaded " + std::to_string(size) + " bytes (" + counts + ")");
}

}  // namespace pvfleet::agent
