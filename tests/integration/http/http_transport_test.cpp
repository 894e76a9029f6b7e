// The HTTP transport and the web app's files against the real pvfleet-server binary over loopback: only the
// web app's own files by exact name (whatever the path encoding), security headers on every response,
// JSON-only state-changing requests, head/target limits, slow heads, request-smuggling basics, body depth and
// UTF-8, the connection cap, and accept under a low open-file limit.
#include <doctest/doctest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "server_process.hpp"
#include "support/http_client.hpp"
#include "support/paths.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

const std::filesystem::path kWebRoot = test::source_dir() / "server" / "web";

test::HttpResponse get(int port, const std::string& target, std::map<std::string, std::string> headers = {}) {
    return test::http_request("127.0.0.1", port, "GET", target, {}, headers);
}

std::string percent_encode_slashes(const std::string& s) {
    std::string out;
    for (char c : s) out += c == '/' ? std::string("%2f") : std::string(1, c);
    return out;
}

// utime + stime of a process, in seconds.
double cpu_seconds(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    long long utime = 0;
    long long stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoll(field);
        if (i == 15) stime = std::stoll(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::size_t count_lines_with(const std::string& log, const std::string& what) {
    std::size_t n = 0;
    for (auto p = log.find(what); p != std::string::npos; p = log.find(what, p + 1)) ++n;
    return n;
}

void check_security_headers(const std::map<std::string, std::string>& headers, const std::string& what) {
    INFO(what);
    auto at = [&](const char* k) {
        auto it = headers.find(k);
        return it == headers.end() ? std::string() : it->second;
    };
    CHECK(at("content-security-policy").find("frame-ancestors 'none'") != std::string::npos);
    CHECK(at("content-security-policy").find("script-src 'self'") != std::string::npos);
    CHECK(at("x-frame-options") == "DENY");
    CHECK(at("referrer-policy") == "no-referrer");
    CHECK(at("x-content-type-options") == "nosniff");
}

void check_security_headers(const itest::RawReply& r, const std::string& what) {
    std::map<std::string, std::string> h;
    for (const char* k : {"content-security-policy", "x-frame-options", "referrer-policy", "x-content-type-options"})
        h[k] = r.header(k);
    check_security_headers(h, what);
}

}  // namespace

TEST_CASE("web files: only the web app's own files, by exact name, whatever the path") {
    test::TempDir dir;
    itest::ApiServer server(dir.path());
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    CHECK(server.log().find("web app: ") != std::string::npos);
    const std::string index = test::read_file(kWebRoot / "index.html");
    const std::string secret = test::read_file(dir / "secret.key");
    REQUIRE(!secret.empty());

    auto r = get(port, "/");
    CHECK(r.status == 200);
    CHECK(r.body == index);
    CHECK(r.header("content-type") == "text/html; charset=utf-8");
    r = get(port, "/js/app.js");
    CHECK(r.status == 200);
    CHECK(r.body == test::read_file(kWebRoot / "js" / "app.js"));
    CHECK(r.header("content-type") == "text/javascript; charset=utf-8");
    CHECK(get(port, "/favicon.svg").header("content-type") == "image/svg+xml");
    // Unchanged files are not sent again.
    const std::string etag = r.header("etag");
    REQUIRE(!etag.empty());
    CHECK(get(port, "/js/app.js", {{"If-None-Match", etag}}).status == 304);
    // Client-side routes get the page; a missing file (extension in the last segment) a 404.
    CHECK(get(port, "/customers/12").body == index);
    CHECK(get(port, "/js/nope.js").status == 404);
    CHECK(get(port, "/js/nope.js").header("content-type") == "application/problem+json");
    CHECK(test::http_request("127.0.0.1", port, "POST", "/index.html", "{}").status == 405);

    const std::string data_dir = std::filesystem::canonical(dir.path()).string();  // absolute: starts with /
    const std::vector<std::string> attacks = {
        "//etc/passwd",
        "/%2fetc/passwd",
        "/%2Fetc%2Fpasswd",
        "/" + data_dir + "/secret.key",
        "/" + percent_encode_slashes(data_dir) + "%2fsecret.key",
        "/" + percent_encode_slashes(data_dir) + "%2fserver.db",
        "/" + percent_encode_slashes(data_dir) + "%2fserver.db-wal",
        "//proc/self/environ",
        "/%2fproc%2fself%2fmaps",
        "/./dev/mock-server.mjs",
        "/dev/mock-server.mjs",
        "/dev/cdp-smoke.mjs",
        "/index.html%00.png",
        "/js/app.js%00",
        "/..%2f..%2f..%2f..%2fetc%2fpasswd",
        "/js/../../../../../etc/passwd",
        "/js/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/%5c..%5c..%5c..%5cetc%5cpasswd",
        "/..\\..\\..\\etc\\passwd",
        "/" + std::string(8000, 'a'),
        "/" + std::string(7990, '/') + "etc/passwd",
    };
    for (const auto& target : attacks) {
        INFO(target.substr(0, 120));
        r = get(port, target);
        CHECK((r.status == 200 || r.status == 404 || r.status == 400));
        if (r.status == 200) CHECK(r.body == index);
        CHECK(r.body.find(secret) == std::string::npos);
        CHECK(r.body.find("SQLite format") == std::string::npos);
        CHECK(r.body.find("root:") == std::string::npos);
        CHECK(r.body.find("createServer") == std::string::npos);  // dev/mock-server.mjs
    }
    CHECK(get(port, "/index.html%00.png").status == 404);
    CHECK(get(port, "/./dev/mock-server.mjs").status == 404);
    CHECK(get(port, "//etc/passwd").body == index);
}

TEST_CASE("web root: only regular files inside it are loaded; without index.html the server does not start") {
    test::TempDir dir;
    test::TempDir outside;
    const auto root = dir / "web";
    std::filesystem::create_directories(root / "dev");
    std::filesystem::create_directories(root / "sub");
    std::filesystem::create_directories(outside / "folder");
    std::ofstream(root / "index.html") << "<!doctype html><title>test app</title>";
    std::ofstream(root / "app.js") << "console.log('app');";
    std::ofstream(root / "sub" / "inner.css") << "p{}";
    std::ofstream(root / "dev" / "tool.js") << "dev tool";
    std::ofstream(root / ".env") << "SECRET=hidden";
    std::ofstream(outside / "secret.txt") << "outside secret";
    std::ofstream(outside / "folder" / "x.txt") << "outside folder";
    std::filesystem::create_symlink(outside / "secret.txt", root / "escape.txt");
    std::filesystem::create_symlink(root / "app.js", root / "inside.js");
    std::filesystem::create_directory_symlink(outside / "folder", root / "linked");

    itest::ApiServerOptions options;
    options.web_root = root;
    itest::ApiServer server(dir / "server", options);
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    CHECK(server.log().find("web app: 4 files") != std::string::npos);  // index, app, sub/inner, inside
    CHECK(get(port, "/app.js").body == "console.log('app');");
    CHECK(get(port, "/inside.js").body == "console.log('app');");
    CHECK(get(port, "/sub/inner.css").header("content-type") == "text/css; charset=utf-8");
    CHECK(get(port, "/escape.txt").status == 404);
    CHECK(get(port, "/linked/x.txt").status == 404);
    CHECK(get(port, "/dev/tool.js").status == 404);
    CHECK(get(port, "/.env").body.find("SECRET") == std::string::npos);

    // Add a file after start: not served (the table was read once).
    std::ofstream(root / "late.js") << "late";
    CHECK(get(port, "/late.js").status == 404);

    const auto empty_root = dir / "empty-web";
    std::filesystem::create_directories(empty_root);
    std::ofstream(empty_root / "app.js") << "x";
    options.web_root = empty_root;
    itest::ApiServer broken(dir / "broken", options);
    CHECK_FALSE(broken.start());
    CHECK(broken.process().wait(10s) == 2);
    CHECK(broken.log().find("web_root") != std::string::npos);
    CHECK(broken.log().find("index.html") != std::string::npos);
}

TEST_CASE("every response carries the security headers, also the errors the transport writes itself") {
    test::TempDir dir;
    itest::ApiServer server(dir.path());
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    check_security_headers(get(port, "/api/health").headers, "200 API");
    check_security_headers(get(port, "/api/me").headers, "401 API");
    check_security_headers(get(port, "/").headers, "web page");
    check_security_headers(get(port, "/nope.js").headers, "404 web");
    check_security_headers(test::http_request("127.0.0.1", port, "POST", "/api/logout").headers, "415");
    auto raw = itest::raw_request(port, "GARBAGE\r\n\r\n");
    CHECK(raw.status == 400);
    check_security_headers(raw, "400 malformed");
    raw = itest::raw_request(port, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                   "Content-Length: 5000000\r\n\r\n");
    CHECK(raw.status == 413);
    check_security_headers(raw, "413");
    raw = itest::raw_request(port, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(raw.status == 414);
    check_security_headers(raw, "414");
    raw = itest::raw_request(port, "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(17000, 'b') + "\r\n\r\n");
    CHECK(raw.status == 431);
    check_security_headers(raw, "431");
}

TEST_CASE("POST, PUT, PATCH and DELETE need Content-Type: application/json, also with an empty body") {
    test::TempDir dir;
    itest::ApiServer server(dir.path());
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    auto call = [&](const std::string& method, const std::string& target, const std::string& body,
                    const std::string& content_type) {
        std::map<std::string, std::string> h;
        if (!content_type.empty()) h["Content-Type"] = content_type;
        return test::http_request("127.0.0.1", port, method, target, body, h).status;
    };
    // Checked before authentication: without a session these would be 401 otherwise.
    CHECK(call("POST", "/api/logout", "", "") == 415);
    CHECK(call("POST", "/api/logout", "", "text/plain") == 415);
    CHECK(call("PATCH", "/api/customers/1", "", "") == 415);
    CHECK(call("PUT", "/api/sites/sh-01", "", "application/x-www-form-urlencoded") == 415);
    CHECK(call("POST", "/api/login", R"({"user":"a","password":"b"})", "text/plain") == 415);
    CHECK(call("POST", "/api/login", R"({"user":"a","password":"b"})", "application/jsonp") == 415);
    CHECK(call("POST", "/api/login", R"({"user":"a","password":"b"})", "text/plain; x=application/json") == 415);
    CHECK(call("POST", "/api/logout", "", "application/json") == 401);
    CHECK(call("POST", "/api/logout", "", "Application/JSON; charset=utf-8") == 401);
    CHECK(call("POST", "/api/login", R"({"user":"a","password":"b"})", "application/json; charset=utf-8") == 401);
    CHECK(call("GET", "/api/health", "", "") == 200);
    CHECK(call("DELETE", "/api/customers/1", "", "") == 405);  // no such route: the method is the problem
}

TEST_CASE("request heads: 414, 431, smuggling basics rejected and the connection closed") {
    test::TempDir dir;
    itest::ApiServer server(dir.path());
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    auto raw = itest::raw_request(port, "GET /api/" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(raw.status == 414);
    CHECK(raw.closed);
    raw = itest::raw_request(port, "GET /" + std::string(40000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(raw.status == 414);
    raw = itest::raw_request(port, "GET /" + std::string(8000, 'a') + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK(raw.status == 200);
    std::string many;
    for (int i = 0; i < 40; ++i) many += "X-Header-" + std::to_string(i) + ": " + std::string(500, 'v') + "\r\n";
    raw = itest::raw_request(port, "GET / HTTP/1.1\r\nHost: x\r\n" + many + "\r\n");
    CHECK(raw.status == 431);
    CHECK(raw.closed);

    const std::string post = "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n";
    const std::map<std::string, std::string> smuggling = {
        {"Content-Length then Transfer-Encoding",
         post + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"Transfer-Encoding then Content-Length",
         post + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n"},
        {"differing Content-Lengths", post + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}x"},
        {"Content-Length list", post + "Content-Length: 2, 3\r\n\r\n{}x"},
        {"Transfer-Encoding not chunked", post + "Transfer-Encoding: gzip\r\n\r\nGET /api/health HTTP/1.1\r\n\r\n"},
        {"Transfer-Encoding chunked twice", post + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"},
        {"two Transfer-Encoding fields",
         post + "Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
        {"obs-fold", "GET /api/health HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\n\r\n"},
        {"obs-fold with a tab", post + "Content-Length: 2\r\nX-Folded: a\r\n\tContent-Length: 9\r\n\r\n{}"},
        {"space before the colon", post + "Content-Length : 2\r\n\r\n{}"},
        {"bare LF", "GET /api/health HTTP/1.1\nHost: x\n\n"},
    };
    for (const auto& [what, request] : smuggling) {
        INFO(what);
        raw = itest::raw_request(port, request);
        CHECK(raw.status == 400);
        CHECK(raw.closed);
        CHECK(raw.body.find("HTTP/1.1") == std::string::npos);  // no second response
    }
}

TEST_CASE("a head not complete within 10 s closes the connection") {
    test::TempDir dir;
    itest::ApiServer server(dir.path());
    REQUIRE_MESSAGE(server.start(), server.log());
    itest::RawConnection c(server.port(), 500ms);
    REQUIRE(c.connected());
    const auto started = std::chrono::steady_clock::now();
    REQUIRE(c.send("GET /api/health HTTP/1.1\r\nHost: x\r\n"));
    bool closed = false;
    // One header line every half second: each arrives long before an idle timeout would fire.
    while (!closed && std::chrono::steady_clock::now() - started < 25s) {
        if (!c.send("X-Slow: 1\r\n")) {
            closed = true;
            break;
        }
        bool peer_closed = false;
        c.read_to_close(peer_closed);  // returns after the 500-ms receive timeout while the server waits
        if (peer_closed) closed = true;
    }
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(closed);
    CHECK(took >= 9s);
    CHECK(took < 14s);
}

TEST_CASE("JSON bodies nested deeper than 64 or with invalid UTF-8 are 400, never 500") {
    test::TempDir dir;
    itest::ApiServer server(dir.path());
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    auto login = [&](const std::string& body) { return test::http_request("127.0.0.1", port, "POST", "/api/login", body); };
    auto nested = [](int arrays) {
        return R"({"user":)" + std::string(static_cast<std::size_t>(arrays), '[') +
               std::string(static_cast<std::size_t>(arrays), ']') + R"(,"password":"x"})";
    };
    auto r = login(nested(64));  // 65 levels with the outer object
    CHECK(r.status == 400);
    CHECK(r.body.find("nest deeper than 64") != std::string::npos);
    r = login(nested(63));  // 64 levels: parsed, then refused for what it is
    CHECK(r.status != 500);
    CHECK(r.body.find("nest deeper") == std::string::npos);
    CHECK(login(nested(200000)).status == 400);
    CHECK(login(std::string(100000, '[')).status == 400);
    CHECK(login(R"({"user":"[[[[","password":"]]]]"})").status == 401);  // brackets in strings do not count
    for (const std::string& bad : {std::string("\xff\xfe"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80"),
                                   std::string("a\xe2\x82"), std::string("\\ud800")}) {
        r = login(R"({"user":")" + bad + R"(","password":"x"})");
        CHECK(r.status == 400);
        CHECK(r.header("content-type") == "application/problem+json");
    }
}

TEST_CASE("beyond max_connections a connection is turned away at once; a freed slot serves again") {
    test::TempDir dir;
    itest::ApiServerOptions options;
    options.max_connections = 4;
    itest::ApiServer server(dir.path(), options);
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    std::vector<std::unique_ptr<itest::RawConnection>> held;
    for (int i = 0; i < 4; ++i) {
        held.push_back(std::make_unique<itest::RawConnection>(port, 5s));
        REQUIRE(held.back()->connected());
    }
    const auto started = std::chrono::steady_clock::now();
    auto raw = itest::raw_request(port, "GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(raw.closed);
    CHECK(std::chrono::steady_clock::now() - started < 3s);
    CHECK(raw.status != 200);
    if (raw.status != 0) {
        CHECK(raw.status == 503);
        check_security_headers(raw, "503");
    }
    held.front()->close();
    // The server notices the close on its own time: ask until the freed slot serves.
    int status = 0;
    test::wait_until([&] { return (status = get(port, "/api/health").status) == 200; }, 10s, 50ms);
    CHECK(status == 200);
    CHECK(count_lines_with(server.log(), "connection limit of 4 reached") == 1);
}

TEST_CASE("a connection flood under a low open-file limit: no spinning, little log, served again after it") {
    const std::string prlimit = test::find_program("prlimit");
    if (prlimit.empty()) {
        MESSAGE("prlimit not installed: skipped");
        return;
    }
    test::TempDir dir;
    itest::ApiServerOptions options;
    options.prefix = {prlimit, "--nofile=64:64"};
    itest::ApiServer server(dir.path(), options);
    REQUIRE_MESSAGE(server.start(), server.log());
    const int port = server.port();
    std::vector<std::unique_ptr<itest::RawConnection>> flood;
    for (int i = 0; i < 150; ++i) {
        flood.push_back(std::make_unique<itest::RawConnection>(port, 2s));
        REQUIRE(flood.back()->connected());
    }
    CHECK(test::wait_until([&] { return count_lines_with(server.log(), "connection limit of 32 reached") > 0; },
                           10s));
    // Time itself is what is measured here: the CPU the server spends over 3 s while the flood holds it at
    // its limit (a busy accept loop would use all of it).
    const double cpu_before = cpu_seconds(server.pid());
    std::this_thread::sleep_for(3s);
    const double cpu = cpu_seconds(server.pid()) - cpu_before;
    CHECK_MESSAGE(cpu < 0.5, "server used " << cpu << " s of CPU in 3 s while out of descriptors");
    const std::string log = server.log();
    // The cap follows the open-file limit (64 - 32 spare): the flood meets it, not EMFILE.
    CHECK(log.find("allows 32 connections") != std::string::npos);
    CHECK(count_lines_with(log, "connection limit of 32 reached") == 1);
    CHECK(count_lines_with(log, "accept: ") <= 1);
    CHECK(log.size() < 20000);
    flood.clear();
    int status = 0;
    std::string error;
    test::wait_until(
        [&] {
            const auto r = get(port, "/api/health");
            status = r.status;
            error = r.body;
            return status == 200;
        },
        10s, 50ms);
    CHECK_MESSAGE(status == 200, error << "\n" << server.log());
}
