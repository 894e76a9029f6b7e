#include "support/server_process.hpp"

#include <csignal>
#include <fstream>
#include <thread>

#include "support/paths.hpp"
#include "support/wait.hpp"

namespace pvfleet::itest {

ServerProcess::ServerProcess(std::filesystem::path dir, ServerProcessOptions options)
    : dir_(std::move(dir)), db_path_(dir_ / "server.db"), options_(std::move(options)) {
    std::filesystem::create_directories(dir_);
    std::ofstream conf(dir_ / "server.json");
    conf << "{\"database\": "
         << (options_.postgres_uri.empty()
                 ? "{\"kind\": \"sqlite\", \"path\": \"server.db\"}"
                 : "{\"kind\": \"postgres\", \"uri\": \"" + options_.postgres_uri + "\"}")
         << ", \"mqtt\": {\"uri\": \"" << options_.broker_uri << "\", \"client_id\": \"" << options_.client_id
         << "\""
         << (options_.shared_group.empty() ? "" : ", \"shared_group\": \"" + options_.shared_group + "\"")
         << "}"
         << ", \"ingest\": {\"gap_grace_s\": " << options_.gap_grace_s
         << ", \"gap_retry_s\": " << options_.gap_retry_s
         << ", \"gap_max_attempts\": " << options_.gap_max_attempts << "}, \"http\": {\"port\": 0}"
         << (options_.secret_key_file.empty() ? "" : ", \"secret_key_file\": \"" + options_.secret_key_file + "\"")
         << "}\n";
}

ServerProcess::~ServerProcess() {
    db_.reset();
    if (proc_) proc_->stop();
}

bool ServerProcess::start() {
    ++starts_;
    const auto log_path = dir_ / ("server-" + std::to_string(starts_) + ".log");
    proc_ = std::make_unique<test::ChildProcess>(
        std::vector<std::string>{PVFLEET_SERVER_BIN, "run", "--config", (dir_ / "server.json").string()},
        log_path);
    // "connected to" is logged by the ingest once the broker accepted the session.
    const auto connected = [&] {
        return std::filesystem::exists(log_path) && test::read_file(log_path).find("connected to") != std::string::npos;
    };
    test::wait_until([&] { return connected() || !proc_->running(); }, std::chrono::seconds(20));
    return connected();
}

void ServerProcess::kill() {
    if (!proc_) return;
    proc_->signal(SIGKILL);
    proc_->wait(std::chrono::seconds(5));
    proc_.reset();
}

int ServerProcess::stop() {
    if (!proc_) return -1;
    const int status = proc_->stop(std::chrono::seconds(5));
    proc_.reset();
    return status;
}

bool ServerProcess::running() {
    return proc_ && proc_->running();
}

std::string ServerProcess::log() const {
    std::string all;
    for (int i = 1; i <= starts_; ++i) {
        const auto p = dir_ / ("server-" + std::to_string(i) + ".log");
        if (std::filesystem::exists(p)) all += test::read_file(p);
    }
    return all;
}

long long ServerProcess::scalar(const std::string& sql, const storage::Params& params) {
    if (!db_) {
        storage::DbOptions o;
        o.sqlite_path = db_path_.string();
        if (!options_.postgres_uri.empty()) {
            o.engine = storage::Engine::postgres;
            o.postgres_uri = options_.postgres_uri;
        }
        auto db = storage::open_db(o);
        if (!db) return -1;
        db_ = std::move(*db);
    }
    auto r = db_->run(sql, params);
    if (!r) return -1;
    return r->rows.empty() ? 0 : r->rows[0].integer(0);
}

}  // namespace pvfleet::itest
