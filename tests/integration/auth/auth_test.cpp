// Login over the real API: an instance is the server's API as pvfleet-server wires it (its own SQLite
// connection, the router, the HTTP listener on loopback, the worker pool); a restart is a new instance on the
// same database file. Cases that need peers at several addresses go through Router::handle with
// Request::remote set, as the transport sets it.
#include <doctest/doctest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdlib>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "pvfleet/api/api.hpp"
#include "pvfleet/http/server.hpp"
#include "pvfleet/http/work_pool.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/server_app/config.hpp"
#include "pvfleet/storage/store.hpp"
#include "support/http_client.hpp"
#include "support/paths.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using nlohmann::json;
namespace asio = boost::asio;

namespace {

// Hashing at the production cost would make each login take a tenth of a second.
const bool kFastKdf = [] {
    ::setenv("PVFLEET_KDF_ITERATIONS", "1000", 1);
    return true;
}();

constexpr const char* kPassword = "correct horse battery";

struct InstanceOptions {
    bool served_over_tls = false;
    http::WorkPool* pool = nullptr;
    api::LoginLimits limits;
};

// One server instance on a SQLite file: migrated, with users alice and bob the first time.
class Instance {
public:
    Instance(const std::filesystem::path& db_path, InstanceOptions options) : store_(open(db_path), clock_) {
        auto m = store_.migrate();
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
        for (const char* name : {"alice", "bob"}) {
            auto existing = records::find_login(store_.db(), name);
            REQUIRE(existing.ok());
            if (!existing->user)
                REQUIRE(records::create_user(store_.db(), name, "", records::Role::technician, kPassword,
                                             "test", clock_.now())
                            .ok());
        }
        ctx_.db = &store_.db();
        ctx_.clock = &clock_;
        ctx_.work_pool = options.pool;
        ctx_.served_over_tls = options.served_over_tls;
        ctx_.login_limits = options.limits;
        api::add_routes(router_, ctx_);
    }
    ~Instance() {
        if (thread_.joinable()) {
            asio::post(io_, [this] {
                http_->stop();
                io_.stop();
            });
            thread_.join();
        }
    }
    Instance(const Instance&) = delete;
    Instance& operator=(const Instance&) = delete;

    // Listens on a free loopback port; requests are served on a thread of their own, as in pvfleet-server.
    int serve() {
        http::HttpServerOptions o;
        o.port = 0;
        auto server = http::HttpServer::create(io_.get_executor(), o,
                                               [this](http::Request& r) { return router_.handle_async(r); });
        REQUIRE(server.ok());
        http_ = std::move(*server);
        http_->start();
        thread_ = std::thread([this] { io_.run(); });
        return http_->port();
    }

    // Without sockets: a request from `remote`.
    http::Response call(const std::string& method, const std::string& path, const std::string& remote,
                        const std::string& body = {}, std::map<std::string, std::string> headers = {}) {
        http::Request r;
        r.method = method;
        r.target = path;
        r.path = path;
        r.remote = remote;
        r.body = body;
        r.headers = std::move(headers);
        if (!body.empty()) r.headers.emplace("content-type", "application/json");
        return router_.handle(r);
    }
    http::Response login(const std::string& remote, const std::string& user, const std::string& password) {
        return call("POST", "/api/login", remote, json{{"user", user}, {"password", password}}.dump());
    }

    api::LoginLimiter& limiter() { return *ctx_.login_limiter; }
    storage::Db& db() { return store_.db(); }

private:
    static std::unique_ptr<storage::Db> open(const std::filesystem::path& path) {
        storage::DbOptions o;
        o.sqlite_path = path.string();
        auto db = storage::open_db(o);
        REQUIRE_MESSAGE(db.ok(), (db.ok() ? "" : db.error().message));
        return std::move(*db);
    }

