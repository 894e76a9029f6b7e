// pvfleet-server as a service: check-config (exit 0 with the effective config, or 1 with every error naming its
// key and the file), migrate (exit 0, or 1 naming the database), and the systemd notify protocol (READY=1,
// WATCHDOG=1, RELOADING=1 on SIGHUP, STOPPING=1) and journal format, as systemd would see them.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <nlohmann/json.hpp>

#include "server_fixture.hpp"
#include "support/paths.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace pvfleet::itest;
namespace fs = std::filesystem;

TEST_CASE("check-config: the effective config and exit 0, or every error with its key and exit 1") {
    test::TempDir temp;
    make_certificate(temp / "cert.pem", temp / "key.pem", "checked");
    make_certificate(temp / "other-cert.pem", temp / "other-key.pem", "other");
    const fs::path config = temp / "server.json";
    const auto check = [&](const std::string& text, const std::string& name) {
        write_file(config, text);
        return run_server_verb(temp.path(), {"check-config", "--config", config.string()}, name);
    };

    const auto good = check(R"({"database": {"kind": "sqlite", "path": "server.db"},
        "http": {"listen": "0.0.0.0", "port": 8443, "tls": {"cert_file": "cert.pem", "key_file": "key.pem"}}})",
                            "good");
    REQUIRE_MESSAGE(good.status == 0, good.output);
    const auto effective = nlohmann::json::parse(good.output);
    CHECK(effective["http"]["port"] == 8443);
    CHECK(effective["http"]["served_over_tls"] == true);
    CHECK(effective["http"]["tls"]["cert_file"] == (temp / "cert.pem").string());
    CHECK(effective["http"]["tls"]["certificate"].get<std::string>().rfind("CN=checked, serial ", 0) == 0);
    CHECK_FALSE(fs::exists(temp / "server.db"));  // the database is not opened

    // A key file every user may read: still valid, with a warning naming the key.
    fs::permissions(temp / "key.pem", fs::perms::others_read, fs::perm_options::add);
    const auto readable = run_server_verb(temp.path(), {"check-config", "--config", config.string()}, "readable");
    CHECK(readable.status == 0);
    CHECK_MESSAGE(readable.output.find("http/tls/key_file: '" + (temp / "key.pem").string() +
                                       "' is readable by every user") != std::string::npos,
                  readable.output);
    fs::permissions(temp / "key.pem", fs::perms::others_read, fs::perm_options::remove);

    // The run --check-config spelling does the same.
    const auto flag = run_server_verb(temp.path(), {"run", "--check-config", "--config", config.string()}, "flag");
    CHECK(flag.status == 0);

    const auto schema = check(R"({"database": {"kind": "mysql"}, "http": {"port": 70000, "tls": {}}})", "schema");
    CHECK(schema.status == 1);
    for (const char* e : {"database/kind: unknown 'mysql'", "http/port: expected an integer in 0..65535",
                          "http/tls/cert_file: required", "http/tls/key_file: required"})
        CHECK_MESSAGE(schema.output.find(config.string() + ": " + e) != std::string::npos, schema.output);

    const auto mismatch = check(R"({"database": {"kind": "sqlite", "path": "server.db"},
        "http": {"tls": {"cert_file": "cert.pem", "key_file": "other-key.pem"}}})",
                                "mismatch");
    CHECK(mismatch.status == 1);
    CHECK_MESSAGE(mismatch.output.find(config.string() + ": http/tls/key_file: '" + (temp / "other-key.pem").string() +
                                       "' is not the key of the certificate in '" + (temp / "cert.pem").string() +
                                       "'") != std::string::npos,
                  mismatch.output);

    const auto missing = check(R"({"database": {"kind": "sqlite", "path": "no-such-dir/server.db"},
        "secret_key_file": "absent.key", "web_root": "no-web",
        "http": {"tls": {"cert_file": "absent.pem", "key_file": "key.pem", "chain_file": "cert.pem"}}})",
                               "missing");
    CHECK(missing.status == 1);
    for (const std::string& e :
         {"http/tls/cert_file: cannot read '" + (temp / "absent.pem").string() + "'",
          "secret_key_file: cannot read '" + (temp / "absent.key").string() + "'",
          "database/path: folder '" + (temp / "no-such-dir").string() + "' does not exist", std::string("web_root")})
        CHECK_MESSAGE(missing.output.find(config.string() + ": " + e) != std::string::npos, missing.output);
}

