// Large uploads go to disk as they arrive (HttpServerOptions::spool_dir): the handler sees the body as a file,
// never in memory; the file is gone after the handler unless the handler moved it; a body over the limit, a
// connection cut half-way and a spool folder that cannot be written leave no file behind. An HttpServer in this
// process on a free port, requests over raw sockets.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "pvfleet/http/server.hpp"
#include "server_process.hpp"
#include "support/paths.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr std::size_t kLimit = 4 * 1024 * 1024;

// What the handler saw of the last request.
struct Seen {
    std::mutex mutex;
    std::string body;
    std::string body_file;
    bool file_existed = false;
    std::string file_content;
};

class SpoolServer {
public:
    SpoolServer(const fs::path& spool, Seen& seen, const fs::path& keep_dir = {}) {
        http::HttpServerOptions options;
        options.port = 0;
        options.spool_dir = spool.string();
        options.body_limit_for = [](std::string_view method, std::string_view target) -> std::size_t {
            return method == "POST" && target == "/upload" ? kLimit : 0;
        };
        auto server = http::HttpServer::create(ioc_.get_executor(), options, [&seen, keep_dir](http::Request& r) {
            std::lock_guard lock(seen.mutex);
            seen.body = r.body;
            seen.body_file = r.body_file;
            seen.file_existed = !r.body_file.empty() && fs::exists(r.body_file);
            if (seen.file_existed) {
                std::ifstream in(r.body_file, std::ios::binary);
                seen.file_content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
                if (!keep_dir.empty()) fs::rename(r.body_file, keep_dir / "kept");
            }
            http::Response out;
            out.body = "{}";
            return out;
        });
        REQUIRE_MESSAGE(static_cast<bool>(server), (server ? std::string() : server.error().message));
        server_ = std::move(*server);
        server_->start();
        thread_ = std::thread([this] { ioc_.run(); });
    }
    ~SpoolServer() {
        boost::asio::post(ioc_, [this] { server_->stop(); });
        work_.reset();
        ioc_.stop();
        thread_.join();
    }
    [[nodiscard]] int port() const { return server_->port(); }

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{ioc_.get_executor()};
    std::unique_ptr<http::HttpServer> server_;
    std::thread thread_;
};

std::string post(const std::string& target, const std::string& body) {
    return "POST " + target + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

std::string pattern(std::size_t n) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 131 + i / 4096) & 0xff);
    return s;
}

std::size_t files_in(const fs::path& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

// A temporary folder with an empty spool folder in it.
struct Folders {
    test::TempDir dir;
    fs::path spool = dir.path() / "spool";
    Folders() { fs::create_directories(spool); }
};

}  // namespace

TEST_CASE("spool: a large upload reaches the handler as a file, byte for byte, and is removed after it") {
    Folders f;
    const fs::path& spool = f.spool;
    Seen seen;
    SpoolServer server(spool, seen);
    const std::string body = pattern(3 * 1024 * 1024 + 17);
    const auto reply = itest::raw_request(server.port(), post("/upload", body));
    REQUIRE(reply.status == 200);
    {
        std::lock_guard lock(seen.mutex);
        CHECK(seen.body.empty());
        CHECK(seen.file_existed);
        CHECK(fs::path(seen.body_file).parent_path() == spool);
        CHECK(seen.file_content.size() == body.size());
        CHECK(seen.file_content == body);
    }
    CHECK(files_in(spool) == 0);

    // Any other request keeps its body in memory, within the ordinary limit.
    const auto small = itest::raw_request(server.port(), post("/other", "{\"a\":1}"));
    REQUIRE(small.status == 200);
    std::lock_guard lock(seen.mutex);
    CHECK(seen.body == "{\"a\":1}");
    CHECK(seen.body_file.empty());
}

TEST_CASE("spool: over the limit 413, a connection cut half-way, and nothing left in the folder") {
    Folders f;
    const fs::path& spool = f.spool;
    Seen seen;
    SpoolServer server(spool, seen);
    {
        // Refused from the head (Content-Length over the limit); only a little of the body is sent, so the reply is
        // not lost to a reset while the client would still be writing megabytes.
        itest::RawConnection c(server.port());
        REQUIRE(c.connected());
        REQUIRE(c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                       "Content-Length: " + std::to_string(kLimit + 1) + "\r\n\r\n" + pattern(1024)));
        bool closed = false;
        const std::string reply = c.read_to_close(closed);
        CHECK(reply.rfind("HTTP/1.1 413", 0) == 0);
        CHECK(closed);
    }
    CHECK(files_in(spool) == 0);

    {
        itest::RawConnection c(server.port());
        REQUIRE(c.connected());
        const std::string head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
                                 "Content-Length: 2000000\r\n\r\n";
        REQUIRE(c.send(head + pattern(700 * 1024)));
        // The partial file exists while the body arrives ...
        CHECK(test::wait_until([&] { return files_in(spool) == 1; }, 10s));
        c.close();
    }
    // ... and goes with the connection.
    CHECK(test::wait_until([&] { return files_in(spool) == 0; }, 10s));
    std::lock_guard lock(seen.mutex);
    CHECK(seen.body_file.empty());   // the handler never ran
}

TEST_CASE("spool: a handler may keep the file by moving it; a spool folder that cannot be written to answers 503") {
    Folders f;
    const fs::path& spool = f.spool;
    const fs::path keep = f.dir.path() / "keep";
    fs::create_directories(keep);
    Seen seen;
    {
        SpoolServer server(spool, seen, keep);
        const std::string body = pattern(1500 * 1024);
        REQUIRE(itest::raw_request(server.port(), post("/upload", body)).status == 200);
        CHECK(files_in(spool) == 0);
        REQUIRE(fs::exists(keep / "kept"));
        CHECK(fs::file_size(keep / "kept") == body.size());
    }
    // A spool folder that is not there (or not writable): 503, and the server goes on serving.
    SpoolServer broken(f.dir.path() / "missing", seen);
    const auto r = itest::raw_request(broken.port(), post("/upload", pattern(1024)));
    CHECK(r.status == 503);
    CHECK(itest::raw_request(broken.port(), post("/other", "{}")).status == 200);
}
