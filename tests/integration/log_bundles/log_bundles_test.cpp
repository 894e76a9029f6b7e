// Remote diagnostics end to end without a broker: the back office's request through the API's router (the
// log_bundle command captured where MQTT would take it), the gateway's handler building the bundle from a
// fake journal and uploading it with the gateway's HTTPS client to the upload route served by the HTTP
// transport over TLS (a certificate made by the openssl CLI, the transport's body limit from the link, large
// bodies spooled to disk), the stored file compared byte for byte and downloaded; then every refused upload —
// a bad or expired link, a second upload, a body over the bundle's limit — leaves nothing behind. The
// repository's states, links and retention run on both database engines.
#include "pvfleet/diagnostics/log_bundles.hpp"

#include <doctest/doctest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <fstream>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "pvfleet/agent/log_bundle_handler.hpp"
#include "pvfleet/api/api.hpp"
#include "pvfleet/http/server.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/update/https_client.hpp"
#include "support/paths.hpp"
#include "support/process.hpp"
#include "support/server_backends.hpp"

using namespace pvfleet;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr TimePoint kT0{Millis{1'468'915'200'000}};  // 2016-07-19 08:00 UTC

class FakeJournal final : public agent::JournalSource {
public:
    FakeJournal(std::size_t count, std::size_t width) {
        for (std::size_t i = 1; i <= count; ++i) {
            std::string line =
                "2016-07-19T07:00:00+0000 gw pvfleet-edge[42]: poll " + std::to_string(i) + " ";
            line.resize(width, 'x');
            lines.push_back(line);
        }
    }
    agent::JournalRead read(TimePoint, std::size_t max_bytes) override {
        agent::NewestLines kept(max_bytes);
        for (const auto& l : lines) kept.add(l + "\n");
        return std::move(kept).finish();
    }
    std::vector<std::string> lines;
};

void add_site(storage::Db& db, const std::string& site) {
    REQUIRE(db.run("INSERT INTO sites (site_id, created_at_ms, updated_at_ms) VALUES ($1, 0, 0)", {site}));
}

// Files in a folder (none when it does not exist).
std::vector<std::string> files_in(const fs::path& dir) {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec))
        if (e.is_regular_file()) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

std::string query_of(const std::string& url, const std::string& key) {
    const auto at = url.find(key + "=");
    REQUIRE(at != std::string::npos);
    const auto start = at + key.size() + 1;
    return url.substr(start, url.find('&', start) - start);
}

}  // namespace

