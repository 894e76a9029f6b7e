#include "update_handler.hpp"

#include <boost/asio/post.hpp>

#include "pvfleet/util/data_dir.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::agent {
namespace {
constexpr int kAttempts = 5;  // each resumes where the last stopped
constexpr const char* kLog = "update";
}  // namespace

UpdateHandler::UpdateHandler(std::filesystem::path state_dir, std::filesystem::path config_dir,
                             std::string running_version, boost::asio::any_io_executor executor, Ack ack)
    : layout_{std::move(state_dir), {}},
      config_dir_(std::move(config_dir)),
      running_version_(std::move(running_version)),
      executor_(std::move(executor)),
      ack_(std::move(ack)) {}

UpdateHandler::~UpdateHandler() {
    stop_ = true;
    if (worker_.joinable()) worker_.join();  // a download in progress ends with its attempt's timeout at most
}

std::optional<std::pair<protocol::AckStatus, std::string>> UpdateHandler::start(
    const std::string& command_id, const protocol::UpdateCommand& cmd) {
    using protocol::AckStatus;
    if (cmd.version == running_version_)
        return std::pair{AckStatus::done, "healthy " + cmd.version + " (running already)"};
    if (busy_ || std::filesystem::exists(layout_.request()))
        return std::pair{AckStatus::rejected,
                         "another update is under way; send it again when it has finished"};
    if (worker_.joinable()) worker_.join();
    busy_ = true;
    update::Request r{command_id, cmd.version, cmd.url, cmd.sha256, cmd.size, cmd.signature};
    worker_ = std::thread([this, r] { run(r); });
    return std::nullopt;
}

// On the download thread; every ack is posted to the executor.
void UpdateHandler::run(update::Request r) {
    auto post_ack = [this](const std::string& id, protocol::AckStatus s, std::string detail, bool final) {
        boost::asio::post(executor_, [this, alive = std::weak_ptr<bool>(alive_), id, s, detail, final] {
            if (!alive.expired()) ack_(id, s, detail, final);
        });
    };
    post_ack(r.command_id, protocol::AckStatus::accepted,
             "downloading " + r.version + " (" + std::to_string(r.size) + " bytes)", false);
    update::DownloadOptions options;
    // The server's HTTPS CA when the gateway has one (pki/server-ca.crt beside its config), else the system's.
    if (const auto ca = config_dir_ / "pki" / "server-ca.crt"; std::filesystem::exists(ca))
        options.ca_file = ca.string();
    options.timeout = std::chrono::minutes(15);
    // A partial file of another release is not resumed.
    const auto owner = layout_.partial().string() + ".sha256";
    if (update::read_text(owner).value_or("") != r.sha256) {
        std::error_code rm;
        std::filesystem::remove(layout_.partial(), rm);
        (void)update::write_json_atomically(owner, r.sha256, 0644);
    }
    std::string last;
    bool got = false;
    for (int attempt = 1; attempt <= kAttempts && !stop_; ++attempt) {
        auto d = update::download(r, layout_.partial(), options);
        if (d) {
            got = true;
            break;
        }
        last = d.error().message;
        PVF_LOG(warn, kLog, "download of " << r.version << ", attempt " << attempt << ": " << last);
        if (d.error().kind == ErrorKind::rejected) break;  // the server refused: no use trying again
    }
    auto fail = [&](protocol::AckStatus s, const std::string& why) {
        post_ack(r.command_id, s, why, true);
        busy_ = false;
    };
    if (!got) return fail(protocol::AckStatus::failed, "download failed: " + last);
    auto keys_dir =
        find_data_dir("release-keys", std::nullopt, "PVFLEET_RELEASE_KEYS_DIR", "release-key folder", "");
    auto keys = keys_dir ? release::load_public_keys(*keys_dir)
                         : Result<std::vector<release::PublicKey>>(keys_dir.error());
    if (!keys) return fail(protocol::AckStatus::rejected, "no release keys: " + keys.error().message);
    if (auto v = update::verify_package(layout_.partial(), r, *keys); !v) {
        std::error_code ec;
        std::filesystem::remove(layout_.partial(), ec);  // a wrong file is not resumed
        return fail(protocol::AckStatus::rejected, "package refused: " + v.error().message);
    }
    std::error_code ec;
    std::filesystem::rename(layout_.partial(), layout_.package(), ec);
    if (ec) return fail(protocol::AckStatus::failed, "'" + layout_.package().string() + "': " + ec.message());
    // On disk before the request hands it over: the updater copies it, and copies it again after a power cut.
    if (auto d = update::make_durable(layout_.package()); !d)
        return fail(protocol::AckStatus::failed, d.error().message);
    // The request last: it starts the root updater (pvfleet-edge-update.path).
    if (auto w = update::write_json_atomically(layout_.request(), update::request_json(r), 0644); !w)
        return fail(protocol::AckStatus::failed, w.error().message);
    PVF_LOG(info, kLog, r.version << " downloaded and verified; handed to pvfleet-edge-update");
    post_ack(r.command_id, protocol::AckStatus::accepted,
             "installing " + r.version + " (was " + running_version_ + ")", false);
    busy_ = false;
}

void UpdateHandler::report_outcome() {
    if (std::error_code missing; !std::filesystem::exists(layout_.result(), missing)) return;
    const auto text = update::read_text(layout_.result());
    if (!text) return;
    const auto o = update::parse_outcome(*text);
    std::error_code ec;
    if (o && !o->command_id.empty()) {
        using protocol::AckStatus;
        const AckStatus s = o->status == "healthy"    ? AckStatus::done
                            : o->status == "rejected" ? AckStatus::rejected
                                                      : AckStatus::failed;
        const std::string detail =
            o->status == "rolled_back" || o->status == "healthy" ? o->detail : o->status + ": " + o->detail;
        PVF_LOG(info, kLog, "update " << o->version << ": " << detail);
        ack_(o->command_id, s, detail, true);
    }
    std::filesystem::rename(layout_.result(), layout_.dir() / "result.acked.json", ec);
}

void UpdateHandler::write_health(bool connected, bool polling, bool store_open, TimePoint now) {
    // Only while an update waits for it: every write wears the gateway's flash.
    if (!std::filesystem::exists(layout_.request())) return;
    (void)update::write_json_atomically(
        layout_.health(), update::health_json({running_version_, now, connected, polling, store_open}), 0644);
}

}  // namespace pvfleet::agent
