// The local page's routes without sockets: LocalUi::handle() over a fake agent (LocalUiBackend).
#include "pvfleet/local_ui/local_ui.hpp"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "pvfleet/agent/site_config.hpp"
#include "pvfleet/local_ui/password.hpp"

using namespace pvfleet;
using namespace pvfleet::local_ui;
using nlohmann::json;

namespace {

// Cheap iterations: the tests check the logic, not the cost.
const std::string kHash = *make_password_hash("correct horse", 1000);

struct FakeBackend final : LocalUiBackend {
    std::vector<std::string> calls;
    JsonDone pending_scan;
    JsonDone pending_probe;
    ScanRequest last_scan;
    ProbeRequest last_probe;
    std::string saved;

    Result<json> state() override {
        return json{{"site_id", "s1"}, {"devices", json::array({{{"id", "inv1"}, {"state", "ok"}}})}};
    }
    Result<json> acknowledge(const std::string& id, const std::string& by, const std::string& note) override {
        calls.push_back("ack " + id + " by " + by + ": " + note);
        if (id != "t-1") return Error{"no open ticket '" + id + "'", ErrorKind::not_found};
        return json{{"id", id}, {"state", "acknowledged"}};
    }
    Result<json> resolve(const std::string& id, const std::string& by, const std::string&) override {
        calls.push_back("resolve " + id + " by " + by);
        if (id == "t-2") return Error{"ticket 't-2' is closed", ErrorKind::conflict};
        return json{{"id", id}, {"state", "resolved"}};
    }
    void scan(const ScanRequest& r, JsonDone done) override {
        last_scan = r;
        pending_scan = std::move(done);
    }
    void probe(const ProbeRequest& r, JsonDone done) override {
        last_probe = r;
        if (r.device_id == "nope") return done(Error{"no device 'nope'", ErrorKind::not_found});
        pending_probe = std::move(done);
    }
    Result<std::string> config_text() override { return std::string(R"({"site_id": "s1"})"); }
    Status validate_config(std::string_view text) override {
        if (text.find("bad") != std::string_view::npos)
            return Error{"poll/fast_s: expected 1..3600, got 0\ninverters/0/unit: expected 0..247, got 300"};
        return {};
    }
    Result<std::string> save_config(std::string_view text) override {
        if (auto s = validate_config(text); !s) return s.error();
        saved = std::string(text);
        return std::string("v2");
    }
    EnrollPageRequest last_enroll;
    JsonDone pending_enroll;
    void enroll(const EnrollPageRequest& r, JsonDone done) override {
        last_enroll = r;
        pending_enroll = std::move(done);
    }
};

struct Fixture {
    FakeBackend backend;
    ManualClock clock{from_epoch_ms(1'750'000'000'000)};
    LocalUi ui{backend, LocalUiOptions{*parse_password_hash(kHash)}, clock};
    std::string cookie;

    Response call(const std::string& method, const std::string& target, const std::string& body = "",
                  const std::string& remote = "192.168.1.50", bool json_type = true) {
        Request r;
        r.method = method;
        r.target = target;
        r.body = body;
        r.remote = remote;
        if (method == "POST" && json_type) r.headers["content-type"] = "application/json";
        if (!cookie.empty()) r.headers["cookie"] = "theme=dark; " + cookie;
        return ui.handle(r);
    }
    Response login(const std::string& password, const std::string& remote = "192.168.1.50") {
        auto r = call("POST", "/local/api/login", json{{"password", password}}.dump(), remote);
        if (r.status == 204) {
            const auto& set = r.headers.at("Set-Cookie");
            cookie = set.substr(0, set.find(';'));
        }
        return r;
    }
};

}  // namespace