TEST_CASE(
    "log bundles: requested, uploaded once, failed by the gateway or by expiry, purged — on both engines") {
    test::TempDir dir;
    for (const auto& backend : test::fresh_backends(dir, "bundles")) {
        CAPTURE(backend.name);
        ManualClock clock{kT0};
        storage::Store store(backend.open(), clock);
        REQUIRE(store.migrate());
        auto& db = store.db();
        add_site(db, "site-a");
        add_site(db, "site-b");
        diagnostics::Settings settings;
        settings.dir = dir / (backend.name + "-bundles");
        settings.public_url = "https://pv.example.com/";
        auto rt = diagnostics::load_runtime(settings);
        REQUIRE(rt);
        CHECK((fs::status(settings.dir / "link.key").permissions() & fs::perms::group_all) ==
              fs::perms::none);

        // Refusals before anything is written.
        CHECK(diagnostics::request_bundle(db, **rt, "site-x", 24, 1 << 20, "office", clock.now())
                  .error()
                  .kind == ErrorKind::not_found);
        CHECK(diagnostics::request_bundle(db, **rt, "site-a", 169, 1 << 20, "office", clock.now())
                  .error()
                  .path == "hours");
        CHECK(diagnostics::request_bundle(db, **rt, "site-a", 24, 1024, "office", clock.now()).error().path ==
              "max_bytes");

        auto a = diagnostics::request_bundle(db, **rt, "site-a", 6, 65536, "office", clock.now());
        REQUIRE_MESSAGE(a, a.error().message);
        CHECK(diagnostics::valid_bundle_id(a->bundle.id));
        CHECK(a->command.command_id == a->bundle.id);
        const auto& cmd = std::get<protocol::LogBundleCommand>(a->command.body);
        CHECK(cmd.hours == 6);
        CHECK(cmd.max_bytes == 65536);
        CHECK(cmd.upload_url.rfind(
                  "https://pv.example.com/api/log-bundles/" + a->bundle.id + "/upload?site=site-a&max=65536&",
                  0) == 0);
        const std::string expires = query_of(cmd.upload_url, "expires"),
                          token = query_of(cmd.upload_url, "token");
        // The link: genuine, and refused for another site, bundle, size limit, expiry or key.
        CHECK(diagnostics::upload_link_valid(**rt, a->bundle.id, "site-a", "65536", expires, token,
                                             clock.now()));
        CHECK_FALSE(diagnostics::upload_link_valid(**rt, a->bundle.id, "site-b", "65536", expires, token,
                                                   clock.now()));
        CHECK_FALSE(diagnostics::upload_link_valid(**rt, a->bundle.id, "site-a", "65537", expires, token,
                                                   clock.now()));
        CHECK_FALSE(diagnostics::upload_link_valid(**rt, "lb-0000000000000000", "site-a", "65536", expires,
                                                   token, clock.now()));
        CHECK_FALSE(diagnostics::upload_link_valid(**rt, a->bundle.id, "site-a", "65536",
                                                   std::to_string(std::stoll(expires) + 1), token,
                                                   clock.now()));
        CHECK_FALSE(diagnostics::upload_link_valid(**rt, a->bundle.id, "site-a", "65536", expires, token,
                                                   clock.now() + std::chrono::hours(25)));
        diagnostics::Runtime other = **rt;
        other.link_key.bytes[0] ^= 1;
        CHECK_FALSE(diagnostics::upload_link_valid(other, a->bundle.id, "site-a", "65536", expires, token,
                                                   clock.now()));
        // The transport's limit: the link's for a genuine upload link, the default (0) for anything else.
        const std::string target = cmd.upload_url.substr(cmd.upload_url.find("/api/"));
        CHECK(diagnostics::upload_body_limit(**rt, clock.now(), "PUT", target) == 65536);
        CHECK(diagnostics::upload_body_limit(**rt, clock.now(), "POST", target) == 65536);
        CHECK(diagnostics::upload_body_limit(**rt, clock.now(), "GET", target) == 0);
        CHECK(diagnostics::upload_body_limit(**rt, clock.now(), "PUT", target + "0") == 0);
        CHECK(diagnostics::upload_body_limit(**rt, clock.now() + std::chrono::hours(25), "PUT", target) == 0);

        // Over the limit, for another site: refused, nothing written.
        const std::string big(65537, 'b');
        CHECK(
            diagnostics::store_upload(db, **rt, a->bundle.id, "site-a", {}, big, clock.now()).error().kind ==
            ErrorKind::rejected);
        CHECK(
            diagnostics::store_upload(db, **rt, a->bundle.id, "site-b", {}, "{}", clock.now()).error().kind ==
            ErrorKind::not_found);
        CHECK(files_in(settings.dir) == std::vector<std::string>{"link.key"});
        // Stored once; a second upload is a conflict and leaves the first as it was.
        clock.advance(std::chrono::minutes(2));
        auto got =
            diagnostics::store_upload(db, **rt, a->bundle.id, "site-a", {}, R"({"first":true})", clock.now());
        REQUIRE_MESSAGE(got, got.error().message);
        CHECK(got->state == diagnostics::BundleState::received);
        CHECK(got->size == 14u);
        CHECK(test::read_file(settings.dir / (a->bundle.id + ".json")) == R"({"first":true})");
        CHECK(
            diagnostics::store_upload(db, **rt, a->bundle.id, "site-a", {}, "{}", clock.now()).error().kind ==
            ErrorKind::conflict);
        CHECK(test::read_file(settings.dir / (a->bundle.id + ".json")) == R"({"first":true})");
        // A spooled body is moved into place.
        auto b = diagnostics::request_bundle(db, **rt, "site-a", 24, 65536, "admin", clock.now());
        REQUIRE(b);
        const fs::path spooled = dir / (backend.name + "-upload-1");
        { std::ofstream(spooled) << R"({"spooled":1})"; }
        REQUIRE(diagnostics::store_upload(db, **rt, b->bundle.id, "site-a", spooled, "", clock.now()));
        CHECK_FALSE(fs::exists(spooled));
        CHECK(test::read_file(settings.dir / (b->bundle.id + ".json")) == R"({"spooled":1})");

        // Failed by the gateway's ack, by a command that could not be sent, or by the link's expiry.
        auto c = diagnostics::request_bundle(db, **rt, "site-a", 24, 65536, "office", clock.now());
        auto d = diagnostics::request_bundle(db, **rt, "site-a", 24, 65536, "office", clock.now());
        auto e = diagnostics::request_bundle(db, **rt, "site-a", 24, 65536, "office", clock.now());
        REQUIRE((c && d && e));
        REQUIRE(db.run(
            "INSERT INTO commands (command_id, site_id, command, issued_at_ms, issued_by, body, status, "
            "detail) VALUES ($1, 'site-a', 'log_bundle', 0, 'office', '{}', 'failed', $2)",
            {c->bundle.id, std::string("upload: the server answered 413")}));
        REQUIRE(diagnostics::mark_unsent(db, d->bundle.id, "no broker"));
        auto list = diagnostics::list_bundles(db, "site-a", clock.now());
        REQUIRE(list);
        REQUIRE(list->size() == 5);
        auto state_of = [&](const std::string& id) {
            for (const auto& x : *list)
                if (x.id == id) return std::pair{x.state, x.detail};
            FAIL("no bundle " << id);
            return std::pair{diagnostics::BundleState::requested, std::string()};
        };
        CHECK(state_of(a->bundle.id).first == diagnostics::BundleState::received);
        CHECK(state_of(c->bundle.id) == std::pair{diagnostics::BundleState::failed,
                                                  std::string("failed: upload: the server answered 413")});
        CHECK(state_of(d->bundle.id) ==
              std::pair{diagnostics::BundleState::failed, std::string("not sent: no broker")});
        CHECK(state_of(e->bundle.id).first == diagnostics::BundleState::requested);
        CHECK(
            diagnostics::store_upload(db, **rt, c->bundle.id, "site-a", {}, "{}", clock.now()).error().kind ==
            ErrorKind::conflict);
        clock.advance(std::chrono::hours(25));
        auto later = diagnostics::get_bundle(db, e->bundle.id, clock.now());
        REQUIRE((later && *later));
        CHECK((*later)->state == diagnostics::BundleState::failed);
        CHECK((*later)->detail == "no upload before the link expired");
        CHECK(diagnostics::list_bundles(db, "site-b", clock.now())->empty());

        // Retention: a bundle older than 30 days goes with its file; a newer one stays.
        clock.advance(std::chrono::hours(24 * 28));  // the first ones are 29 days and a few hours old
        auto f = diagnostics::request_bundle(db, **rt, "site-a", 24, 65536, "office", clock.now());
        REQUIRE(f);
        REQUIRE(diagnostics::store_upload(db, **rt, f->bundle.id, "site-a", {}, "{}", clock.now()));
        CHECK(*diagnostics::purge_expired(db, settings, clock.now()) == 0);
        clock.advance(std::chrono::hours(24));
        CHECK(*diagnostics::purge_expired(db, settings, clock.now()) == 5);
        CHECK(files_in(settings.dir) == std::vector<std::string>{f->bundle.id + ".json", "link.key"});
        CHECK(diagnostics::list_bundles(db, "site-a", clock.now())->size() == 1);
    }
}

