#include "pvfleet/server_app/cli.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/steady_timer.hpp>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

#include "pvfleet/api/api.hpp"
#include "pvfleet/asio/time_system.hpp"
#include "pvfleet/http/server.hpp"
#include "pvfleet/http/work_pool.hpp"
#include "pvfleet/ingest/ingestor.hpp"
#include "pvfleet/leads/import.hpp"
#include "pvfleet/notifications/dispatcher.hpp"
#include "pvfleet/notifications/email.hpp"
#include "pvfleet/notifications/inbox.hpp"
#include "pvfleet/projects/import.hpp"
#include "pvfleet/projects/reminders.hpp"
#include "pvfleet/records/crypto.hpp"
#include "pvfleet/records/import.hpp"
#include "pvfleet/records/key_check.hpp"
#include "pvfleet/records/users.hpp"
#include "pvfleet/server_app/config.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/log.hpp"
#include "pvfleet/util/systemd.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/util/version.hpp"
#include "enroll_code.hpp"
#include "pvfleet/enrollment/issuing_ca.hpp"
#include "crl_refresh.hpp"
#include "releases_wiring.hpp"
#include "pvfleet/webhooks/sender.hpp"
#include "service.hpp"

namespace pvfleet::server_app {
namespace {
constexpr const char* kUsage = R"(usage: pvfleet-server <command> [options]

commands:
  run --config FILE            ingest MQTT, serve the REST API and the web app (HTTPS with http/tls;
                               SIGHUP reloads the certificate)
  check-config --config FILE   check the config and the files it names, print the effective config;
                               exit 0 when it would start, 1 otherwise (also: run --check-config)
  migrate --config FILE        bring the database schema up to date and exit (0: up to date)
  user add --config FILE --name N --role R [--display-name D] [--password-file F]
                               create a user (admin, back_office, technician, manager, sales,
                               project_manager); the password is the first line of stdin, or of F
  import customers|leads|projects FILE.csv --config FILE
                               import customers and sites, leads, or projects from a spreadsheet export
                               (all or nothing; columns: docs/records.md, docs/crm.md, docs/projects.md)
  enroll-code create --config FILE --site SITE_ID [--ttl 72h]
                               a one-time enrollment code for a site's gateway (printed once)
  enroll-code list --config FILE --site SITE_ID | revoke --config FILE --id ID
                               the site's codes (never the codes themselves); revoke an unused one
  version                      print the server version

common options: --log-level debug|info|warn|error
)";

struct Common {
    std::optional<std::string> config_path;
    bool check_config = false;
    std::vector<std::string> rest;
};

Result<Common> parse_common(const std::vector<std::string>& args, std::size_t from) {
    Common c;
    for (std::size_t i = from; i < args.size(); ++i) {
        if (args[i] == "--config" && i + 1 < args.size()) {
            c.config_path = args[++i];
        } else if (args[i] == "--check-config") {
            c.check_config = true;
        } else if (args[i] == "--log-level" && i + 1 < args.size()) {
            log::Level level{};
            if (!log::parse_level(args[++i], level)) return Error{"--log-level: unknown '" + args[i] + "'"};
            log::set_level(level);
        } else {
            c.rest.push_back(args[i]);
        }
    }
    return c;
}

// The key of the personal customer fields: the configured file, else secret.key beside the SQLite database
// (or beside the config for PostgreSQL), created on first use. Checked against the database's key check value
// (records/key_check.hpp): a wrong key, or a missing one for a database with encrypted data, is refused.
Result<records::FieldCipher> field_cipher(const ServerConfig& config, const std::string& config_path,
                                          storage::Db& db, const Clock& clock) {
    records::KeyFileOptions key;
    if (!config.secret_key_file.empty()) {
        key.path = config.secret_key_file;
    } else {
        const std::filesystem::path beside =
            config.database.engine == storage::Engine::sqlite
                ? std::filesystem::path(config.database.sqlite_path).parent_path()
                : std::filesystem::path(config_path).parent_path();
        key.path = (beside / "secret.key").string();
        key.create_if_missing = true;
    }
    return records::open_field_cipher(db, key, clock.now());
}

// Ingest runs on an io_context and thread of its own: a long group commit never delays the HTTP API.
struct IngestThread {
    boost::asio::io_context ioc;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work{ioc.get_executor()};
    std::thread thread;