TEST_CASE("password hash: format, verify, constant-time compare of the right length") {
    auto h = parse_password_hash(kHash);
    REQUIRE(h.ok());
    CHECK(h->iterations == 1000);
    CHECK(h->salt.size() == 16);
    CHECK(h->hash.size() == 32);
    CHECK(format_password_hash(*h) == kHash);
    CHECK(verify_password(*h, "correct horse"));
    CHECK_FALSE(verify_password(*h, "correct horsE"));
    CHECK_FALSE(verify_password(*h, ""));
    // A hash made elsewhere (Python: hashlib.pbkdf2_hmac('sha256', b'password', b'saltsalt', 1000)).
    auto known =
        parse_password_hash("pbkdf2-sha256$1000$c2FsdHNhbHQ=$E196ZhRPzw+wA84EjzHwJO1cv/MFJdO6C/sxmUeTYqY=");
    REQUIRE(known.ok());
    CHECK(verify_password(*known, "password"));
    CHECK_FALSE(verify_password(*known, "Password"));
    CHECK_FALSE(parse_password_hash("sha1$1000$c2FsdHNhbHQ=$AAAA").ok());
    CHECK_FALSE(parse_password_hash("pbkdf2-sha256$10$c2FsdHNhbHQ=$" + std::string(44, 'A')).ok());
    CHECK(parse_password_hash("pbkdf2-sha256$1000$c2FsdHNhbHQ=$" + std::string(43, 'A') + "=").ok());
    CHECK(random_hex(32).size() == 64);
    CHECK(random_hex(32) != random_hex(32));
}

TEST_CASE("login: cookie attributes, 401 for a wrong password, 429 from the 6th failure in 5 minutes") {
    Fixture f;
    CHECK(f.call("GET", "/local/api/state").status == 401);
    for (int i = 0; i < 5; ++i) CHECK(f.login("wrong").status == 401);
    auto limited = f.login("wrong");
    CHECK(limited.status == 429);
    CHECK(limited.headers.contains("Retry-After"));
    CHECK(f.login("correct horse").status == 429);  // not even checked while limited
    // another client is not affected
    CHECK(f.login("wrong", "192.168.1.51").status == 401);
    // the window slides: 5 minutes after the failures the client may try again
    f.clock.advance(Millis{5 * 60 * 1000 + 1});
    auto ok = f.login("correct horse");
    REQUIRE(ok.status == 204);
    const auto& set = ok.headers.at("Set-Cookie");
    CHECK(set.find("HttpOnly") != std::string::npos);
    CHECK(set.find("SameSite=Strict") != std::string::npos);
    CHECK(set.find("Max-Age=43200") != std::string::npos);
    CHECK(f.cookie.size() == std::string("pvfleet_session=").size() + 64);
    auto state = f.call("GET", "/local/api/state");
    CHECK(state.status == 200);
    CHECK(json::parse(state.body)["site_id"] == "s1");
    CHECK(state.headers.at("Cache-Control") == "no-store");
    // 12 h later the session is gone
    f.clock.advance(Millis{12LL * 3600 * 1000});
    CHECK(f.call("GET", "/local/api/state").status == 401);
    // a made-up token is not a session
    f.cookie = "pvfleet_session=" + std::string(64, 'a');
    CHECK(f.call("GET", "/local/api/state").status == 401);
}

TEST_CASE("logout ends the session; POSTs must be JSON") {
    Fixture f;
    REQUIRE(f.login("correct horse").status == 204);
    CHECK(f.call("POST", "/local/api/tickets/t-1/acknowledge", "note=x", "192.168.1.50", false).status ==
          415);
    CHECK(f.call("POST", "/local/api/login", "password=correct+horse", "192.168.1.50", false).status == 415);
    // Also without a body, and for every state-changing method: nothing runs before the type is checked.
    CHECK(f.call("POST", "/local/api/logout", "", "192.168.1.50", false).status == 415);
    CHECK(f.call("DELETE", "/local/api/logout", "", "192.168.1.50", false).status == 415);
    CHECK(f.call("GET", "/local/api/state").status == 200);
    CHECK(f.call("POST", "/local/api/logout", "{}").status == 204);
    CHECK(f.call("GET", "/local/api/state").status == 401);
}