    SystemClock clock_;
    storage::Store store_;
    api::ApiContext ctx_;
    api::Router router_;
    asio::io_context io_;
    std::unique_ptr<http::HttpServer> http_;
    std::thread thread_;
};

test::HttpResponse http_login(int port, const std::string& user, const std::string& password,
                              std::map<std::string, std::string> headers = {}) {
    headers.emplace("Content-Type", "application/json");
    return test::http_request("127.0.0.1", port, "POST", "/api/login",
                              json{{"user", user}, {"password", password}}.dump(), headers);
}

json parse(const std::string& body) {
    try {
        return json::parse(body);
    } catch (const std::exception&) {
        return json();
    }
}

}  // namespace

TEST_CASE("login: a user name over 128 bytes is refused (400, field user) before it is counted anywhere") {
    test::TempDir dir;
    Instance server(dir / "server.db", {});
    const std::string huge(1024 * 1024, 'a');
    for (int i = 0; i < 20; ++i) {
        const auto r = server.login("192.0.2.1", huge + std::to_string(i), "wrong password");
        REQUIRE(r.status == 400);
        CHECK(parse(r.body)["field"] == "user");
    }
    CHECK(server.limiter().entries() == 0);
    CHECK(server.login("192.0.2.1", std::string(129, 'a'), "wrong password").status == 400);
    CHECK(server.login("192.0.2.1", std::string(128, 'a'), "wrong password").status == 401);
    const auto long_password = server.login("192.0.2.1", "alice", std::string(1025, 'p'));
    CHECK(long_password.status == 400);
    CHECK(parse(long_password.body)["field"] == "password");
}

