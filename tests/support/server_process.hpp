#pragma once
// A pvfleet-server child process with its own config and SQLite file, and read-only queries on that file.
#include <filesystem>
#include <memory>
#include <string>

#include "pvfleet/storage/db.hpp"
#include "support/process.hpp"

namespace pvfleet::itest {

struct ServerProcessOptions {
    std::string broker_uri;
    std::string client_id = "pvfleet-server-test";
    std::string shared_group;
    int gap_grace_s = 1;
    int gap_retry_s = 2;
    int gap_max_attempts = 20;
    std::string postgres_uri;  // non-empty: use this PostgreSQL database instead of a SQLite file
    std::string secret_key_file;  // non-empty: the personal-data key (instances on one database share it)
};

class ServerProcess {
public:
    ServerProcess(std::filesystem::path dir, ServerProcessOptions options);
    ~ServerProcess();
    // Starts and waits until it is connected to the broker; false on timeout.
    bool start();
    void kill();  // SIGKILL
    int stop();   // SIGTERM, returns the exit status
    [[nodiscard]] bool running();
    [[nodiscard]] std::string log() const;
    [[nodiscard]] const std::filesystem::path& db_path() const { return db_path_; }
    // One integer from a query on the server's database (0 if no row).
    long long scalar(const std::string& sql, const storage::Params& params = {});

private:
    std::filesystem::path dir_;
    std::filesystem::path db_path_;
    ServerProcessOptions options_;
    std::unique_ptr<test::ChildProcess> proc_;
    std::unique_ptr<storage::Db> db_;
    int starts_ = 0;
};

}  // namespace pvfleet::itest
