// pvfleet-edge run --config SITE.json: the gateway agent. Refuses a bad config at start (every error with its
// key path, exit 2); logs the effective config; SIGINT/SIGTERM stop it in stages within 2 s; a set_config
// command restarts the agent in this process with the new config (or the previous one, when the new one does
// not start).

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "verbs.hpp"
#include "commissioning.hpp"
#include "local_ui_backend.hpp"
#include "pvfleet/agent/agent.hpp"
#include "pvfleet/agent/clock_sync.hpp"
#include "pvfleet/agent/config_install.hpp"
#include "pvfleet/asio/time_system.hpp"
#include "pvfleet/http/server.hpp"
#include "pvfleet/local_ui/local_ui.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/systemd.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kRunUsage =
    R"(usage: pvfleet-edge run --config SITE.json [--log-level debug|info|warn|error] [--check-config]
                        [--clock auto|wait|trust] [--commissioning-listen ADDRESS]
                        [--commissioning-port PORT] [--password-file FILE]
Runs the gateway agent: polls the devices of the site config, detects anomalies, keeps tickets, syncs to the
broker. The config format is documented in docs/site-config.md (schema: firmware-config/sites/).
--check-config: check SITE.json as `pvfleet-edge check-config` does and exit.
Without SITE.json (a gateway's first boot) it runs in commissioning mode: only the local page, on ADDRESS
(0.0.0.0) and PORT (8090), with the password hash in FILE (default: local-ui.hash beside SITE.json); a config
saved there, or installed as SITE.json, starts the agent (docs/local-ui.md, "First boot").
--clock: when samples may be stamped (docs/site-config.md, "Clock"): auto (default) waits for NTP on a
machine without a real-time clock that runs a time-sync daemon; wait always waits for NTP; trust never does.
A clock before the build date is never trusted.
)";

// Owns the running agent and replaces it when a set_config asks to (Agent::on_restart_requested): the staged
// stop, then an agent created from the new config in this process — or, when that cannot be created, the
// previous config file put back and the previous config started again (docs/site-config.md).
class AgentRunner {
public:
    AgentRunner(boost::asio::io_context& io, TimeSystem& time, agent::AgentClocks clocks)
        : io_(io), time_(time), clocks_(clocks) {}

    Status start(agent::SiteConfig config) {
        auto created = create(std::move(config));
        if (!created) return created.error();
        agent_ = std::move(*created);
        agent_->start();
        if (on_started) on_started(agent_->config());
        return {};
    }

    // The running agent; nullptr while a restart replaces it (the local page answers 503 meanwhile).
    [[nodiscard]] agent::Agent* current() const { return restarting_ ? nullptr : agent_.get(); }
    // After every start, the first and each restart's (the local page follows a changed local_ui).
    std::function<void(const agent::SiteConfig&)> on_started;

    // The staged stop of whichever agent runs; `done` runs on the executor once it has stopped.
    void stop(std::function<void()> done) {
        stop_requested_ = true;
        if (restarting_) {
            stopped_ =
                std::move(done);  // the restart under way ends there instead of starting the next agent
            return;
        }
        if (!agent_) {
            done();
            return;
        }
        agent_->stop([this, done = std::move(done)] {
            log_stopped();
            done();
        });
    }

    // False while a poll thread of the running agent is still inside a Modbus request (see Agent::idle()).
    [[nodiscard]] bool idle() const { return !agent_ || agent_->idle(); }
    [[nodiscard]] int exit_status() const { return exit_status_; }

private:
    Result<std::unique_ptr<agent::Agent>> create(agent::SiteConfig config) {
        auto created = agent::Agent::create(std::move(config), io_.get_executor(), time_, clocks_);
        if (!created) return created.error();
        (*created)->on_restart_requested([this](agent::ConfigChange change) { restart(std::move(change)); });
        return created;
    }

    void log_stopped() {
        const auto& s = agent_->stats();
        PVF_LOG(info, "agent",
                "stopped: " << s.samples << " samples, " << s.ticket_events << " ticket events");
    }

    void restart(agent::ConfigChange change) {
        // A signal came first: the new file is in place and the next start reads it; the server sends the
        // unanswered command again.
        if (stop_requested_) return;
        restarting_ = true;
        systemd::notify("RELOADING=1");
        PVF_LOG(info, "agent", "restarting with config " << change.config.config_version);
        agent_->stop([this, change = std::move(change)] {
            log_stopped();
            agent::SiteConfig previous = agent_->config();
            // Joins the poll threads: one inside a request to a silent device holds this up to its timeout,
            // so the next agent never shares a serial line or a one-connection inverter with the old one.
            agent_.reset();
            restarting_ = false;
            if (stop_requested_) {
                stopped_();
                return;
            }
            PVF_LOG(info, "agent", "effective config: " << agent::describe(change.config).dump());
            auto next = create(change.config);
            Status outcome;
            if (!next) {
                outcome = next.error();
                PVF_LOG(error, "agent",
                        "config " << change.config.config_version
                                  << " does not start: " << next.error().message << "; going back to config "
                                  << previous.config_version);
                if (previous.config_file) {
                    if (auto s = agent::restore_previous_config_file(*previous.config_file); !s)
                        PVF_LOG(error, "agent", "previous config file not restored: " << s.error().message);
                }
                PVF_LOG(info, "agent", "effective config: " << agent::describe(previous).dump());
                next = create(std::move(previous));
                if (!next) {
                    // Nothing runs: exit and let the service manager start us again from the restored file.
                    PVF_LOG(error, "agent",
                            "the previous config does not start either: " << next.error().message);
                    exit_status_ = 1;
                    io_.stop();
                    return;
                }
            }
            (*next)->finish_config_change(change, outcome);
            agent_ = std::move(*next);
            agent_->start();
            if (on_started) on_started(agent_->config());
            systemd::notify("READY=1");
        });
    }