TEST_CASE("login: the failure tables keep a fixed maximum of entries, whatever names and addresses arrive") {
    test::TempDir dir;
    InstanceOptions o;
    o.limits.max_entries = 100;
    Instance server(dir / "server.db", o);
    for (int i = 0; i < 1000; ++i) {
        const auto r = server.login("198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                                    std::string(120, 'n') + std::to_string(i), "wrong password");
        REQUIRE(r.status == 401);
    }
    CHECK(server.limiter().entries() <= 200);
    // Unknown names leave nothing in the database.
    auto rows = server.db().run("SELECT COUNT(*) FROM login_failures");
    REQUIRE(rows.ok());
    CHECK(rows->rows[0].integer(0) == 0);
}

TEST_CASE("login: failures count per account across addresses, then 429 with Retry-After") {
    test::TempDir dir;
    Instance server(dir / "server.db", {});
    for (int i = 0; i < 5; ++i)
        CHECK(server.login(i % 2 == 0 ? "192.0.2.1" : "192.0.2.2", "alice", "wrong password").status == 401);
    // A third address, even with the right password, waits.
    const auto locked = server.login("192.0.2.3", "alice", kPassword);
    CHECK(locked.status == 429);
    const int retry_after =
        std::stoi(locked.headers.count("Retry-After") ? locked.headers.at("Retry-After") : "0");
    CHECK(retry_after > 0);
    CHECK(retry_after <= 300);
    // Other accounts are not affected.
    CHECK(server.login("192.0.2.3", "bob", kPassword).status == 200);
    // An unknown name is limited the same way (no hint that it does not exist).
    for (int i = 0; i < 5; ++i)
        CHECK(server.login("192.0.2." + std::to_string(10 + i), "nobody", "wrong password").status == 401);
    CHECK(server.login("192.0.2.20", "nobody", "wrong password").status == 429);
}

TEST_CASE("login: failures count per address across accounts") {
    test::TempDir dir;
    Instance server(dir / "server.db", {});
    for (int i = 0; i < 20; ++i)
        CHECK(server.login("203.0.113.9", "guess" + std::to_string(i), "wrong password").status == 401);
    CHECK(server.login("203.0.113.9", "bob", kPassword).status == 429);
    CHECK(server.login("203.0.113.10", "bob", kPassword).status == 200);
}

TEST_CASE("login: a success forgets the account's failures") {
    test::TempDir dir;
    Instance server(dir / "server.db", {});
    for (int i = 0; i < 4; ++i) CHECK(server.login("192.0.2.1", "alice", "wrong password").status == 401);
    CHECK(server.login("192.0.2.1", "alice", kPassword).status == 200);
    for (int i = 0; i < 4; ++i) CHECK(server.login("192.0.2.2", "alice", "wrong password").status == 401);
    CHECK(server.login("192.0.2.2", "alice", kPassword).status == 200);
}

TEST_CASE("login: an account's lockout survives a restart of the server") {
    test::TempDir dir;
    {
        Instance first(dir / "server.db", {});
        const int port = first.serve();
        for (int i = 0; i < 5; ++i) CHECK(http_login(port, "alice", "wrong password").status == 401);
        CHECK(http_login(port, "alice", kPassword).status == 429);
    }
    Instance second(dir / "server.db", {});
    const int port = second.serve();
    const auto r = http_login(port, "alice", kPassword);
    CHECK(r.status == 429);
    CHECK_FALSE(r.header("retry-after").empty());
    CHECK(http_login(port, "bob", kPassword).status == 200);
}

TEST_CASE("session cookie: only the exact cookie name is accepted") {
    test::TempDir dir;
    Instance server(dir / "server.db", {});
    const auto login = server.login("192.0.2.1", "alice", kPassword);
    REQUIRE(login.status == 200);
    const std::string token = parse(login.body)["token"];
    auto me = [&](const std::string& cookie) {
        return server.call("GET", "/api/me", "192.0.2.1", {}, {{"cookie", cookie}}).status;
    };
    CHECK(me("pvfleet_session=" + token) == 200);
    CHECK(me("theme=dark; pvfleet_session=" + token + "; lang=de") == 200);
    CHECK(me("notpvfleet_session=" + token) == 401);
    CHECK(me("xpvfleet_session=" + token) == 401);
    CHECK(me("xpvfleet_session=; other=" + token) == 401);
    CHECK(me("pvfleet_session2=" + token) == 401);
}

TEST_CASE("https public URL: the session cookie is Secure and every response carries HSTS") {
    test::TempDir dir;
    SUBCASE("served over TLS") {
        InstanceOptions o;
        o.served_over_tls = true;
        Instance server(dir / "server.db", o);
        const int port = server.serve();
        const auto r = http_login(port, "alice", kPassword);
        REQUIRE(r.status == 200);
        CHECK(r.header("set-cookie").find("; Secure") != std::string::npos);
        CHECK(r.header("strict-transport-security") == "max-age=31536000");
        CHECK(
            test::http_request("127.0.0.1", port, "GET", "/api/health").header("strict-transport-security") ==
            "max-age=31536000");
        CHECK(test::http_request("127.0.0.1", port, "GET", "/api/nothing")
                  .header("strict-transport-security") == "max-age=31536000");
        const std::string token = parse(r.body)["token"];
        const auto out =
            test::http_request("127.0.0.1", port, "POST", "/api/logout", {},
                               {{"Authorization", "Bearer " + token}, {"Content-Type", "application/json"}});
        CHECK(out.header("set-cookie").find("; Secure") != std::string::npos);
    }
    SUBCASE("plain HTTP") {
        Instance server(dir / "server.db", {});
        const int port = server.serve();
        const auto r = http_login(port, "alice", kPassword);
        REQUIRE(r.status == 200);
        CHECK(r.header("set-cookie").find("Secure") == std::string::npos);
        CHECK(r.header("strict-transport-security").empty());
    }
}

TEST_CASE("password checks run on the bounded worker pool: other requests go on, a full pool answers 503") {
    test::TempDir dir;
    http::WorkPool pool({1, 1});
    InstanceOptions o;
    o.pool = &pool;
    Instance server(dir / "server.db", o);
    const int port = server.serve();
    CHECK(http_login(port, "alice", kPassword).status == 200);  // through the pool, end to end

    // Occupy the only worker until the test lets go.
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    asio::io_context side;
    asio::co_spawn(
        side,
        [&]() -> asio::awaitable<void> {
            auto job = [released] {
                released.wait();
                return true;
            };
            (void)co_await pool.run(std::move(job));
        },
        asio::detached);
    std::thread side_thread([&] { side.run(); });
    auto wait_in_flight = [&](std::size_t n) {
        return test::wait_until([&] { return pool.in_flight() == n; }, 5s, 1ms);
    };
    REQUIRE(wait_in_flight(1));
    // A login waits in the queue for the worker...
    auto waiting = std::async(std::launch::async, [&] { return http_login(port, "alice", kPassword); });
    REQUIRE(wait_in_flight(2));
    // ...while the thread serving requests answers others.
    CHECK(test::http_request("127.0.0.1", port, "GET", "/api/health").status == 200);
    // The queue is full: refused at once, and not counted as a failed login.
    const auto refused = http_login(port, "bob", "wrong password");
    CHECK(refused.status == 503);
    CHECK(refused.header("retry-after") == "1");
    CHECK(refused.header("content-type") == "application/problem+json");

    release.set_value();
    CHECK(waiting.get().status == 200);
    side_thread.join();
    for (int i = 0; i < 5; ++i) CHECK(http_login(port, "bob", "wrong password").status == 401);
    CHECK(http_login(port, "bob", kPassword).status == 429);  // five failures, the refused one not among them
}

TEST_CASE("config: http/public_url, http/worker_threads, http/worker_queue") {
    auto parse_http = [](const json& http) {
        return server_app::parse_server_config(
            json{{"database", {{"kind", "sqlite"}, {"path", "x.db"}}}, {"http", http}}, "/tmp");
    };
    auto https = parse_http({{"public_url", "https://pv.example.com"}});
    REQUIRE(https.ok());
    CHECK(https->http.served_over_tls());
    auto plain = parse_http({{"public_url", "http://10.0.0.5:8080/pv"}});
    REQUIRE(plain.ok());
    CHECK_FALSE(plain->http.served_over_tls());
    auto none = parse_http(json::object());
    REQUIRE(none.ok());
    CHECK_FALSE(none->http.served_over_tls());
    CHECK(none->http.worker_threads == 2);
    CHECK(parse_http({{"public_url", "https://[::1]:8443"}}).ok());
    for (const char* bad :
         {"ftp://pv.example.com", "pv.example.com", "https://", "https://a b", "https://x?y=1",
          "https://user:pw@x", "https://x:0", "https://x:99999", "HTTPS://x"}) {
        auto r = parse_http({{"public_url", bad}});
        REQUIRE_MESSAGE(!r.ok(), bad);
        CHECK(r.error().message.find("http/public_url") != std::string::npos);
    }
    auto threads = parse_http({{"worker_threads", 0}});
    REQUIRE_FALSE(threads.ok());
    CHECK(threads.error().message.find("http/worker_threads") != std::string::npos);
    auto proxies = parse_http({{"trusted_proxies", {"127.0.0.1", "::1"}}});
    REQUIRE(proxies.ok());
    CHECK(proxies->http.trusted_proxies == std::vector<std::string>{"127.0.0.1", "::1"});
    auto bad_proxy = parse_http({{"trusted_proxies", {"127.0.0.1", "proxy.local"}}});
    REQUIRE_FALSE(bad_proxy.ok());
    CHECK(bad_proxy.error().message.find("http/trusted_proxies/1: expected an IP address") != std::string::npos);
    auto queue = parse_http({{"worker_threads", 4}, {"worker_queue", 8}});
    REQUIRE(queue.ok());
    CHECK(queue->http.worker_threads == 4);
    CHECK(queue->http.worker_queue == 8);
}
