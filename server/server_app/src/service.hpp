#pragma once
// What `pvfleet-server run` does for its service manager: SIGHUP reloads the HTTPS certificate, the systemd
// watchdog is fed while both event loops answer, and `--check-config` checks everything a start would read.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <atomic>
#include <memory>
#include <string>

#include "pvfleet/http/server.hpp"
#include "pvfleet/server_app/config.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::server_app {

// SIGHUP: the certificate, key and chain files are read again; new connections get the new certificate, open
// ones keep theirs. A failed reload keeps the certificate in use and logs why. Without TLS it logs that there is
// nothing to reload. Runs until cancel().
class TlsReloadOnHangup {
public:
    TlsReloadOnHangup(boost::asio::io_context& ioc, http::HttpServer& http);
    void cancel();

private:
    void wait();
    boost::asio::signal_set signals_;
    http::HttpServer& http_;
};

// WATCHDOG=1 every half of WatchdogSec, from the API's loop and only while the ingest loop (when there is one)
// answered the previous probe: either loop stuck stops the pings and systemd restarts the server. Does nothing
// outside systemd.
class Watchdog {
public:
    Watchdog(boost::asio::io_context& api, boost::asio::io_context* ingest);
    void start();
    void cancel();

private:
    void ping();
    boost::asio::steady_timer timer_;
    boost::asio::io_context* ingest_;
    std::shared_ptr<std::atomic<bool>> ingest_answered_ = std::make_shared<std::atomic<bool>>(true);
    Millis interval_{0};
};

// "http listening on HOST:PORT [(TLS)]" — tests and scripts read the port from this line (the config may ask
// for port 0) —, then the certificate served, or a warning when plain HTTP reaches beyond this host with no TLS
// proxy configured.
void log_listening(const ServerConfig& config, const http::HttpServer& http);

// `pvfleet-server check-config --config FILE`: the config, the web app folder and the TLS files and key files
// it names, checked without opening the database or a port. Prints the effective config (stdout) and exits 0,
// or every error (stderr, one per line, with the file) and exits 1.
int check_config(const std::string& config_path);

}  // namespace pvfleet::server_app