TEST_CASE("page and assets are served without a session") {
    Fixture f;
    auto page = f.call("GET", "/local/");
    CHECK(page.status == 200);
    CHECK(page.content_type.find("text/html") == 0);
    CHECK(page.body.find("data-testid=\"login-password\"") != std::string::npos);
    // The security headers come from the transport (local_ui_run_test checks them on the wire).
    CHECK(f.call("GET", "/").status == 200);
    auto js = f.call("GET", "/local/app.js");
    CHECK(js.status == 200);
    CHECK(js.body.find("'ack-'") != std::string::npos);
    CHECK(js.body.find("'ticket-'") != std::string::npos);
    CHECK(f.call("GET", "/local/app.css").status == 200);
    CHECK(f.call("POST", "/local/app.js").status == 405);
    CHECK(f.call("GET", "/etc/passwd").status == 404);
    // The page stays small: everything embedded is under 24 kB.
    MESSAGE("embedded page: " << LocalUi::asset_bytes() << " bytes");
    CHECK(LocalUi::asset_bytes() < 24 * 1024);
}

TEST_CASE("tickets: acknowledge and resolve go to the backend with the note and who") {
    Fixture f;
    REQUIRE(f.login("correct horse").status == 204);
    auto r = f.call("POST", "/local/api/tickets/t-1/acknowledge", json{{"note", "on my way"}}.dump());
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["state"] == "acknowledged");
    REQUIRE(f.backend.calls.size() == 1);
    CHECK(f.backend.calls[0] == "ack t-1 by local page (192.168.1.50): on my way");
    r = f.call("POST", "/local/api/tickets/t-9/acknowledge", json{{"note", ""}, {"by", "alice"}}.dump());
    CHECK(r.status == 404);
    CHECK(f.backend.calls.back() == "ack t-9 by alice: ");
    CHECK(f.call("POST", "/local/api/tickets/t-2/resolve", "{}").status == 409);
    CHECK(f.call("POST", "/local/api/tickets/t-3/resolve", "{}").status == 200);
    CHECK(f.call("GET", "/local/api/tickets/t-3/resolve").status == 405);
    CHECK(f.call("POST", "/local/api/tickets/a%2Fb/resolve", "{}").status == 404);  // not a ticket id
    CHECK(f.call("POST", "/local/api/tickets/t-1/acknowledge", "not json").status == 400);
}

TEST_CASE("scan and probe run as jobs: 202 at once, the result when the backend calls back") {
    Fixture f;
    REQUIRE(f.login("correct horse").status == 204);
    auto r = f.call("POST", "/local/api/scan",
                    json{{"tcp", "10.0.0.5:502"}, {"unit_from", 1}, {"unit_to", 3}}.dump());
    REQUIRE(r.status == 202);
    const auto job = json::parse(r.body);
    CHECK(job["state"] == "running");
    CHECK(f.backend.last_scan.tcp == "10.0.0.5:502");
    CHECK(f.backend.last_scan.unit_to == 3);
    CHECK(json::parse(f.call("GET", "/local/api/jobs/" + job["id"].get<std::string>()).body)["state"] ==
          "running");
    f.backend.pending_scan(json{{"units", json::array({{{"unit", 1}, {"answer", "data"}}})}});
    auto done = json::parse(f.call("GET", "/local/api/jobs/" + job["id"].get<std::string>()).body);
    CHECK(done["state"] == "done");
    CHECK(done["result"]["units"][0]["unit"] == 1);
    CHECK(f.call("GET", "/local/api/jobs/j999").status == 404);

    // bad requests are refused before anything starts
    CHECK(f.call("POST", "/local/api/scan", json{{"tcp", "x"}, {"endpoint", "lan"}}.dump()).status == 422);
    CHECK(f.call("POST", "/local/api/scan", json{{"tcp", "x"}, {"unit_to", 300}}.dump()).status == 422);
    CHECK(f.call("POST", "/local/api/scan", json{{"tcp", "x"}, {"unit_from", 9}, {"unit_to", 3}}.dump())
              .status == 422);

    r = f.call("POST", "/local/api/probe", json{{"device_id", "inv1"}}.dump());
    REQUIRE(r.status == 202);
    CHECK(f.backend.last_probe.device_id == "inv1");
    const auto probe = json::parse(r.body)["id"].get<std::string>();
    f.backend.pending_probe(Error{"inv1: not identified: timeout", ErrorKind::timeout});
    auto failed = json::parse(f.call("GET", "/local/api/jobs/" + probe).body);
    CHECK(failed["state"] == "failed");
    CHECK(failed["error"] == "inv1: not identified: timeout");
    // the backend refuses at once: the job says so in the 202 already
    r = f.call("POST", "/local/api/probe", json{{"device_id", "nope"}}.dump());
    CHECK(json::parse(r.body)["state"] == "failed");
    r = f.call("POST", "/local/api/probe",
               json{{"tcp", "10.0.0.5:502"}, {"unit", 3}, {"profile", "goodwe-et"}}.dump());
    CHECK(r.status == 202);
    CHECK(f.backend.last_probe.unit == 3);
    CHECK(f.backend.last_probe.profile == "goodwe-et");
    CHECK(f.call("POST", "/local/api/probe", json{{"unit", 3}}.dump()).status == 422);
}

