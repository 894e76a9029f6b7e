#include "service.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "pvfleet/api/web_assets.hpp"
#include "pvfleet/enrollment/issuing_ca.hpp"
#include "pvfleet/http/tls.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/systemd.hpp"

namespace pvfleet::server_app {

TlsReloadOnHangup::TlsReloadOnHangup(boost::asio::io_context& ioc, http::HttpServer& http)
    : signals_(ioc, SIGHUP), http_(http) {
    wait();
}

void TlsReloadOnHangup::cancel() {
    boost::system::error_code ignored;
    signals_.cancel(ignored);
}

void TlsReloadOnHangup::wait() {
    signals_.async_wait([this](boost::system::error_code ec, int) {
        if (ec) return;
        if (!http_.tls()) {
            PVF_LOG(info, "server", "SIGHUP: no http/tls configured, nothing to reload");
        } else {
            systemd::notify("RELOADING=1");
            auto reloaded = http_.reload_tls();
            if (reloaded)
                PVF_LOG(info, "server", "SIGHUP: TLS certificate reloaded: " << *reloaded);
            else
                PVF_LOG(error, "server",
                        "SIGHUP: TLS reload failed, still serving " << http_.tls_certificate() << ": "
                                                                    << reloaded.error().message);
            systemd::notify("READY=1");
        }
        wait();
    });
}

Watchdog::Watchdog(boost::asio::io_context& api, boost::asio::io_context* ingest)
    : timer_(api), ingest_(ingest) {}

void Watchdog::start() {
    const auto interval = systemd::watchdog_interval();
    if (!interval) return;
    interval_ = *interval;
    PVF_LOG(info, "server", "systemd watchdog: a ping every " << interval_.count() << " ms");
    ping();
}

void Watchdog::cancel() {
    timer_.cancel();
}

void Watchdog::ping() {
    if (ingest_answered_->exchange(false)) {
        systemd::notify("WATCHDOG=1");
        if (ingest_ != nullptr)
            boost::asio::post(*ingest_, [answered = ingest_answered_] { answered->store(true); });
        else
            ingest_answered_->store(true);
    } else {
        PVF_LOG(warn, "server", "systemd watchdog: the ingest loop did not answer; no ping");
    }
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) ping();
    });
}

namespace {
void warn_if_plain_http_exposed(const ServerConfig& config) {
    if (config.http.served_over_tls()) return;
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(config.http.listen, ec);
    if (ec || address.is_loopback()) return;
    PVF_LOG(warn, "server",
            "http/listen " << config.http.listen
                           << " is reachable from other hosts over plain HTTP: passwords and session cookies "
                              "cross the network in clear; configure http/tls, or a TLS reverse proxy and an "
                              "https http/public_url");
}
}  // namespace

void log_listening(const ServerConfig& config, const http::HttpServer& http) {
    PVF_LOG(info, "server",
            "http listening on " << config.http.listen << ":" << http.port() << (http.tls() ? " (TLS)" : ""));
    if (http.tls())
        PVF_LOG(info, "server", "TLS certificate: " << http.tls_certificate());
    else
        warn_if_plain_http_exposed(config);
}

namespace {

// A file the server reads at start, named by its config key.
void check_readable(const std::string& key, const std::string& path, std::vector<std::string>& errors) {
    if (path.empty()) return;
    std::ifstream in(path, std::ios::binary);
    if (!in) errors.push_back(key + ": cannot read '" + path + "'");
}

// Everything `run` reads before it opens the database and the port, beyond the config's own checks.
std::vector<std::string> check_files(const ServerConfig& c, std::string& tls_certificate) {
    std::vector<std::string> errors;
    if (auto web = api::WebAssets::load(c.web_root); !web) errors.push_back(web.error().message);
    if (c.http.tls) {
        auto tls = http::load_tls_context(*c.http.tls);
        if (tls)
            tls_certificate = tls->describe();
        else
            errors.push_back(tls.error().message);
    }
    if (const auto& t = c.ingest.mqtt.tls; c.mqtt_enabled && t) {
        check_readable("mqtt/tls/ca_file", t->ca_file, errors);
        check_readable("mqtt/tls/cert_file", t->cert_file, errors);
        check_readable("mqtt/tls/key_file", t->key_file, errors);
    }
    check_readable("secret_key_file", c.secret_key_file, errors);
    if (c.smtp) check_readable("smtp/ca_file", c.smtp->ca_file, errors);
    if (c.enrollment)
        if (auto ca = enrollment::IssuingCa::load(c.enrollment->ca, SystemClock{}.now()); !ca)
            errors.push_back(ca.error().message);
    if (c.database.engine == storage::Engine::sqlite) {
        const auto dir = std::filesystem::path(c.database.sqlite_path).parent_path();
        std::error_code ec;
        if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
            errors.push_back("database/path: folder '" + dir.string() + "' does not exist");
    }
    return errors;
}

void print_errors(const std::string& config_path, const std::string& text) {
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
        std::cerr << (line.rfind(config_path + ": ", 0) == 0 ? line : config_path + ": " + line) << "\n";
}

}  // namespace

int check_config(const std::string& config_path) {
    auto config = load_server_config(config_path);
    if (!config) {
        print_errors(config_path, config.error().message);
        return 1;
    }
    std::string tls_certificate;
    const auto errors = check_files(*config, tls_certificate);
    if (!errors.empty()) {
        for (const auto& e : errors) print_errors(config_path, e);
        return 1;
    }
    auto effective = nlohmann::json::parse(describe(*config));
    if (!tls_certificate.empty()) effective["http"]["tls"]["certificate"] = tls_certificate;
    effective["http"]["served_over_tls"] = config->http.served_over_tls();
    std::cout << effective.dump(2) << "\n";
    return 0;
}

}  // namespace pvfleet::server_app