TEST_CASE(
    "log bundle over HTTPS: the gateway's upload is stored byte for byte; bad links, a second upload and "
    "oversize leave nothing") {
    if (test::find_program("openssl").empty()) {
        MESSAGE("openssl missing: skipped");
        return;
    }
    test::TempDir dir;
    ManualClock clock{SystemClock{}.now()};
    auto opened = storage::open_db({storage::Engine::sqlite, (dir / "server.db").string(), ""});
    REQUIRE(opened);
    storage::Store store(std::move(*opened), clock);
    REQUIRE(store.migrate());
    add_site(store.db(), "site-a");

    const auto made = test::run_command({"/bin/sh",
                                         "-c",
                                         "exec \"$0\" \"$@\" 2>&1",
                                         "openssl",
                                         "req",
                                         "-x509",
                                         "-newkey",
                                         "ec",
                                         "-pkeyopt",
                                         "ec_paramgen_curve:P-256",
                                         "-nodes",
                                         "-days",
                                         "2",
                                         "-subj",
                                         "/CN=127.0.0.1",
                                         "-addext",
                                         "subjectAltName=IP:127.0.0.1",
                                         "-keyout",
                                         (dir / "https.key").string(),
                                         "-out",
                                         (dir / "https.crt").string()});
    REQUIRE_MESSAGE(made.status == 0, made.out);

    diagnostics::Settings settings;
    settings.dir = dir / "diagnostics";
    auto rt = diagnostics::load_runtime(settings);
    REQUIRE(rt);
    api::ApiContext ctx;
    ctx.db = &store.db();
    ctx.clock = &clock;
    ctx.diagnostics = *rt;
    std::vector<protocol::Command> sent;
    ctx.send_command = [&sent](const protocol::Command& c, const std::string&) -> Status {
        sent.push_back(c);
        return {};
    };
    api::Router router;
    api::add_routes(router, ctx);
    const auto authenticated = router.before;
    router.before = [&authenticated](http::Request& req, const http::Route& route) -> http::Checked<> {
        if (route.info.roles.empty()) return authenticated ? authenticated(req, route) : http::Checked<>{};
        req.user = "office";
        req.role = "back_office";
        return {};
    };

    boost::asio::io_context ioc;
    http::HttpServerOptions options;
    options.port = 0;
    options.tls = http::TlsFiles{(dir / "https.crt").string(), (dir / "https.key").string(), "", "http/tls"};
    options.spool_dir = (dir / "incoming").string();
    fs::create_directories(options.spool_dir);
    options.body_limit_for = [rt = *rt, &clock](std::string_view method, std::string_view target) {
        return diagnostics::upload_body_limit(*rt, clock.now(), method, target);
    };
    auto server = http::HttpServer::create(ioc.get_executor(), options,
                                           [&router](http::Request& r) { return router.handle(r); });
    REQUIRE(server);
    (*server)->start();
    std::thread serving([&ioc] { ioc.run(); });
    (*rt)->settings.public_url = "https://127.0.0.1:" + std::to_string((*server)->port());

    // The back office asks (on the server's thread, as the transport would call the router).
    auto ask = [&](const std::string& body) {
        http::Request req;
        req.method = "POST";
        req.target = req.path = "/api/sites/site-a/log-bundles";
        req.headers["content-type"] = "application/json";
        req.body = body;
        std::promise<http::Response> answer;
        boost::asio::post(ioc, [&] { answer.set_value(router.handle(req)); });
        return answer.get_future().get();
    };
    auto on_server = [&](auto fn) {
        std::promise<void> done;
        boost::asio::post(ioc, [&] {
            fn();
            done.set_value();
        });
        done.get_future().get();
    };
    update::UploadOptions trust;
    trust.ca_file = (dir / "https.crt").string();
    trust.timeout = std::chrono::seconds(30);

    SUBCASE(
        "the gateway's handler uploads a 2 MiB bundle (spooled): stored byte for byte, listed, downloaded") {
        auto asked = ask(R"({"hours": 12, "max_bytes": 2097152})");
        REQUIRE_MESSAGE(asked.status == 202, asked.body);
        REQUIRE(sent.size() == 1);
        const auto cmd = std::get<protocol::LogBundleCommand>(sent[0].body);
        CHECK(cmd.hours == 12);
        const std::string id = json::parse(asked.body)["id"];
        CHECK(sent[0].command_id == id);

        boost::asio::io_context gateway;
        auto keep_running = boost::asio::make_work_guard(gateway);  // run_one() waits for the worker's post
        std::string uploaded;
        std::vector<std::pair<protocol::AckStatus, std::string>> acks;
        ManualClock gw_clock{clock.now()};
        agent::LogBundleHandler handler(
            {"site-a", gw_clock,
             [] {
                 return json{{"agent_version", "0.2.0"}};
             },
             std::make_unique<FakeJournal>(30000, 120),  // about 3.6 MB of journal: the newest lines are kept
             [&](const std::string& url, std::string body) {
                 uploaded = body;
                 return update::upload(url, std::move(body), trust);
             },
             gateway.get_executor(),
             [&](const std::string&, protocol::AckStatus s, const std::string& d, bool) {
                 acks.emplace_back(s, d);
             }});
        CHECK_FALSE(handler.start(sent[0].command_id, cmd).has_value());
        while (acks.size() < 2) gateway.run_one();
        CHECK(acks[0].first == protocol::AckStatus::accepted);
        REQUIRE_MESSAGE(acks[1].first == protocol::AckStatus::done, acks[1].second);
        CHECK(uploaded.size() > 1024 * 1024);  // over the transport's default limit: spooled to disk
        CHECK(uploaded.size() <= 2097152);
        CHECK(json::parse(uploaded)["cut_lines"].get<int>() > 0);
        CHECK(test::read_file(settings.dir / (id + ".json")) == uploaded);
        CHECK(files_in(dir / "incoming").empty());

        on_server([&] {
            http::Request list;
            list.method = "GET";
            list.target = list.path = "/api/sites/site-a/log-bundles";
            auto r = router.handle(list);
            REQUIRE(r.status == 200);
            const json items = json::parse(r.body)["items"];
            REQUIRE(items.size() == 1);
            CHECK(items[0]["state"] == "received");
            CHECK(items[0]["size"] == uploaded.size());
            CHECK(items[0]["requested_by"] == "office");
            http::Request get;
            get.method = "GET";
            get.target = get.path = "/api/log-bundles/" + id;
            auto d = router.handle(get);
            REQUIRE(d.status == 200);
            REQUIRE(d.file);
            CHECK(d.file->path == (settings.dir / (id + ".json")).string());
            CHECK(d.file->length == uploaded.size());
            const std::string disposition = d.headers.at("Content-Disposition");
            CHECK(disposition.rfind("attachment; filename=\"pvfleet-log-bundle-site-a-", 0) == 0);
            auto audited = store.db().run(
                "SELECT COUNT(*) FROM audit_log WHERE entity = 'log_bundle' AND entity_id = $1", {id});
            REQUIRE(audited);
            CHECK(audited->rows[0].integer(0) == 3);  // requested, received, downloaded
            get.target = get.path = "/api/log-bundles/..%2f..%2fserver.db";
            CHECK(router.handle(get).status == 404);
        });
        // The same upload again: refused, the stored file unchanged.
        auto again = update::upload(cmd.upload_url, "{}", trust);
        REQUIRE_FALSE(again);
        CHECK(again.error().message.find("answered 409") != std::string::npos);
        CHECK(test::read_file(settings.dir / (id + ".json")) == uploaded);
    }
    SUBCASE("bad links, expiry and oversize: refused, nothing stored, nothing spooled left") {
        auto asked = ask(R"({"hours": 1, "max_bytes": 65536})");
        REQUIRE_MESSAGE(asked.status == 202, asked.body);
        const std::string url = std::get<protocol::LogBundleCommand>(sent.at(0).body).upload_url;
        const std::string body = R"({"format":"pvfleet-log-bundle"})";
        auto refused_with = [&](const std::string& u, const std::string& b, const std::string& status) {
            auto r = update::upload(u, b, trust);
            REQUIRE_FALSE(r);
            CHECK_MESSAGE(r.error().message.find("answered " + status) != std::string::npos,
                          r.error().message);
        };
        std::string bad_token = url;
        bad_token.back() = bad_token.back() == '0' ? '1' : '0';
        refused_with(bad_token, body, "404");
        std::string other_site = url;
        other_site.replace(other_site.find("site=site-a"), 11, "site=site-b");
        refused_with(other_site, body, "404");
        std::string more_room = url;
        more_room.replace(more_room.find("max=65536"), 9, "max=99999");
        refused_with(more_room, body, "404");
        refused_with(url, std::string(65537, 'x'), "413");  // the transport stops at the link's limit
        // A bad link gets the transport's default limit (1 MiB, in memory): refused, by a 413 or by the
        // connection closed while the body still travels.
        CHECK_FALSE(update::upload(bad_token, std::string(2 << 20, 'x'), trust));
        // The gateway's trust: a server certificate of another CA is refused before anything is sent.
        const auto o = test::run_command({"/bin/sh", "-c", "exec \"$0\" \"$@\" 2>&1", "openssl", "req",
                                          "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                          "-nodes", "-days", "2", "-subj", "/CN=other", "-keyout",
                                          (dir / "o.key").string(), "-out", (dir / "o.crt").string()});
        REQUIRE(o.status == 0);
        update::UploadOptions other = trust;
        other.ca_file = (dir / "o.crt").string();
        auto r = update::upload(url, body, other);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("checking the server's certificate") != std::string::npos);
        // The genuine link after its expiry.
        on_server([&] { clock.advance(std::chrono::hours(25)); });
        refused_with(url, body, "404");
        CHECK(files_in(settings.dir) == std::vector<std::string>{"link.key"});
        CHECK(files_in(dir / "incoming").empty());
    }
    boost::asio::post(ioc, [&] { (*server)->stop(); });
    serving.join();
}