TEST_CASE("config: read, validate with key paths, save") {
    Fixture f;
    REQUIRE(f.login("correct horse").status == 204);
    CHECK(f.call("GET", "/local/api/config").body == R"({"site_id": "s1"})");
    auto bad = f.call("POST", "/local/api/config/validate", R"({"site_id": "bad"})");
    CHECK(bad.status == 422);
    auto errors = json::parse(bad.body)["errors"];
    REQUIRE(errors.size() == 2);
    CHECK(errors[0] == "poll/fast_s: expected 1..3600, got 0");
    CHECK(json::parse(f.call("POST", "/local/api/config/validate", R"({"site_id": "s1"})").body)["valid"] ==
          true);
    CHECK(f.backend.saved.empty());  // validate never saves
    CHECK(f.call("POST", "/local/api/config/save", R"({"site_id": "bad"})").status == 422);
    auto saved = f.call("POST", "/local/api/config/save", R"({"site_id": "s1"})");
    CHECK(saved.status == 202);
    CHECK(json::parse(saved.body)["config_version"] == "v2");
    CHECK(f.backend.saved == R"({"site_id": "s1"})");
}

TEST_CASE("site config: local_ui is validated with key paths") {
    auto base = json::parse(R"({
      "format": 1, "site_id": "s1", "config_version": "1", "latitude": 47.99, "longitude": 7.85,
      "endpoints": [{"id": "lan", "tcp": "10.0.0.1:502"}],
      "inverters": [{"id": "inv1", "endpoint": "lan", "unit": 1, "ac_kw": 5}],
      "arrays": [{"inverter": "inv1", "dc_kw": 5, "tilt": 30, "azimuth": 180}],
      "store": {"path": "edge.db"}})");
    auto doc = base;
    doc["local_ui"] = {{"listen", "0.0.0.0"}, {"port", 8090}, {"password_hash", kHash}};
    auto ok = agent::parse_site_config(doc, "/tmp");
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
    REQUIRE(ok->local_ui);
    CHECK(ok->local_ui->port == 8090);
    CHECK(ok->local_ui->password_hash == kHash);
    CHECK(agent::describe(*ok)["local_ui"]["port"] == 8090);
    CHECK(agent::describe(*ok).dump().find(kHash) == std::string::npos);  // no secret in the log

    doc["local_ui"] = {
        {"listen", "gateway.local"}, {"port", 70000}, {"password_hash", "plain"}, {"colour", 1}};
    auto bad = agent::parse_site_config(doc, "/tmp");
    REQUIRE_FALSE(bad.ok());
    const auto& m = bad.error().message;
    CAPTURE(m);
    CHECK(m.find("local_ui/listen: 'gateway.local' is not an IP address") != std::string::npos);
    CHECK(m.find("local_ui/port: expected 0..65535, got 70000") != std::string::npos);
    CHECK(m.find("local_ui/password_hash: expected pbkdf2-sha256$") != std::string::npos);
    CHECK(m.find("local_ui/colour: unknown key") != std::string::npos);

    doc["local_ui"] = {{"port", 8090}};
    CHECK(agent::parse_site_config(doc, "/tmp")
              .error()
              .message.find("local_ui: needs one of password_file, password_hash") != std::string::npos);
    doc["local_ui"] = {{"password_file", "no-such-file"}};
    CHECK(agent::parse_site_config(doc, "/tmp")
              .error()
              .message.find("local_ui/password_file: cannot read /tmp/no-such-file") != std::string::npos);
}