TEST_CASE("migrate: brings a new database up to date and exits 0; an unusable database exits 1") {
    test::TempDir temp;
    write_file(temp / "server.json", R"({"database": {"kind": "sqlite", "path": "server.db"}})");
    const auto first = run_server_verb(temp.path(), {"migrate", "--config", (temp / "server.json").string()}, "m1");
    REQUIRE_MESSAGE(first.status == 0, first.output);
    CHECK(first.output.find("migration(s) applied") != std::string::npos);
    CHECK(fs::exists(temp / "server.db"));
    const auto again = run_server_verb(temp.path(), {"migrate", "--config", (temp / "server.json").string()}, "m2");
    CHECK(again.status == 0);
    CHECK(again.output.find("migration(s) applied") == std::string::npos);  // nothing left to apply

    write_file(temp / "bad.json", R"({"database": {"kind": "sqlite", "path": "no-such-dir/server.db"}})");
    const auto bad = run_server_verb(temp.path(), {"migrate", "--config", (temp / "bad.json").string()}, "m3");
    CHECK(bad.status == 1);
    write_file(temp / "invalid.json", R"({"database": {"kind": "sqlite"}})");
    const auto invalid = run_server_verb(temp.path(), {"migrate", "--config", (temp / "invalid.json").string()}, "m4");
    CHECK(invalid.status == 2);
    CHECK(invalid.output.find("database/path: required") != std::string::npos);
}

namespace {

// A datagram socket where the server's notifications arrive, as systemd's $NOTIFY_SOCKET.
class NotifySocket {
public:
    explicit NotifySocket(const fs::path& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        REQUIRE(path.string().size() < sizeof addr.sun_path);
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
        timeval tv{0, 100 * 1000};
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    }
    ~NotifySocket() { ::close(fd_); }
    NotifySocket(const NotifySocket&) = delete;
    NotifySocket& operator=(const NotifySocket&) = delete;

    // Collects datagrams until one equals `state` (true) or the timeout passes.
    bool wait_for(const std::string& state, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
        return test::wait_until(
            [&] {
                char buf[256];
                for (;;) {
                    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
                    if (n <= 0) break;
                    received.emplace_back(buf, static_cast<std::size_t>(n));
                }
                for (const auto& r : received)
                    if (r == state) return true;
                return false;
            },
            timeout, std::chrono::milliseconds(10));
    }
    std::vector<std::string> received;

private:
    fs::path path_;
    int fd_ = -1;
};

}  // namespace

TEST_CASE("systemd: READY=1, watchdog pings, RELOADING=1 on SIGHUP, STOPPING=1; journal priority prefixes") {
    test::TempDir temp;
    make_certificate(temp / "cert.pem", temp / "key.pem", "svc");
    write_file(temp / "server.json", R"({"database": {"kind": "sqlite", "path": "server.db"},
        "http": {"port": 0, "tls": {"cert_file": "cert.pem", "key_file": "key.pem"}}})");
    NotifySocket notify(temp / "notify.sock");
    // stderr is "the journal": JOURNAL_STREAM names the log file's device and inode.
    const fs::path log = temp / "run.log";
    write_file(log, "");
    struct stat st {};
    REQUIRE(::stat(log.c_str(), &st) == 0);
    RunningServer server(temp / "server.json", log,
                         {"NOTIFY_SOCKET=" + (temp / "notify.sock").string(), "WATCHDOG_USEC=400000",
                          "JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino)});
    REQUIRE_MESSAGE(server.start(), server.log());
    CHECK(notify.wait_for("READY=1"));
    CHECK(notify.wait_for("WATCHDOG=1"));
    notify.received.clear();
    CHECK(notify.wait_for("WATCHDOG=1"));  // again: pings keep coming (every 200 ms here)
    server.process().signal(SIGHUP);
    CHECK(notify.wait_for("RELOADING=1"));
    CHECK(notify.wait_for("READY=1"));
    CHECK(server.process().stop() == 0);
    CHECK(notify.wait_for("STOPPING=1", std::chrono::seconds(2)));

    const std::string text = server.log();
    CHECK_MESSAGE(text.find("<6>info  [server] http listening on") != std::string::npos, text);
    CHECK(text.find("<6>info  [server] SIGHUP: TLS certificate reloaded: CN=svc") != std::string::npos);
    CHECK(text.find("Z info ") == std::string::npos);  // no timestamps of our own
}