    boost::asio::io_context& io_;
    TimeSystem& time_;
    agent::AgentClocks clocks_;
    std::unique_ptr<agent::Agent> agent_;
    bool restarting_ = false;
    bool stop_requested_ = false;
    std::function<void()> stopped_;
    int exit_status_ = 0;
};

// The local page (docs/local-ui.md): served by this process on the agent's executor for as long as it runs,
// across restarts; rebound only when a new config changes its local_ui. A page that cannot listen (port
// taken) is logged and left out: polling and detection matter more than the page.
class LocalPage {
public:
    LocalPage(boost::asio::io_context& io, const Clock& clock, AgentRunner& runner)
        : io_(io), clock_(clock), backend_(io.get_executor(), [&runner] { return runner.current(); }) {}
    ~LocalPage() { close(); }

    void follow(const agent::SiteConfig& config) {
        if (config.local_ui) {
            serve(*config.local_ui);
        } else {
            close();
        }
    }

    // Serves the page with `spec` (kept as it is, sessions and all, when it serves that spec already).
    void serve(const agent::LocalUiSpec& spec) {
        if (server_ && spec_ && *spec_ == spec) return;
        close();
        auto hash = local_ui::parse_password_hash(spec.password_hash);  // checked by the parser
        if (!hash) {
            PVF_LOG(error, "local-ui", "not served: " << hash.error().message);
            return;
        }
        local_ui::LocalUiOptions options;
        options.password = *hash;
        ui_ = std::make_unique<local_ui::LocalUi>(backend_, options, clock_);
        http::HttpServerOptions http_options;
        http_options.address = spec.listen;
        http_options.port = spec.port;
        http_options.body_limit = 256 * 1024;  // a site config is a few kB
        http_options.max_connections = 32;     // docs/local-ui.md: a few technicians' phones and laptops
        http_options.config_key = "local_ui/listen";
        auto server = http::HttpServer::create(io_.get_executor(), http_options,
                                               [ui = ui_.get()](http::Request& r) { return ui->handle(r); });
        if (!server) {
            PVF_LOG(error, "local-ui", "not served: " << server.error().message);
            ui_.reset();
            return;
        }
        server_ = std::move(*server);
        server_->start();
        spec_ = std::make_unique<agent::LocalUiSpec>(spec);
        PVF_LOG(info, "local-ui",
                "local ui listening on " << server_->address() << ":" << server_->port() << " (page "
                                         << local_ui::LocalUi::asset_bytes() << " bytes)");
    }

    [[nodiscard]] AgentLocalUiBackend& backend() { return backend_; }

    void close() {
        server_.reset();  // before the routes it calls into
        ui_.reset();
        spec_.reset();
    }

private:
    boost::asio::io_context& io_;
    const Clock& clock_;
    AgentLocalUiBackend backend_;
    std::unique_ptr<local_ui::LocalUi> ui_;
    std::unique_ptr<http::HttpServer> server_;
    // Held by pointer, not std::optional: GCC 12 at -O2 for aarch64 reports a false maybe-uninitialized on
    // the optional's strings.
    std::unique_ptr<agent::LocalUiSpec> spec_;
};

// The command line of `run`; nullopt when it is fine, else the exit status (usage printed).
struct RunOptions {
    std::optional<std::string> config_path;
    std::optional<std::string> password_file;
    CommissioningOptions commissioning;
    bool check_only = false;
    agent::ClockPolicy clock_policy = agent::ClockPolicy::automatic;
};