TEST_CASE("enrollment screen: guarded like the other writes; the code read typo-tolerant; the result as a job") {
    Fixture f;
    const std::string body = json{{"server", "https://pv.example.com"}, {"code", "7k3m q9tx 2hwd r4no"}}.dump();
    CHECK(f.call("POST", "/local/api/enroll", body).status == 401);  // no session
    REQUIRE(f.login("correct horse").status == 204);
    CHECK(f.call("POST", "/local/api/enroll", body, "192.168.1.50", false).status == 415);  // not JSON
    CHECK(f.call("GET", "/local/api/enroll").status == 405);
    // The server address and the code are checked before anything travels.
    const auto bad_server = f.call("POST", "/local/api/enroll", json{{"server", "http://pv.example.com"}, {"code", "x"}}.dump());
    CHECK(bad_server.status == 400);
    CHECK(json::parse(bad_server.body)["field"] == "server");
    const auto typo = f.call("POST", "/local/api/enroll",
                             json{{"server", "https://pv.example.com"}, {"code", "7K3M-Q9TX-2HWD-R4N1"}}.dump());
    CHECK(typo.status == 400);
    CHECK(json::parse(typo.body)["error"] == "code: the check symbol does not match: a symbol is mistyped");
    CHECK(json::parse(f.call("POST", "/local/api/enroll",
                             json{{"server", "https://pv.example.com"}, {"code", "7K3M-Q9TX-2HWD"}}.dump())
                          .body)["error"] == "code: 12 symbols (expected 16, as XXXX-XXXX-XXXX-XXXX)");
    CHECK_FALSE(f.backend.pending_enroll);
    // Lower case, blanks and O for 0 are read as the code; the backend enrolls, the page polls the job.
    const auto started = f.call("POST", "/local/api/enroll", body);
    REQUIRE(started.status == 202);
    CHECK(f.backend.last_enroll.code == "7K3M-Q9TX-2HWD-R4N0");
    CHECK(f.backend.last_enroll.server == "https://pv.example.com");
    const std::string job = json::parse(started.body)["id"];
    CHECK(json::parse(f.call("GET", "/local/api/jobs/" + job).body)["state"] == "running");
    f.backend.pending_enroll(Error{"refused by the server (used_code): this enrollment code was used at 2026-05-28"});
    const auto failed = json::parse(f.call("GET", "/local/api/jobs/" + job).body);
    CHECK(failed["state"] == "failed");
    CHECK(failed["error"].get<std::string>().find("(used_code)") != std::string::npos);
    const auto again = json::parse(f.call("POST", "/local/api/enroll", body).body);
    f.backend.pending_enroll(json{{"site_id", "freiburg-0001"}, {"serial", "AB"}, {"config_installed", false}});
    const auto done = json::parse(f.call("GET", "/local/api/jobs/" + again["id"].get<std::string>()).body);
    CHECK(done["state"] == "done");
    CHECK(done["result"]["site_id"] == "freiburg-0001");
}