TEST_CASE("log bundles without a diagnostics section: the list answers (enabled false), asking is a 503") {
    test::TempDir dir;
    ManualClock clock{SystemClock{}.now()};
    auto opened = storage::open_db({storage::Engine::sqlite, (dir / "server.db").string(), ""});
    REQUIRE(opened);
    storage::Store store(std::move(*opened), clock);
    REQUIRE(store.migrate());
    add_site(store.db(), "site-a");
    api::ApiContext ctx;
    ctx.db = &store.db();
    ctx.clock = &clock;
    api::Router router;
    api::add_routes(router, ctx);
    router.before = [](http::Request& req, const http::Route&) -> http::Checked<> {
        req.user = "office";
        req.role = "back_office";
        return {};
    };
    auto call = [&router](const std::string& method, const std::string& target, const std::string& body) {
        http::Request req;
        req.method = method;
        req.target = target;
        REQUIRE(http::parse_target(target, req.path, req.query));
        req.body = body;
        req.headers["content-type"] = "application/json";
        return router.handle(req);
    };
    const auto listed = call("GET", "/api/sites/site-a/log-bundles", "");
    REQUIRE(listed.status == 200);
    const auto body = nlohmann::json::parse(listed.body);
    CHECK(body.at("enabled") == false);
    CHECK(body.at("items").empty());
    CHECK(call("POST", "/api/sites/site-a/log-bundles", R"({"hours":24})").status == 503);
}
