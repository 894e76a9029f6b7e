// pvfleet-edge run --config SITE.json: the gateway agent. Refuses a bad config at start (every error with its
// key path, exit 2); logs the effective config; SIGINT/SIGTERM stop it in stages within 2 s.
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "commands.hpp"
#include "pvfleet/agent/agent.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kRunUsage =
    R"(usage: pvfleet-edge run --config SITE.json [--log-level debug|info|warn|error]
Runs the gateway agent: polls the devices of the site config, detects anomalies, keeps tickets, syncs to the
broker. The config format is documented in docs/site-config.md (schema: firmware-config/sites/).
)";

// systemd's notify protocol (Type=notify, WatchdogSec): one datagram to $NOTIFY_SOCKET. Without systemd the
// variable is unset and this does nothing.
void sd_notify(const char* state) {
    const char* path = std::getenv("NOTIFY_SOCKET");
    if (path == nullptr || *path == '\0') return;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract socket
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return;
    (void)::sendto(fd, state, std::strlen(state), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                   static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + std::strlen(path)));
    ::close(fd);
}

}  // namespace

int cmd_run(const Args& args) {
    std::optional<std::string> config_path;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << kRunUsage;
            return 0;
        }
        if (args[i] == "--config" && i + 1 < args.size()) {
            config_path = args[++i];
        } else if (args[i] == "--log-level" && i + 1 < args.size()) {
            log::Level level{};
            if (!log::parse_level(args[++i], level)) {
                std::cerr << "pvfleet-edge run: --log-level: unknown '" << args[i] << "'\n";
                return 2;
            }
            log::set_level(level);
        } else {
            std::cerr << "pvfleet-edge run: unknown option '" << args[i] << "'\n" << kRunUsage;
            return 2;
        }
    }
    if (!config_path) {
        std::cerr << "pvfleet-edge run: --config is required\n" << kRunUsage;
        return 2;
    }
    auto config = agent::load_site_config(*config_path);
    if (!config) {
        std::cerr << "pvfleet-edge run: " << *config_path << ": bad site config:\n"
                  << config.error().message << "\n";
        return 2;
    }
    PVF_LOG(info, "agent", "effective config: " << agent::describe(*config).dump());

    boost::asio::io_context io;
    SystemClock clock;
    auto agent = agent::Agent::create(std::move(*config), io.get_executor(), clock);
    if (!agent) {
        std::cerr << "pvfleet-edge run: " << agent.error().message << "\n";
        return 2;
    }
    (*agent)->start();
    sd_notify("READY=1");

    // Watchdog: ping from the executor, so a stuck executor stops the pings and systemd restarts us.
    boost::asio::steady_timer watchdog(io);
    std::function<void()> ping = [&] {
        sd_notify("WATCHDOG=1");
        watchdog.expires_after(std::chrono::seconds(10));
        watchdog.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) ping();
        });
    };
    ping();

    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (ec) return;
        PVF_LOG(info, "agent", "signal " << sig << ": stopping");
        sd_notify("STOPPING=1");
        watchdog.cancel();
        (*agent)->stop([&] {
            const auto& s = (*agent)->stats();
            PVF_LOG(info, "agent",
                    "stopped: " << s.samples << " samples, " << s.ticket_events << " ticket events");
            io.stop();
        });
    });
    io.run();
    if (!(*agent)->idle()) {
        // A poll thread is blocked in a request to a silent device; its timeout must not hold up the stop.
        PVF_LOG(info, "agent", "exiting without waiting for an outstanding Modbus request");
        std::fflush(nullptr);
        std::_Exit(0);
    }
    return 0;
}

}  // namespace pvfleet::edge_app