    void start() {
        thread = std::thread([this] { ioc.run(); });
    }
    // After the ingestor's staged stop has run (or when it never started).
    void join() {
        work.reset();
        ioc.stop();
        if (thread.joinable()) thread.join();
    }
    ~IngestThread() { join(); }
};

Result<std::unique_ptr<storage::Store>> open_store(const ServerConfig& config, const Clock& clock) {
    auto db = storage::open_db(config.database);
    if (!db) return db.error();
    auto store = std::make_unique<storage::Store>(std::move(*db), clock);
    auto applied = store->migrate();
    if (!applied) return applied.error();
    if (*applied > 0) PVF_LOG(info, "server", "database: " << *applied << " migration(s) applied");
    return store;
}

int cmd_migrate(const Common& common) {
    if (!common.config_path) {
        std::cerr << "pvfleet-server migrate: --config FILE is required\n";
        return 2;
    }
    auto config = load_server_config(*common.config_path);
    if (!config) {
        std::cerr << "pvfleet-server: " << config.error().message << "\n";
        return 2;
    }
    SystemClock clock;
    auto store = open_store(*config, clock);
    if (!store) {
        std::cerr << "pvfleet-server migrate: " << store.error().message << "\n";
        return 1;
    }
    std::cout << "database schema is up to date\n";
    return 0;
}

int cmd_check_config(const Common& common) {
    if (!common.config_path) {
        std::cerr << "pvfleet-server check-config: --config FILE is required\n";
        return 2;
    }
    return check_config(*common.config_path);
}

// Loads the config named by --config, or says why not (exit code 2).
std::optional<ServerConfig> config_or_complain(const Common& common, const std::string& verb) {
    if (!common.config_path) {
        std::cerr << "pvfleet-server " << verb << ": --config FILE is required\n";
        return std::nullopt;
    }
    auto config = load_server_config(*common.config_path);
    if (!config) {
        std::cerr << "pvfleet-server: " << config.error().message << "\n";
        return std::nullopt;
    }
    return std::move(*config);
}

// Options after the verb: "--name N" pairs; anything else is an error.
Result<std::map<std::string, std::string>> parse_options(const std::vector<std::string>& rest,
                                                         std::size_t from,
                                                         const std::set<std::string>& known) {
    std::map<std::string, std::string> out;
    for (std::size_t i = from; i < rest.size(); ++i) {
        if (known.count(rest[i]) == 0) return Error{"unexpected argument '" + rest[i] + "'"};
        if (i + 1 >= rest.size()) return Error{rest[i] + ": value missing"};
        out[rest[i]] = rest[i + 1];
        ++i;
    }
    return out;
}

std::string first_line(std::istream& in) {
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

int cmd_user(const Common& common) {
    const auto& rest = common.rest;
    if (rest.empty() || rest[0] != "add") {
        std::cerr << "pvfleet-server user: expected 'user add --config FILE --name N --role R'\n";
        return 2;
    }
    auto options = parse_options(rest, 1, {"--name", "--role", "--display-name", "--password-file"});
    if (!options) {
        std::cerr << "pvfleet-server user add: " << options.error().message << "\n";
        return 2;
    }
    auto& o = *options;
    if (o["--name"].empty() || o["--role"].empty()) {
        std::cerr << "pvfleet-server user add: --name and --role are required\n";
        return 2;
    }
    const auto role = records::parse_role(o["--role"]);
    if (!role) {
        std::cerr << "pvfleet-server user add: --role: unknown '" << o["--role"]
                  << "' (expected " << records::role_names() << ")\n";
        return 2;
    }
    auto config = config_or_complain(common, "user add");
    if (!config) return 2;
    // The password never appears on the command line, where other users could see it in the process list.
    std::string password;
    if (!o["--password-file"].empty()) {
        std::ifstream in(o["--password-file"]);
        if (!in) {
            std::cerr << "pvfleet-server user add: " << o["--password-file"] << ": cannot read\n";
            return 2;
        }
        password = first_line(in);
    } else {
        password = first_line(std::cin);
    }
    SystemClock clock;
    auto store = open_store(*config, clock);
    if (!store) {
        std::cerr << "pvfleet-server user add: " << store.error().message << "\n";
        return 1;
    }
    auto user = records::create_user((*store)->db(), o["--name"], o["--display-name"], *role, password, "cli",
                                     clock.now());
    if (!user) {
        std::cerr << "pvfleet-server user add: " << user.error().message << "\n";
        return 1;
    }
    std::cout << "user " << user->name << " created (" << records::to_string(user->role) << ")\n";
    return 0;
}

// The report's errors, one line each, after "N error(s), nothing imported:".
void print_import_errors(const std::vector<records::ImportRowError>& errors) {
    std::cout << errors.size() << " error(s), nothing imported:\n";
    for (const auto& e : errors)
        std::cout << "line " << e.line << (e.column.empty() ? "" : ", " + e.column) << ": " << e.message << "\n";
}

// `import customers|leads|projects FILE.csv`: the same all-or-nothing imports as the API's, with the limits of
// the config (leads/import, the project import's), as "cli:import". Exit 0 imported, 1 errors (nothing written).
int cmd_import(const Common& common) {
    const auto& rest = common.rest;
    if (rest.size() != 2 || (rest[0] != "customers" && rest[0] != "leads" && rest[0] != "projects")) {
        std::cerr << "pvfleet-server import: expected 'import customers|leads|projects FILE.csv --config FILE'\n";
        return 2;
    }
    const std::string what = rest[0];
    const std::string name = "pvfleet-server import " + what;
    auto config = config_or_complain(common, "import " + what);
    if (!config) return 2;
    // The imports bound their input themselves (leads/import/max_bytes, 2 MiB for projects); a file far beyond any
    // spreadsheet export is refused before it is read into memory.
    constexpr std::uintmax_t kFileLimit = 64 * 1024 * 1024;
    std::error_code size_ec;
    if (const auto size = std::filesystem::file_size(rest[1], size_ec); !size_ec && size > kFileLimit) {
        std::cerr << name << ": " << rest[1] << ": larger than " << kFileLimit << " bytes\n";
        return 2;
    }
    std::ifstream in(rest[1], std::ios::binary);
    if (!in) {
        std::cerr << name << ": " << rest[1] << ": cannot read\n";
        return 2;
    }
    std::ostringstream csv;
    csv << in.rdbuf();
    SystemClock clock;
    auto store = open_store(*config, clock);
    if (!store) {
        std::cerr << name << ": " << store.error().message << "\n";
        return 1;
    }
    auto cipher = field_cipher(*config, *common.config_path, (*store)->db(), clock);
    if (!cipher) {
        std::cerr << name << ": " << cipher.error().message << "\n";
        return 1;
    }
    const std::string actor = "cli:import";
    // The three reports alike: the row count, then the summary (imported) or the errors (nothing written).
    auto report_on = [&](const auto& report, const auto& summary) -> int {
        if (!report) {
            std::cerr << name << ": " << report.error().message << "\n";
            return 1;
        }
        std::cout << rest[1] << ": " << report->rows << " rows\n";
        if (!report->committed) {
            print_import_errors(report->errors);
            return 1;
        }
        std::cout << "imported: " << summary(*report) << "\n";
        return 0;
    };
    if (what == "leads")
        return report_on(
            leads::import_leads_csv((*store)->db(), *cipher, csv.str(), config->lead_settings, actor, clock.now()),
            [](const leads::LeadImportReport& r) {
                return std::to_string(r.leads_created) + " leads created, " + std::to_string(r.attached_to_leads) +
                       " attached to known leads, " + std::to_string(r.attached_to_customers) + " to known customers";
            });
    if (what == "projects")
        return report_on(
            projects::import_projects_csv((*store)->db(), config->project_settings, csv.str(), actor, clock.now()),
            [](const projects::ProjectImportReport& r) { return std::to_string(r.projects_created) + " projects created"; });
    return report_on(records::import_customers_csv((*store)->db(), *cipher, csv.str(), actor, clock.now()),
                     [](const records::ImportReport& r) {
                         return std::to_string(r.customers_created) + " customers created, " +
                                std::to_string(r.sites_created) + " sites created, " + std::to_string(r.sites_linked) +
                                " existing sites linked";
                     });
}

int cmd_enroll_code(const Common& common) {
    auto config = config_or_complain(common, "enroll-code");
    if (!config) return 2;
    SystemClock clock;
    auto store = open_store(*config, clock);
    if (!store) {
        std::cerr << "pvfleet-server enroll-code: " << store.error().message << "\n";
        return 1;
    }
    return run_enroll_code(common.rest, *config, (*store)->db(), clock);
}

// The issuing CA of the enrollment section, checked (nullptr without one); an error names the file at fault.
Result<std::shared_ptr<const enrollment::IssuingCa>> load_issuing_ca(const ServerConfig& config, const Clock& clock) {
    if (!config.enrollment) return std::shared_ptr<const enrollment::IssuingCa>();
    auto ca = enrollment::IssuingCa::load(config.enrollment->ca, clock.now());
    // The code is a one-time secret in the request: over plain HTTP anyone on the path could spend it first.
    if (ca && !config.http.served_over_tls())
        PVF_LOG(warn, "server",
                "enrollment: codes travel in clear over plain HTTP; serve HTTPS (http/tls) or set http/public_url "
                "to the https:// address of a TLS proxy");
    if (ca)
        PVF_LOG(info, "server",
                "enrollment: issuing CA " << (*ca)->subject() << " valid until " << format_iso8601((*ca)->not_after())
                                          << ", broker " << config.enrollment->settings.broker_uri);
    return ca;
}

// MQTT ingest on its own thread; null when the config turns it off.
Result<std::unique_ptr<ingest::Ingestor>> open_ingestor(const ServerConfig& config,
                                                        IngestThread& ingest_thread, storage::Store& store,
                                                        const Clock& clock,
                                                        storage::WorkOrderSink& work_orders) {
    if (!config.mqtt_enabled) return std::unique_ptr<ingest::Ingestor>();
    return ingest::Ingestor::create(ingest_thread.ioc.get_executor(), config.ingest, store, clock,
                                    &work_orders);
}

// What the API reports of ingest.
nlohmann::json ingest_stats_json(const ingest::Ingestor& ingestor) {
    const auto s = ingestor.stats();
    return nlohmann::json{{"connected", ingestor.connected()},
                          {"received", s.received},
                          {"applied", s.applied},
                          {"duplicates", s.duplicates},
                          {"rejected", s.rejected},
                          {"samples", s.samples},
                          {"ticket_events", s.ticket_events},
                          {"resend_requests", s.resend_requests},
                          {"work_orders_created", s.work_orders_created}};
}

// The API's view of the running server; ingest's hooks only when MQTT ingest runs.
void wire_api_context(api::ApiContext& api_context, const ServerConfig& config, storage::Db& api_db,
                      const records::FieldCipher& cipher, const Clock& clock,
                      const api::WebAssets& web_assets, http::WorkPool& work_pool,
                      const std::unique_ptr<ingest::Ingestor>& ingestor) {
    api_context.db = &api_db;
    api_context.cipher = &cipher;
    api_context.clock = &clock;
    api_context.web_assets = &web_assets;
    api_context.work_pool = &work_pool;
    api_context.served_over_tls = config.http.served_over_tls();
    api_context.lead_settings = config.lead_settings;  // CRM: leads
    api_context.project_settings = config.project_settings;  // CRM: projects
    api_context.webhook_settings = config.webhook_settings;  // outbound webhooks
    if (ingestor) {
        api_context.send_command = [&ingestor](const protocol::Command& c, const std::string& by) {
            return ingestor->send_command(c, by);
        };
        api_context.ingest_stats = [&ingestor] { return ingest_stats_json(*ingestor); };
    }
}

// `diagnostics`: the log bundles' runtime (nullptr: none), whose upload links set their bodies' limit.
// `documents`: whether the documents' folder is in use (its uploads get documents/max_mb).
http::HttpServerOptions http_options_of(const ServerConfig& config,
                                        std::shared_ptr<const diagnostics::Runtime> diagnostics = nullptr,
                                        const Clock* clock = nullptr, bool documents = false) {
    http::HttpServerOptions http_options;
    http_options.address = config.http.listen;
    http_options.port = config.http.port;
    http_options.max_connections = static_cast<std::size_t>(config.http.max_connections);
    http_options.trusted_proxies = config.http.trusted_proxies;
    http_options.tls = config.http.tls;
    // A release upload may be larger than any other body; a log bundle's upload up to its link's limit (only
    // a genuine, unexpired link raises it).
    const std::size_t release_limit = config.releases ? config.releases->settings.max_upload_bytes : 0;
    const std::optional<documents::Settings> document_limits =
        documents ? std::optional(config.documents) : std::nullopt;
    if (config.releases || (diagnostics && clock != nullptr) || documents) {
        http_options.body_limit_for = [release_limit, diagnostics, clock, document_limits](
                                          std::string_view method, std::string_view target) -> std::size_t {
            if (release_limit > 0 && method == "POST" &&
                target.substr(0, target.find('?')) == "/api/releases")
                return release_limit;
            if (document_limits)
                if (const auto n = documents::upload_body_limit(*document_limits, method, target); n > 0)
                    return n;
            if (clock == nullptr) return 0;
            return diagnostics ? diagnostics::upload_body_limit(*diagnostics, clock->now(), method, target)
                               : 0;
        };
    }
    // ... and goes to disk as it arrives, on the releases' filesystem (moved into place, not copied), else
    // the bundles' (a bundle is moved from the releases' folder, copied when that is another filesystem).
    if (config.releases)
        http_options.spool_dir = (config.releases->settings.dir / "incoming").string();
    else if (config.diagnostics)
        http_options.spool_dir = (config.diagnostics->dir / "incoming").string();
    else if (documents)
        http_options.spool_dir = (config.documents.dir / "incoming").string();
    return http_options;
}

// Log bundles past their retention deleted, at start and every hour (on the API's connection).
class LogBundleRetention {
public:
    LogBundleRetention(boost::asio::io_context& ioc, storage::Db& db, const Clock& clock,
                       std::shared_ptr<const diagnostics::Runtime> rt)
        : timer_(ioc), db_(db), clock_(clock), rt_(std::move(rt)) {}

    void check() {
        if (!rt_) return;
        auto removed = diagnostics::purge_expired(db_, rt_->settings, clock_.now());
        if (!removed)
            PVF_LOG(warn, "diagnostics", "log bundle retention: " << removed.error().message);
        else if (*removed > 0)
            PVF_LOG(info, "diagnostics", *removed << " log bundle(s) past their retention deleted");
        timer_.expires_after(std::chrono::hours(1));
        timer_.async_wait([this](boost::system::error_code ec) {
            if (!ec) check();
        });
    }
    void cancel() { timer_.cancel(); }

private:
    boost::asio::steady_timer timer_;
    storage::Db& db_;
    const Clock& clock_;
    std::shared_ptr<const diagnostics::Runtime> rt_;
};

// Preventive inspections: checked at start and every hour (on the API's connection: ingest keeps its own).
class PreventiveInspections {
public:
    PreventiveInspections(boost::asio::io_context& ioc, storage::Db& db, const Clock& clock)
        : timer_(ioc), db_(db), clock_(clock) {}

    void check() {
        auto created = storage::create_due_preventive_orders(db_, clock_.now(), workorders::Policy{});
        if (!created)
            PVF_LOG(warn, "server", "preventive inspections: " << created.error().message);
        else if (*created > 0)
            PVF_LOG(info, "server", *created << " preventive inspection work order(s) created");
        timer_.expires_after(std::chrono::hours(1));
        timer_.async_wait([this](boost::system::error_code ec) {
            if (!ec) check();
        });
    }
    void cancel() { timer_.cancel(); }

private:
    boost::asio::steady_timer timer_;
    storage::Db& db_;
    const Clock& clock_;
};

// Staged shutdown: stop taking messages, commit what is held, disconnect, then leave the loop.
struct ServiceHooks {
    TlsReloadOnHangup& reload;
    Watchdog& watchdog;
    projects::ReminderScheduler& reminders;
    notifications::EventDispatcher& events;
    CrlRefresh& crl;
};

void stop_on_signal(boost::asio::signal_set& signals, boost::asio::io_context& ioc,
                    PreventiveInspections& preventive, http::HttpServer& http,
                    const std::unique_ptr<ingest::Ingestor>& ingestor, ServiceHooks service) {
    signals.async_wait([&, service](boost::system::error_code ec, int sig) {
        if (ec) return;
        PVF_LOG(info, "server", "signal " << sig << ": stopping");
        systemd::notify("STOPPING=1");
        service.reload.cancel();
        service.watchdog.cancel();
        service.crl.cancel();
        preventive.cancel();
        service.reminders.stop();
        service.events.stop();
        http.stop();
        if (ingestor)
            ingestor->stop([&ioc] { ioc.stop(); });  // runs on the ingest thread once all is committed
        else
            ioc.stop();
    });
}

// The e-mail sender with a database connection of its own (the API's is not to be shared across threads).
Result<std::unique_ptr<notifications::EmailSender>> start_email_sender(const ServerConfig& config, const Clock& clock) {
    auto mailer = notifications::SmtpMailer::create(*config.smtp);
    if (!mailer) return mailer.error();
    auto db = storage::open_db(config.database);
    if (!db) return db.error();
    notifications::RetryPolicy policy;
    policy.max_attempts = config.smtp->max_attempts;
    policy.first_retry = std::chrono::seconds(config.smtp->first_retry_s);
    auto sender = std::make_unique<notifications::EmailSender>(std::move(*db), std::move(*mailer), config.smtp->from,
                                                               clock, policy);
    sender->start();
    PVF_LOG(info, "notifications", "e-mail via " << config.smtp->url << " from " << config.smtp->from);
    return sender;
}

int cmd_run(const Common& common) {
    if (common.check_config) return cmd_check_config(common);
    auto config = config_or_complain(common, "run");
    if (!config) return 2;
    PVF_LOG(info, "server", "pvfleet-server " << util::program_version() << " config " << describe(*config));
    // The web app is served from memory: read once here, so no request path ever reaches the file system.
    auto web_assets = api::WebAssets::load(config->web_root);
    if (!web_assets) {
        std::cerr << "pvfleet-server run: " << web_assets.error().message << "\n";
        return 2;
    }
    PVF_LOG(info, "server",
            "web app: " << web_assets->file_count() << " files, " << web_assets->total_bytes()
                        << " bytes from " << config->web_root);
    SystemClock clock;
    auto store = open_store(*config, clock);
    if (!store) {
        std::cerr << "pvfleet-server run: " << store.error().message << "\n";
        return 1;
    }

    storage::WorkOrderSink
        work_orders;  // every new ticket event becomes or updates a work order, in its transaction

    auto cipher = field_cipher(*config, *common.config_path, (*store)->db(), clock);
    if (!cipher) {
        std::cerr << "pvfleet-server run: " << cipher.error().message << "\n";
        return 2;
    }
    // The API has its own connection: SQLite in WAL mode lets it read while ingest writes.
    auto api_db = storage::open_db(config->database);
    if (!api_db) {
        std::cerr << "pvfleet-server run: " << api_db.error().message << "\n";
        return 1;
    }

    boost::asio::io_context ioc;  // the HTTP API, the preventive check and the signals
    IngestThread ingest_thread;
    // Declared after the io_context: destroyed (joined) first, while the coroutines awaiting it can still
    // be resumed or dropped.
    http::WorkPool work_pool({static_cast<std::size_t>(config->http.worker_threads),
                              static_cast<std::size_t>(config->http.worker_queue)});
    auto in = open_ingestor(*config, ingest_thread, **store, clock, work_orders);
    if (!in) {
        std::cerr << "pvfleet-server run: " << in.error().message << "\n";
        return 2;
    }
    std::unique_ptr<ingest::Ingestor> ingestor = std::move(*in);

    auto issuing_ca = load_issuing_ca(*config, clock);
    if (!issuing_ca) {
        std::cerr << "pvfleet-server run: " << issuing_ca.error().message << "\n";
        return 2;
    }

    api::ApiContext api_context;
    wire_api_context(api_context, *config, **api_db, *cipher, clock, *web_assets, work_pool, ingestor);
    api_context.issuing_ca = *issuing_ca;
    if (config->enrollment) {
        api_context.enrollment = config->enrollment->settings;
        api_context.enroll_limits = config->enrollment->limits;
        if (!config->enrollment->crl.file.empty())
            api_context.crl = std::make_shared<enrollment::CrlPublisher>(*issuing_ca, config->enrollment->crl);
    }
    if (config->releases) {
        auto rt = releases::load_runtime(config->releases->settings);
        if (!rt) {
            std::cerr << "pvfleet-server run: releases: " << rt.error().message << "\n";
            return 2;
        }
        api_context.releases = *rt;
        PVF_LOG(info, "releases", (*rt)->keys.size() << " trusted release key(s) from " << config->releases->settings.keys_dir
                                                     << ", files in " << config->releases->settings.dir);
    }
    if (config->diagnostics) {
        auto rt = diagnostics::load_runtime(*config->diagnostics);
        if (!rt) {
            std::cerr << "pvfleet-server run: diagnostics: " << rt.error().message << "\n";
            return 2;
        }
        api_context.diagnostics = *rt;
        PVF_LOG(info, "diagnostics", "log bundles in " << config->diagnostics->dir);
    }
    if (auto lib = documents::Library::open(config->documents)) {
        api_context.documents = std::move(*lib);
        PVF_LOG(info, "documents", "documents in " << config->documents.dir.string());
    } else if (config->documents_configured) {
        std::cerr << "pvfleet-server run: " << lib.error().message << "\n";
        return 2;
    } else {  // the default folder: the server runs, its document routes answer 503
        PVF_LOG(warn, "documents", lib.error().message << " (set documents/dir): documents are off");
    }
    api::Router router;
    api::add_routes(router, api_context);
    auto options =
        http_options_of(*config, api_context.diagnostics, &clock, api_context.documents != nullptr);
    if (!options.spool_dir.empty()) {
        // Uploads cut off by a crash or kill left their partial files here: none is anybody's now.
        std::error_code ec;
        std::filesystem::create_directories(options.spool_dir, ec);
        for (const auto& e : std::filesystem::directory_iterator(options.spool_dir, ec))
            if (std::error_code gone; e.path().filename().string().rfind("upload-", 0) == 0)
                std::filesystem::remove(e.path(), gone);
        if (ec) {
            std::cerr << "pvfleet-server run: "
                      << (config->releases      ? "releases"
                          : config->diagnostics ? "diagnostics"
                                                : "documents")
                      << "/dir: '" << options.spool_dir << "' cannot be used: " << ec.message() << "\n";
            return 2;
        }
    }
    // A large upload (a release, a document) is read only for a session its route allows: the route's checks
    // run on the head first, so nobody streams a body to disk before logging in.
    options.admit_large_body = [&router](http::Request& head) { return router.refuse_head(head); };
    auto http = http::HttpServer::create(ioc.get_executor(), std::move(options),
                                         [&router](http::Request& r) { return router.handle_async(r); });
    if (!http) {
        std::cerr << "pvfleet-server run: " << http.error().message << "\n";
        return 2;
    }
    (*http)->start();
    log_listening(*config, **http);
    if (ingestor) {
        ingest_thread.start();
        ingestor->start();
    }

    PreventiveInspections preventive(ioc, **api_db, clock);
    preventive.check();
    // CRM: stall rules every reminders/check_interval_s on the API's executor and connection (docs/projects.md).
    pvfleet::asio::AsioTimeSystem reminder_time(ioc.get_executor());
    // …and the handover to O&M from the sites' first production, on the same passes.
    projects::ReminderScheduler reminders(reminder_time, **api_db, config->reminder_settings,
                                          config->project_settings);
    reminders.start();
    // Notifications (docs/notifications.md): the event log dispatched every 2 s on the API's executor and
    // connection to its consumers; e-mail only with an smtp section, sent by a thread with its own connection.
    std::unique_ptr<notifications::EmailSender> email_sender;
    if (config->smtp) {
        auto sender = start_email_sender(*config, clock);
        if (!sender) {
            std::cerr << "pvfleet-server run: " << sender.error().message << "\n";
            return 2;
        }
        email_sender = std::move(*sender);
    }
    // Outbound webhooks (docs/webhooks.md): the sender POSTs from a thread and connection of its own.
    auto webhook_db = storage::open_db(config->database);
    if (!webhook_db) {
        std::cerr << "pvfleet-server run: " << webhook_db.error().message << "\n";
        return 1;
    }
    webhooks::Sender webhook_sender(std::move(*webhook_db), *cipher, config->webhook_settings,
                                    webhooks::make_curl_poster(), clock);
    webhook_sender.start();
    api_context.wake_webhook_sender = [&webhook_sender] { webhook_sender.wake(); };
    notifications::InboxConsumer inbox_consumer;
    notifications::EmailConsumer email_consumer(config->http.public_url);
    webhooks::WebhookConsumer webhook_consumer;
    // The consumers of the event log (storage/events.hpp), in order: inbox, e-mail, webhooks.
    std::vector<storage::EventConsumer*> event_consumers{&inbox_consumer};
    if (email_sender) event_consumers.push_back(&email_consumer);
    event_consumers.push_back(&webhook_consumer);
    notifications::EventDispatcher events(reminder_time, **api_db, event_consumers, std::chrono::seconds(2),
                                          [&email_sender, &webhook_sender] {
                                              if (email_sender) email_sender->wake();
                                              webhook_sender.wake();
                                          });
    events.start();
    CrlRefresh crl(ioc, api_context.crl, **api_db, clock);
    crl.check();
    LogBundleRetention bundle_retention(ioc, **api_db, clock, api_context.diagnostics);
    bundle_retention.check();
    std::optional<RolloutTicker> rollouts;
    if (config->releases) {
        rollouts.emplace(ioc, api_context, config->releases->site_deadline, config->releases->tick);
        rollouts->step();
    }
    TlsReloadOnHangup reload(ioc, **http);
    Watchdog watchdog(ioc, ingestor ? &ingest_thread.ioc : nullptr);
    boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
    stop_on_signal(signals, ioc, preventive, **http, ingestor, {reload, watchdog, reminders, events, crl});
    systemd::notify("READY=1");
    watchdog.start();
    PVF_LOG(info, "server", "running");
    ioc.run();
    webhook_sender.stop();  // the attempts in flight end (at most the total timeout), then its thread
    ingest_thread.join();
    if (email_sender) email_sender->stop();  // after the loops: a send under way finishes (smtp/timeout_s at most)
    PVF_LOG(info, "server", "stopped");
    return 0;
}

}  // namespace

int run_cli(const std::vector<std::string>& args) {
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        std::cout << kUsage;
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "version" || args[0] == "--version") {
        std::cout << "pvfleet-server " << util::program_version() << "\n";
        return 0;
    }
    auto common = parse_common(args, 1);
    if (!common) {
        std::cerr << "pvfleet-server: " << common.error().message << "\n";
        return 2;
    }
    // Under systemd the journal stamps each line and reads its priority from a "<N>" prefix.
    if (systemd::stderr_is_journal()) log::set_journal_format(true);
    if (args[0] == "run") return cmd_run(*common);
    if (args[0] == "check-config" || args[0] == "--check-config") return cmd_check_config(*common);
    if (args[0] == "migrate") return cmd_migrate(*common);
    if (args[0] == "user") return cmd_user(*common);
    if (args[0] == "import") return cmd_import(*common);
    if (args[0] == "enroll-code") return cmd_enroll_code(*common);
    std::cerr << "pvfleet-server: unknown command '" << args[0] << "'\n" << kUsage;
    return 2;
}

}  // namespace pvfleet::server_app
