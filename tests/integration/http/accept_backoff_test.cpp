// Accept when descriptors run out after start (something else took them): the loop backs off instead of
// spinning, logs one line per interval, and serves again once descriptors are free. The server runs in a
// forked child whose open-file limit a request lowers to just above its next two free descriptors.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <algorithm>
#include <fstream>
#include <thread>

#include "pvfleet/http/server.hpp"
#include "pvfleet/util/log.hpp"
#include "server_process.hpp"
#include "support/http_client.hpp"
#include "support/paths.hpp"
#include "support/wait.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

namespace {

double cpu_seconds_of(int pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    long long ticks = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i)
        if (i == 14 || i == 15) ticks += std::stoll(field);
    return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// The child: an HttpServer whose handler answers "/limit" by capping descriptor numbers just above the
// next two free ones.
[[noreturn]] void serve(int port_pipe, const std::filesystem::path& log) {
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    ::dup2(fd, 2);
    ::close(fd);
    boost::asio::io_context ioc;
    http::HttpServerOptions options;
    options.port = 0;
    auto server = http::HttpServer::create(ioc.get_executor(), options, [](http::Request& r) {
        if (r.path == "/limit") {
            // Two numbers stay free below the limit: the flood takes them, and they are free again after it.
            const int a = ::dup(0);
            const int b = ::dup(0);
            ::close(a);
            ::close(b);
            const auto limit = static_cast<rlim_t>(std::max(a, b) + 1);
            const rlimit l{limit, limit};
            ::setrlimit(RLIMIT_NOFILE, &l);
        }
        http::Response out;
        out.body = "{}";
        return out;
    });
    if (!server) ::_exit(3);
    (*server)->start();
    const int port = (*server)->port();
    // A first log line now: logging, too, has run once before descriptors are short (sanitizer builds check
    // a type's vtable through a pipe the first time they see it).
    PVF_LOG(info, "test", "serving on port " << port);
    (void)!::write(port_pipe, &port, sizeof port);
    ioc.run();
    ::_exit(0);
}

}  // namespace

TEST_CASE("accept backs off when descriptors run out after start, and serves again when they are free") {
    test::TempDir dir;
    const auto log = dir / "server.log";
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) serve(pipe_fds[1], log);
    ::close(pipe_fds[1]);
    int port = 0;
    REQUIRE(::read(pipe_fds[0], &port, sizeof port) == sizeof port);
    ::close(pipe_fds[0]);
    // One full request first, so everything a request touches has run once before descriptors are short.
    CHECK(test::http_request("127.0.0.1", port, "GET", "/warm-up").status == 200);
    CHECK(test::http_request("127.0.0.1", port, "GET", "/limit").status == 200);

    std::vector<std::unique_ptr<itest::RawConnection>> flood;
    for (int i = 0; i < 50; ++i) flood.push_back(std::make_unique<itest::RawConnection>(port, 2s));
    // Descriptors ran out once the server logs the failed accept.
    CHECK(test::wait_until([&] { return test::read_file(log).find("Too many open files") != std::string::npos; },
                           10s));
    // Time itself is what is measured here: the CPU the server spends over 3 s while it cannot accept (a busy
    // accept loop would use all of it).
    const double before = cpu_seconds_of(pid);
    std::this_thread::sleep_for(3s);
    const double cpu = cpu_seconds_of(pid) - before;
    CHECK_MESSAGE(cpu < 0.5, "the server used " << cpu << " s of CPU in 3 s while out of descriptors");
    const std::string text = test::read_file(log);
    std::size_t lines = 0;
    for (auto p = text.find("accept: "); p != std::string::npos; p = text.find("accept: ", p + 1)) ++lines;
    CHECK(lines == 1);  // one line per 10 s, however many failures
    CHECK(text.find("Too many open files") != std::string::npos);

    flood.clear();  // the held sessions end, their descriptors are free again
    int status = 0;
    test::wait_until([&] { return (status = test::http_request("127.0.0.1", port, "GET", "/again").status) == 200; },
                     10s, 100ms);
    CHECK_MESSAGE(status == 200, test::read_file(log));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
}
