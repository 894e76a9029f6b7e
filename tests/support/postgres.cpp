#include "support/postgres.hpp"

#include <unistd.h>

#include <array>
#include <cstdio>
#include <random>

#include "support/process.hpp"

namespace pvfleet::test {
namespace {

std::filesystem::path pg_bin() {
    for (const char* v : {"17", "16", "15"}) {
        std::filesystem::path p = std::string("/usr/lib/postgresql/") + v + "/bin";
        if (std::filesystem::exists(p / "initdb")) return p;
    }
    return {};
}

std::string shell_output(const std::string& command, int& status) {
    std::string out;
    FILE* f = ::popen((command + " 2>&1").c_str(), "r");
    if (f == nullptr) {
        status = -1;
        return "popen failed";
    }
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), f) != nullptr) out += buf.data();
    status = ::pclose(f);
    return out;
}

}  // namespace

std::string PostgresCluster::run_as_owner(const std::string& command) const {
    const std::string full = as_postgres_user_ ? "runuser -u postgres -- sh -c '" + command + "'" : command;
    int status = 0;
    auto out = shell_output(full, status);
    return status == 0 ? std::string() : (out.empty() ? "exit " + std::to_string(status) : out);
}

PostgresCluster::PostgresCluster(Durability durability) {
    const auto bin = pg_bin();
    if (bin.empty()) {
        why_ = "PostgreSQL server not installed (postgresql-15)";
        return;
    }
    std::random_device rd;
    dir_ = std::filesystem::path("/tmp") / ("pvfleet-pg-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    as_postgres_user_ = ::geteuid() == 0;
    if (as_postgres_user_) {
        int status = 0;
        (void)shell_output("chown postgres " + dir_.string(), status);
    }
    port_ = free_tcp_port();
    const std::string data = (dir_ / "data").string();
    if (auto e =
            run_as_owner(bin.string() + "/initdb -D " + data + " -U pvfleet --auth=trust -E UTF8 --no-sync");
        !e.empty()) {
        why_ = "initdb: " + e;
        return;
    }
    // Loopback only, sockets in our folder, enough connections for two instances. Tests: no fsync (throwaway
    // data). Benchmarks: the durable settings docs/server.md recommends for a fleet server.
    const std::string opts =
        "-c listen_addresses=127.0.0.1 -c port=" + std::to_string(port_) +
        " -c unix_socket_directories=" + dir_.string() + " -c max_connections=60" +
        (durability == Durability::throwaway
             ? " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
             : " -c shared_buffers=256MB -c max_wal_size=4GB -c checkpoint_timeout=15min -c wal_compression=lz4");
    if (auto e = run_as_owner(bin.string() + "/pg_ctl -D " + data + " -l " + (dir_ / "log").string() +
                              " -w -t 30 -o \"" + opts + "\" start");
        !e.empty()) {
        why_ = "pg_ctl start: " + e;
        return;
    }
    ok_ = true;
}

std::filesystem::path PostgresCluster::bin_dir() { return pg_bin(); }

PostgresCluster::~PostgresCluster() {
    if (ok_)
        (void)run_as_owner(pg_bin().string() + "/pg_ctl -D " + (dir_ / "data").string() +
                           " -m immediate -w stop");
    std::error_code ec;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

std::string PostgresCluster::create_database(const std::string& name) {
    const std::string base = "postgresql://pvfleet@127.0.0.1:" + std::to_string(port_);
    if (auto e = run_as_owner(pg_bin().string() + "/createdb -h 127.0.0.1 -p " + std::to_string(port_) +
                              " -U pvfleet " + name);
        !e.empty())
        why_ = "createdb: " + e;
    return base + "/" + name;
}

}  // namespace pvfleet::test
