#pragma once
// A throwaway PostgreSQL 15 cluster for tests, from Debian's postgresql-15 package: initdb in a temp folder,
// listening on a free loopback port only, stopped and removed when the object goes. As root, the server runs
// as the `postgres` system user (PostgreSQL refuses to run as root).
#include <filesystem>
#include <string>

namespace pvfleet::test {

class PostgresCluster {
public:
    enum class Durability {
        throwaway,  // fsync off: tests
        durable,    // fsync and full-page writes on, sized for heavy writes: benchmarks
    };
    explicit PostgresCluster(Durability durability = Durability::throwaway);
    ~PostgresCluster();
    PostgresCluster(const PostgresCluster&) = delete;
    PostgresCluster& operator=(const PostgresCluster&) = delete;

    // False (with why()) when PostgreSQL is not installed or did not start.
    [[nodiscard]] bool ok() const { return ok_; }
    [[nodiscard]] const std::string& why() const { return why_; }
    [[nodiscard]] int port() const { return port_; }
    // Creates a fresh database and returns its libpq URI.
    std::string create_database(const std::string& name);
    // The folder of the PostgreSQL programs (initdb, pg_dump, pg_restore …), empty when not installed.
    static std::filesystem::path bin_dir();

private:
    std::string run_as_owner(
        const std::string& command) const;  // shell command; returns "" on success, else output
    std::filesystem::path dir_;
    int port_ = 0;
    bool ok_ = false;
    bool as_postgres_user_ = false;
    std::string why_;
};

}  // namespace pvfleet::test
