// The gateway's local page as installed: `pvfleet-edge run` with local_ui on port 0 reads an inverter from
// pvfleet-sim; a raw-socket HTTP client logs in, reads the state, is limited after failed logins, and
// acknowledges a ticket, which lands in the store and, as a ticket event, in the sync outbox.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "pvfleet/local_ui/password.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/store/gateway_store.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"
#include "page_client.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
using nlohmann::json;

using test::http;
using test::HttpReply;
using test::wait_for_job;
using test::find_after;

TEST_CASE("pvfleet-edge run: local page over HTTP (login, limits, state, ticket acknowledge, probe, scan)") {
    test::TempDir dir;
    std::ofstream(dir / "sim.json") << R"({
      "name": "local-ui-test", "latitude_deg": 47.99, "longitude_deg": 7.85, "elevation_m": 280,
      "time_zone": "Europe/Berlin", "clouds": "none", "listen": {"host": "127.0.0.1", "port": 0},
      "devices": [
        {"name": "inv1", "unit": 1, "profile": "sunspec", "ac_kw": 8.0, "phases": 3, "mppts": 2,
         "manufacturer": "pvfleet", "model": "SIM-8K", "serial": "SIM0001"}],
      "arrays": [
        {"id": "a", "device": "inv1", "mppt": 1, "dc_kwp": 4.5, "tilt_deg": 35, "azimuth_deg": 180},
        {"id": "b", "device": "inv1", "mppt": 2, "dc_kwp": 4.0, "tilt_deg": 35, "azimuth_deg": 180}]})";
    test::ChildProcess sim(
        {PVFLEET_SIM_EXE, "--site", (dir / "sim.json").string(), "--listen", "127.0.0.1:0"}, dir / "sim.log");
    const auto tcp = test::wait_for_log_line(dir / "sim.log", "listening tcp ");
    REQUIRE_MESSAGE(!tcp.empty(), test::read_file(dir / "sim.log"));
    const std::string where = tcp.substr(0, tcp.find(' '));

    // A ticket the technician will acknowledge, left by an earlier run (a device detection does not judge
    // here, so nothing else changes it meanwhile).
    const auto db_path = (dir / "edge.db").string();
    {
        auto store = store::GatewayStore::open(db_path);
        REQUIRE(store.ok());
        domain::TicketEvent opened;
        opened.kind = domain::TicketEventKind::opened;
        opened.at = SystemClock{}.now() - 1h;
        opened.ticket.id = "t-local-1";
        opened.ticket.device_id = "meter9";
        opened.ticket.kind = domain::FaultKind::inverter_fault;
        opened.ticket.severity = domain::Severity::major;
        opened.ticket.summary = "fault code 1043 (test)";
        opened.ticket.opened_at = opened.ticket.updated_at = opened.at;
        REQUIRE((*store)->record(opened).ok());
    }

    const std::string password = "sunny-roof-42";
    auto hash = local_ui::make_password_hash(password, 20'000);
    REQUIRE(hash.ok());
    auto site = json::parse(R"({
      "format": 1, "site_id": "local-ui-1", "config_version": "u1", "latitude": 47.99, "longitude": 7.85,
      "time_zone": "Europe/Berlin",
      "endpoints": [{"id": "lan", "timing": {"pause_after_connect_ms": 0}}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "profile": "auto", "ac_kw": 8}],
      "arrays": [{"inverter": "inv1", "dc_kw": 8.5, "tilt": 35, "azimuth": 180}],
      "poll": {"fast_s": 1, "slow_s": 2}, "store": {"path": "edge.db"}, "sync": {"batch_interval_s": 2}})");
    site["endpoints"][0]["tcp"] = where;
    // A broker nobody listens on: the link stays down and everything waits in the outbox.
    site["mqtt"] = {{"uri", "tcp://127.0.0.1:" + std::to_string(test::free_tcp_port())}};
    site["local_ui"] = {{"listen", "127.0.0.1"}, {"port", 0}, {"password_hash", *hash}};
    std::ofstream(dir / "site.json") << site.dump(2);

    test::ChildProcess agent({PVFLEET_EDGE_EXE, "run", "--config", (dir / "site.json").string()},
                             dir / "agent.log");
    const auto bound = find_after(dir / "agent.log", "local ui listening on 127.0.0.1:", 30s);
    REQUIRE_MESSAGE(!bound.empty(), test::read_file(dir / "agent.log"));
    const int port = std::stoi(bound);
    CHECK(port > 0);

    // The page itself needs no session; the API does.
    auto page = http(port, "GET", "/local/");
    CHECK(page.status == 200);
    CHECK(page.body.find("data-testid=\"login-password\"") != std::string::npos);
    CHECK(http(port, "GET", "/local/api/state").status == 401);
    // The transport's security headers, the same as the server's, on pages, API answers and errors.
    for (const auto& r : {page, http(port, "GET", "/local/api/state"), http(port, "GET", "/nope")}) {
        CHECK(r.headers.at("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
        CHECK(r.headers.at("content-security-policy").find("script-src 'self'") != std::string::npos);
        CHECK(r.headers.at("x-frame-options") == "DENY");
        CHECK(r.headers.at("referrer-policy") == "no-referrer");
        CHECK(r.headers.at("x-content-type-options") == "nosniff");
    }
    // At most 32 connections (docs/local-ui.md): the 33rd is turned away at once, a freed slot serves again.
    {
        std::vector<int> held;
        auto open_connection = [port] {
            const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(static_cast<uint16_t>(port));
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            timeval tv{5, 0};
            ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            return ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? fd : -1;
        };
        for (int i = 0; i < 32; ++i) held.push_back(open_connection());
        const int extra = open_connection();
        REQUIRE(extra >= 0);
        char buf[4096];
        std::string reply;
        ssize_t got = 0;
        while ((got = ::recv(extra, buf, sizeof buf, 0)) > 0) reply.append(buf, static_cast<size_t>(got));
        const bool closed_at_once = got == 0 || errno == ECONNRESET;  // not the 5-s receive timeout
        CHECK(closed_at_once);
        CHECK((reply.empty() || reply.rfind("HTTP/1.1 503", 0) == 0));
        ::close(extra);
        for (const int fd : held) ::close(fd);
        // The server notices the closes on its own time: ask until a slot is free again.
        const bool served = test::wait_until(
            [&] {
                const int fd = open_connection();
                const std::string get = "GET /local/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
                ::send(fd, get.data(), get.size(), MSG_NOSIGNAL);
                reply.clear();
                for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) reply.append(buf, static_cast<size_t>(n));
                ::close(fd);
                return reply.rfind("HTTP/1.1 200", 0) == 0;
            },
            10s, 50ms);
        CHECK(served);
    }

    auto login = http(port, "POST", "/local/api/login", json{{"password", password}}.dump());
    REQUIRE_MESSAGE(login.status == 204, login.body);
    const auto set_cookie = login.headers["set-cookie"];
    CHECK(set_cookie.find("HttpOnly") != std::string::npos);
    CHECK(set_cookie.find("SameSite=Strict") != std::string::npos);
    const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));

    // Wrong passwords: 401 five times, then 429 (the session above stays valid).
    for (int i = 0; i < 5; ++i)
        CHECK(http(port, "POST", "/local/api/login", json{{"password", "guess" + std::to_string(i)}}.dump())
                  .status == 401);
    auto limited = http(port, "POST", "/local/api/login", json{{"password", "guess5"}}.dump());
    CHECK(limited.status == 429);
    CHECK(http(port, "POST", "/local/api/login", json{{"password", password}}.dump()).status == 429);

    // State: the inverter with readings, the link down with a backlog, the open ticket.
    json state;
    test::wait_until(
        [&] {
            auto r = http(port, "GET", "/local/api/state", "", cookie);
            REQUIRE_MESSAGE(r.status == 200, r.body);
            state = json::parse(r.body);
            const auto& d = state["devices"][0];
            return d["readings"].is_object() && d["readings"]["energy_total_wh"].is_number() &&
                   d["readings"]["ac_power_w"].is_number();
        },
        60s, 100ms);
    CAPTURE(state.dump());
    CHECK(state["site_id"] == "local-ui-1");
    CHECK(state["config_version"] == "u1");
    REQUIRE(state["devices"].size() == 1);
    const auto& inv1 = state["devices"][0];
    CHECK(inv1["id"] == "inv1");
    // Answering: ok by day, asleep at night (the simulator follows the real sun at the site).
    CHECK((inv1["state"] == "ok" || inv1["state"] == "asleep"));
    CHECK(inv1["last_ok_poll"].is_string());
    CHECK(inv1["readings"]["ac_power_w"].is_number());
    CHECK(inv1["readings"]["energy_total_wh"].is_number());
    CHECK(inv1["readings"]["inverter_state"].is_string());
    CHECK(state["today"]["expected_kwh"].is_number());  // the config has arrays
    CHECK(state["today"]["devices"][0]["id"] == "inv1");
    CHECK(state["link"]["broker_connected"] == false);
    CHECK(state["link"]["backlog_depth"].get<int>() >= 1);
    REQUIRE(state["tickets"].size() == 1);
    CHECK(state["tickets"][0]["id"] == "t-local-1");
    CHECK(state["tickets"][0]["state"] == "open");

    // Acknowledge: in the store, and queued in the outbox as a ticket event.
    auto ack = http(port, "POST", "/local/api/tickets/t-local-1/acknowledge",
                    json{{"note", "checking the meter"}}.dump(), cookie);
    CHECK_MESSAGE(ack.status == 200, ack.body);
    CHECK(http(port, "POST", "/local/api/tickets/t-local-1/acknowledge", "{}", cookie).status == 409);
    CHECK(http(port, "POST", "/local/api/tickets/no-such/acknowledge", "{}", cookie).status == 404);
    {
        auto store = store::GatewayStore::open(db_path);
        REQUIRE(store.ok());
        auto t = (*store)->ticket("t-local-1");
        REQUIRE(t.ok());
        REQUIRE(t->has_value());
        CHECK((*t)->state == domain::TicketState::acknowledged);
        CHECK((*t)->acknowledge_note == "checking the meter");
        CHECK((*t)->acknowledged_by == "local page (127.0.0.1)");
        auto outbox = store::SqliteOutbox::open(db_path);
        REQUIRE(outbox.ok());
        auto rows = (*outbox)->after(0, 100000);
        REQUIRE(rows.ok());
        bool acknowledged_queued = false;
        for (const auto& row : *rows) {
            if (row.kind != store::OutboxKind::ticket_event) continue;
            auto m = protocol::decode_ticket_event(row.payload);
            REQUIRE_MESSAGE(m.ok(), m.error().message);
            if (m->event.kind == domain::TicketEventKind::acknowledged && m->event.ticket.id == "t-local-1")
                acknowledged_queued = true;
        }
        CHECK(acknowledged_queued);
    }
    state = json::parse(http(port, "GET", "/local/api/state", "", cookie).body);
    REQUIRE(state["tickets"].size() == 1);
    CHECK(state["tickets"][0]["state"] == "acknowledged");

    // Commissioning: probe the configured inverter (on its poll thread) and scan the simulator.
    auto probed =
        wait_for_job(port, cookie,
                     http(port, "POST", "/local/api/probe", json{{"device_id", "inv1"}}.dump(), cookie), 40s);
    CHECK_MESSAGE(probed["state"] == "done", probed.dump());
    CHECK(probed["result"]["device"]["serial"] == "SIM0001");
    CHECK_FALSE(probed["result"]["points"].empty());
    auto scanned = wait_for_job(port, cookie,
                                http(port, "POST", "/local/api/scan",
                                     json{{"tcp", where}, {"unit_from", 1}, {"unit_to", 3}}.dump(), cookie),
                                40s);
    CHECK_MESSAGE(scanned["state"] == "done", scanned.dump());
    REQUIRE(scanned["result"]["units"].is_array());
    REQUIRE_FALSE(scanned["result"]["units"].empty());
    CHECK(scanned["result"]["units"][0]["unit"] == 1);

    // Config: validated with key paths, nothing saved.
    const auto before = test::read_file(dir / "site.json");
    auto bad = site;
    bad["poll"]["fast_s"] = 0;
    auto validated = http(port, "POST", "/local/api/config/validate", bad.dump(), cookie);
    CHECK(validated.status == 422);
    CHECK_MESSAGE(validated.body.find("poll/fast_s: expected 1..3600, got 0") != std::string::npos,
                  validated.body);
    CHECK(http(port, "POST", "/local/api/config/validate", site.dump(), cookie).status == 200);
    CHECK(test::read_file(dir / "site.json") == before);

    // Save: installed like a set_config (the previous file kept), the agent restarts with it, and the page,
    // whose local_ui did not change, keeps serving on the same port with the same session.
    auto next = site;
    next["config_version"] = "u2";
    auto saved = http(port, "POST", "/local/api/config/save", next.dump(), cookie);
    CHECK_MESSAGE(saved.status == 202, saved.body);
    const bool restarted = test::wait_until(
        [&] {
            auto r = http(port, "GET", "/local/api/state", "", cookie);
            return r.status == 200 && json::parse(r.body)["config_version"] == "u2";
        },
        60s, 100ms);
    CHECK_MESSAGE(restarted, test::read_file(dir / "agent.log"));
    CHECK(test::read_file(dir / "site.json.prev") == before);
    CHECK(test::read_file(dir / "site.json").find("\"u2\"") != std::string::npos);

    agent.signal(SIGTERM);
    auto status = agent.wait(5s);
    REQUIRE(status.has_value());
    CHECK(*status == 0);
}