std::optional<int> parse_run_args(const Args& args, RunOptions& o) {
    for (size_t i = 0; i < args.size(); ++i) {
        const bool has_value = i + 1 < args.size();
        if (args[i] == "--help" || args[i] == "-h") {
            std::cout << kRunUsage;
            return 0;
        }
        if (args[i] == "--config" && has_value) {
            o.config_path = args[++i];
        } else if (args[i] == "--check-config") {
            o.check_only = true;
        } else if (args[i] == "--commissioning-listen" && has_value) {
            o.commissioning.listen = args[++i];
        } else if (args[i] == "--commissioning-port" && has_value) {
            const auto port = to_int(args[++i]);
            if (!port || *port < 0 || *port > 65535) {
                std::cerr << "pvfleet-edge run: --commissioning-port: expected 0..65535, got '" << args[i] << "'\n";
                return 2;
            }
            o.commissioning.port = *port;
        } else if (args[i] == "--clock" && has_value) {
            const auto policy = agent::parse_clock_policy(args[++i]);
            if (!policy) {
                std::cerr << "pvfleet-edge run: --clock: expected auto, wait or trust, got '" << args[i] << "'\n";
                return 2;
            }
            o.clock_policy = *policy;
        } else if (args[i] == "--password-file" && has_value) {
            o.password_file = args[++i];
        } else if (args[i] == "--log-level" && has_value) {
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
    if (!o.config_path) {
        std::cerr << "pvfleet-edge run: --config is required\n" << kRunUsage;
        return 2;
    }
    return std::nullopt;
}

// A first boot (no config file): the local page alone until a config is saved there or copied in.
std::unique_ptr<Commissioning> start_commissioning(boost::asio::io_context& io, TimeSystem& time, RunOptions& o,
                                                   AgentRunner& runner, LocalPage& page) {
    std::error_code ec;
    const auto file = std::filesystem::absolute(*o.config_path, ec);
    o.commissioning.config_file = ec ? std::filesystem::path(*o.config_path) : file;
    o.commissioning.password_file = o.password_file ? std::filesystem::absolute(*o.password_file, ec)
                                                    : o.commissioning.config_file.parent_path() / "local-ui.hash";
    auto commissioning = std::make_unique<Commissioning>(
        io, time, o.commissioning,
        [&runner](agent::SiteConfig c) -> Status {
            PVF_CHECK(runner.start(std::move(c)));
            systemd::notify("STATUS=running");
            return {};
        },
        [&page](const agent::LocalUiSpec& spec) { page.serve(spec); });
    page.backend().set_commissioning(commissioning.get());
    commissioning->start();
    systemd::notify("STATUS=commissioning: no site config yet (see the local page)");
    return commissioning;
}

}  // namespace

int cmd_run(const Args& args) {
    RunOptions options;
    if (auto status = parse_run_args(args, options)) return *status;
    const auto& config_path = options.config_path;
    const bool check_only = options.check_only;
    const auto clock_policy = options.clock_policy;
    if (check_only) return cmd_check_config({*config_path});
    // No file at all is a gateway's first boot (commissioning); a file that cannot be read or is wrong is
    // refused as ever, with every error (exit 2).
    std::error_code fs_error;
    const bool first_boot = !std::filesystem::exists(*config_path, fs_error) && !fs_error;
    std::optional<agent::SiteConfig> config;
    if (!first_boot) {
        auto loaded = agent::load_site_config(*config_path);
        if (!loaded) {
            std::cerr << "pvfleet-edge run: " << *config_path << ": bad site config:\n"
                      << loaded.error().message << "\n";
            return 2;
        }
        PVF_LOG(info, "agent", "effective config: " << agent::describe(*loaded).dump());
        config = std::move(*loaded);
    }

    boost::asio::io_context io;
    pvfleet::asio::AsioTimeSystem time(io.get_executor());
    agent::SystemClockSync clock_sync(time, {clock_policy, agent::build_time_floor(), "/", {}});
    if (const auto why = clock_sync.why_not(); !why.empty())
        PVF_LOG(warn, "agent", "clock: " << why << "; samples wait until it is set (--clock, docs/site-config.md)");
    agent::SteadyClock steady;
    AgentRunner runner(io, time, agent::AgentClocks{&clock_sync, &steady});
    LocalPage page(io, time, runner);
    // The enrollment screen writes pki/ beside the site config (commissioning or running).
    page.backend().set_config_file(std::filesystem::absolute(*config_path, fs_error));
    runner.on_started = [&page](const agent::SiteConfig& c) { page.follow(c); };
    std::unique_ptr<Commissioning> commissioning;
    if (config) {
        if (auto started = runner.start(std::move(*config)); !started) {
            std::cerr << "pvfleet-edge run: " << started.error().message << "\n";
            return 2;
        }
    } else {
        commissioning = start_commissioning(io, time, options, runner, page);
    }
    systemd::notify("READY=1");

    // Watchdog: ping from the executor, so a stuck executor stops the pings and systemd restarts us.
    boost::asio::steady_timer watchdog(io);
    std::function<void()> ping = [&] {
        systemd::notify("WATCHDOG=1");
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
        systemd::notify("STOPPING=1");
        watchdog.cancel();
        if (commissioning) commissioning->stop();
        page.close();
        runner.stop([&] { io.stop(); });
    });
    io.run();
    if (!runner.idle()) {
        // A poll thread is blocked in a request to a silent device; its timeout must not hold up the stop.
        PVF_LOG(info, "agent", "exiting without waiting for an outstanding Modbus request");
        std::fflush(nullptr);
        std::_Exit(runner.exit_status());
    }
    return runner.exit_status();
}

}  // namespace pvfleet::edge_app
