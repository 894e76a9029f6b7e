#include "pvfleet/server_app/config.hpp"

#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "pvfleet/util/config_schema.hpp"
#include "pvfleet/util/data_dir.hpp"
#include "pvfleet/util/number.hpp"

namespace pvfleet::server_app {
namespace {

using nlohmann::json;

// The server's config reports every error, sorts the keys it lists and says "an integer in lo..hi".
const config::Wording kWording = config::server_wording(config::RangeWords::integer);

using config::integer;
using config::optional;
using config::required;
using config::string;

const config::Object kTop{
    {optional("database"), optional("mqtt"), optional("http"), optional("ingest"), optional("enrollment"),
     optional("releases"), optional("diagnostics"), optional("secret_key_file", string().non_empty()),
     optional("web_root", string().non_empty()), optional("leads"), optional("projects"),
     optional("reminders"), optional("webhooks"), optional("smtp"), optional("documents")},
    kWording};
const config::Object kDatabase{{required("kind", config::one_of({"sqlite", "postgres"}).non_empty()),
                                optional("path", string().non_empty()), optional("uri", string().non_empty())},
                               kWording};
const config::Object kMqtt{{required("uri", string().non_empty()), optional("client_id", string().non_empty()),
                            optional("username", string().non_empty()), optional("password", string().non_empty()),
                            optional("password_file", string().non_empty()), optional("tls"),
                            optional("shared_group", string().non_empty())},
                           kWording};
const config::Object kTls{{required("ca_file", string().non_empty()), optional("cert_file", string().non_empty()),
                           optional("key_file", string().non_empty())},
                          kWording};
const config::Object kHttp{{optional("listen", string().non_empty()), optional("port", integer(0, 65535)),
                            optional("max_connections", integer(1, 100000)),
                            optional("public_url", string().non_empty()), optional("worker_threads", integer(1, 64)),
                            optional("worker_queue", integer(0, 10000)), optional("trusted_proxies"),
                            optional("tls")},
                           kWording};
const config::Object kHttpTls{{required("cert_file", string().non_empty()), required("key_file", string().non_empty()),
                               optional("chain_file", string().non_empty())},
                              kWording};
const config::Object kIngest{{optional("gap_grace_s", integer(1, 86400)), optional("gap_retry_s", integer(1, 86400)),
                              optional("gap_max_attempts", integer(1, 1000)), optional("max_batch", integer(1, 100000)),
                              optional("max_delay_ms", integer(0, 10000))},
                             kWording};

const config::Object kEnrollment{{required("ca_cert_file", string().non_empty()),
                                  required("ca_key_file", string().non_empty()),
                                  optional("ca_chain_file", string().non_empty()),
                                  required("broker_uri", string().non_empty()),
                                  optional("certificate_days", integer(1, 825)),
                                  optional("code_ttl_hours", integer(1, 2160)),
                                  optional("code_ttl_max_hours", integer(1, 2160)), optional("rate_limit"),
                                  optional("crl")},
                                 kWording};
const config::Object kCrl{{required("file", string().non_empty()), optional("root_crl_file", string().non_empty()),
                           optional("days", integer(1, 365)), optional("reload_command", string().non_empty())},
                          kWording};
const config::Object kEnrollLimits{{optional("per_address", integer(1, 100000)), optional("global", integer(1, 10000000)),
                                    optional("window_s", integer(1, 86400))},
                                   kWording};

// http/public_url: scheme http or https (lower case), a host, an optional port and path; nothing else.
std::optional<std::string> public_url_problem(const std::string& url) {
    const auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) return "expected http://HOST[:PORT][/PATH] or https://…";
    const std::string scheme = url.substr(0, scheme_end);
    if (scheme != "http" && scheme != "https") return "scheme '" + scheme + "' (expected http or https)";
    const std::string rest = url.substr(scheme_end + 3);
    const std::string authority = rest.substr(0, rest.find('/'));
    if (authority.empty()) return "host missing";
    for (const char c : url)
        if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#' || c == '\\' || c == '"' ||
            static_cast<unsigned char>(c) >= 0x7f)
            return "no blanks, control characters, query or fragment allowed";
    if (authority.find('@') != std::string::npos) return "no user name or password allowed";
    const auto colon = authority.rfind(':');
    if (colon != std::string::npos && authority.find(']', colon) == std::string::npos) {
        const std::string port = authority.substr(colon + 1);
        if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
            parse_number<int>(port).value_or(0) == 0 || parse_number<int>(port).value_or(0) > 65535)
            return "port '" + port + "' (expected 1..65535)";
        if (colon == 0) return "host missing";
    }
    return std::nullopt;
}

std::string resolve(const std::filesystem::path& base, const std::string& p) {
    const std::filesystem::path path(p);
    return path.is_absolute() ? p : (base / path).lexically_normal().string();
}

// The web app's folder when the config names none: $PVFLEET_WEB_ROOT, ../share/pvfleet/web beside the
// executable (installed tree or a build tree's staged copy), /usr/share/pvfleet/web. When none exists the last
// is kept, so loading it fails naming web_root and that folder.
std::string default_web_root() {
    auto dir = find_data_dir("web", std::nullopt, "PVFLEET_WEB_ROOT", "web app folder", "web_root");
    return dir ? dir->string() : data_dir_candidates("web", nullptr).back().string();
}

void parse_database(const json& db, const std::filesystem::path& base_dir, ServerConfig& c, config::Errors& e) {
    kDatabase.check_keys(db, "database", e);
    config::Reader r(db, "database", kDatabase, e);
    const auto kind = r.string("kind");
    if (kind == "sqlite") {
        c.database.engine = storage::Engine::sqlite;
        if (auto p = r.string("path", config::Need::required)) c.database.sqlite_path = resolve(base_dir, *p);
    } else if (kind == "postgres") {
        c.database.engine = storage::Engine::postgres;
        if (auto u = r.string("uri", config::Need::required)) c.database.postgres_uri = *u;
    }
}

void parse_mqtt(const json& mq, const std::filesystem::path& base_dir, ServerConfig& c, config::Errors& e) {
    kMqtt.check_keys(mq, "mqtt", e);
    config::Reader r(mq, "mqtt", kMqtt, e);
    auto& m = c.ingest.mqtt;
    if (auto u = r.string("uri")) m.server_uri = *u;
    m.client_id = r.string("client_id").value_or("pvfleet-server");
    m.clean_session = false;  // persistent session: the broker queues what arrives while we are down
    m.max_inflight = 200;
    m.username = r.string("username");
    m.password = r.string("password");
    if (auto pf = r.string("password_file")) {
        std::ifstream in(resolve(base_dir, *pf));
        std::string pw;
        if (!in || !std::getline(in, pw))
            e.add("mqtt/password_file", "cannot read '" + *pf + "'");
        else
            m.password = pw;
    }
    if (auto g = r.string("shared_group")) c.ingest.shared_group = *g;
    if (const auto tls = mq.find("tls"); tls != mq.end()) {
        if (!tls->is_object()) {
            e.add("mqtt/tls", "expected an object");
        } else {
            kTls.check_keys(*tls, "mqtt/tls", e);
            config::Reader t_in(*tls, "mqtt/tls", kTls, e);
            mqtt::TlsOptions t;
            if (auto v = t_in.string("ca_file")) t.ca_file = resolve(base_dir, *v);
            if (auto v = t_in.string("cert_file")) t.cert_file = resolve(base_dir, *v);
            if (auto v = t_in.string("key_file")) t.key_file = resolve(base_dir, *v);
            m.tls = t;
        }
    }
}

// http/tls: the files' paths (relative to the config); they are read when the server starts (and on SIGHUP).
void parse_http_tls(const json& t, const std::filesystem::path& base_dir, ServerConfig& c, config::Errors& e) {
    kHttpTls.check_keys(t, "http/tls", e);
    config::Reader r(t, "http/tls", kHttpTls, e);
    http::TlsFiles files;
    if (auto v = r.string("cert_file")) files.cert_file = resolve(base_dir, *v);
    if (auto v = r.string("key_file")) files.key_file = resolve(base_dir, *v);
    if (auto v = r.string("chain_file")) files.chain_file = resolve(base_dir, *v);
    c.http.tls = files;
}

void parse_http(const json& h, const std::filesystem::path& base_dir, ServerConfig& c, config::Errors& e) {
    kHttp.check_keys(h, "http", e);
    config::Reader r(h, "http", kHttp, e);
    if (auto l = r.string("listen")) c.http.listen = *l;
    if (auto p = r.integer("port")) c.http.port = static_cast<int>(*p);
    if (auto u = r.string("public_url")) {
        if (auto problem = public_url_problem(*u))
            e.add("http/public_url", *problem);
        else
            c.http.public_url = *u;
    }
    if (auto t = r.integer("worker_threads")) c.http.worker_threads = static_cast<int>(*t);
    if (auto q = r.integer("worker_queue")) c.http.worker_queue = static_cast<int>(*q);
    if (auto m = r.integer("max_connections")) c.http.max_connections = static_cast<int>(*m);
    if (const auto tls = h.find("tls"); tls != h.end()) {
        if (tls->is_object())
            parse_http_tls(*tls, base_dir, c, e);
        else
            e.add("http/tls", "expected an object");
    }
    const auto t = h.find("trusted_proxies");
    if (t == h.end()) return;
    if (!t->is_array() || t->size() > 64) {
        e.add("http/trusted_proxies", "expected an array of at most 64 IP addresses");
        return;
    }
    for (std::size_t i = 0; i < t->size(); ++i) {
        const auto& a = (*t)[i];
        boost::system::error_code ec;
        if (a.is_string()) (void)boost::asio::ip::make_address(a.get<std::string>(), ec);
        if (!a.is_string() || ec)
            e.add("http/trusted_proxies/" + std::to_string(i), "expected an IP address, got " + a.dump());
        else
            c.http.trusted_proxies.push_back(a.get<std::string>());
    }
}

void parse_ingest(const json& in, ServerConfig& c, config::Errors& e) {
    kIngest.check_keys(in, "ingest", e);
    config::Reader r(in, "ingest", kIngest, e);
    if (auto v = r.integer("gap_grace_s")) c.ingest.gaps.grace = Millis{*v * 1000};
    if (auto v = r.integer("gap_retry_s")) c.ingest.gaps.retry = Millis{*v * 1000};
    if (auto v = r.integer("gap_max_attempts")) c.ingest.gaps.max_attempts = static_cast<int>(*v);
    if (auto v = r.integer("max_batch")) c.ingest.max_batch = static_cast<std::size_t>(*v);
    if (auto v = r.integer("max_delay_ms")) c.ingest.max_delay = Millis{*v};
}

void parse_enrollment(const json& en, const std::filesystem::path& base_dir, ServerConfig& c, config::Errors& e) {
    kEnrollment.check_keys(en, "enrollment", e);
    config::Reader r(en, "enrollment", kEnrollment, e);
    EnrollmentConfig out;
    if (auto v = r.string("ca_cert_file")) out.ca.cert_file = resolve(base_dir, *v);
    if (auto v = r.string("ca_key_file")) out.ca.key_file = resolve(base_dir, *v);
    if (auto v = r.string("ca_chain_file")) out.ca.chain_file = resolve(base_dir, *v);
    if (auto v = r.string("broker_uri")) {
        // Gateways enrolled here authenticate with their certificate: only a TLS broker makes sense.
        if (v->rfind("ssl://", 0) != 0 || v->size() <= 6)
            e.add("enrollment/broker_uri", "'" + *v + "' must be ssl://HOST:PORT (gateways authenticate by certificate)");
        out.settings.broker_uri = *v;
    }
    if (auto v = r.integer("certificate_days")) out.settings.certificate_lifetime = std::chrono::hours(24 * *v);
    if (auto v = r.integer("code_ttl_max_hours")) out.settings.code_ttl_max = std::chrono::hours(*v);
    if (auto v = r.integer("code_ttl_hours")) out.settings.code_ttl_default = std::chrono::hours(*v);
    if (out.settings.code_ttl_default > out.settings.code_ttl_max)
        e.add("enrollment/code_ttl_hours", "longer than code_ttl_max_hours (" +
                                               std::to_string(out.settings.code_ttl_max.count() / 3600) + ")");
    if (const auto rl = en.find("rate_limit"); rl != en.end()) {
        if (!rl->is_object()) {
            e.add("enrollment/rate_limit", "expected an object");
        } else {
            kEnrollLimits.check_keys(*rl, "enrollment/rate_limit", e);
            config::Reader l(*rl, "enrollment/rate_limit", kEnrollLimits, e);
            if (auto v = l.integer("per_address")) out.limits.per_address = static_cast<int>(*v);
            if (auto v = l.integer("global")) out.limits.global = static_cast<int>(*v);
            if (auto v = l.integer("window_s")) out.limits.window = std::chrono::seconds(*v);
        }
    }
    if (const auto crl = en.find("crl"); crl != en.end()) {
        if (!crl->is_object()) {
            e.add("enrollment/crl", "expected an object");
        } else {
            kCrl.check_keys(*crl, "enrollment/crl", e);
            config::Reader l(*crl, "enrollment/crl", kCrl, e);
            if (auto v = l.string("file")) out.crl.file = resolve(base_dir, *v);
            if (auto v = l.string("root_crl_file")) out.crl.root_crl_file = resolve(base_dir, *v);
            if (auto v = l.integer("days")) out.crl.validity = std::chrono::hours(24 * *v);
            if (auto v = l.string("reload_command")) out.crl.reload_command = *v;
        }
    }
    c.enrollment = out;
}

const config::Object kReleases{{required("dir", string().non_empty()), required("keys_dir", string().non_empty()),
                                optional("public_url", string().non_empty()),
                                optional("max_upload_mb", integer(1, 1024)), optional("link_hours", integer(1, 720)),
                                optional("site_deadline_hours", integer(1, 168)), optional("tick_s", integer(1, 3600))},
                               kWording};

// Over-the-air updates (docs/updates.md). Gateways download over HTTPS only.
void parse_releases(const json& section, const std::filesystem::path& base_dir, ServerConfig& c, config::Errors& e) {
    kReleases.check_keys(section, "releases", e);
    config::Reader r(section, "releases", kReleases, e);
    ReleasesConfig out;
    if (auto v = r.string("dir")) out.settings.dir = resolve(base_dir, *v);
    if (auto v = r.string("keys_dir")) out.settings.keys_dir = resolve(base_dir, *v);
    out.settings.public_url = c.http.public_url;
    if (auto v = r.string("public_url")) out.settings.public_url = *v;
    if (out.settings.public_url.rfind("https://", 0) != 0)
        e.add("releases/public_url", "gateways download over HTTPS only: set releases/public_url or http/public_url "
                                     "to https://HOST[:PORT] (got '" + out.settings.public_url + "')");
    if (auto v = r.integer("max_upload_mb")) out.settings.max_upload_bytes = static_cast<std::size_t>(*v) * 1024 * 1024;
    if (auto v = r.integer("link_hours")) out.settings.link_lifetime = std::chrono::hours(*v);
    if (auto v = r.integer("site_deadline_hours")) out.site_deadline = std::chrono::hours(*v);
    if (auto v = r.integer("tick_s")) out.tick = std::chrono::seconds(*v);
    c.releases = out;
}

const config::Object kDiagnostics{
    {required("dir", string().non_empty()), optional("public_url", string().non_empty()),
     optional("link_hours", integer(1, 168)), optional("retention_days", integer(1, 3650))},
    kWording};

// Remote diagnostics (docs/updates.md, "Remote diagnostics"). Gateways upload over HTTPS only.
void parse_diagnostics(const json& section, const std::filesystem::path& base_dir, ServerConfig& c,
                       config::Errors& e) {
    kDiagnostics.check_keys(section, "diagnostics", e);
    config::Reader r(section, "diagnostics", kDiagnostics, e);
    diagnostics::Settings out;
    if (auto v = r.string("dir")) out.dir = resolve(base_dir, *v);
    out.public_url = c.http.public_url;
    if (auto v = r.string("public_url")) out.public_url = *v;
    if (out.public_url.rfind("https://", 0) != 0)
        e.add("diagnostics/public_url",
              "gateways upload over HTTPS only: set diagnostics/public_url or "
              "http/public_url to https://HOST[:PORT] (got '" +
                  out.public_url + "')");
    if (auto v = r.integer("link_hours")) out.link_lifetime = std::chrono::hours(*v);
    if (auto v = r.integer("retention_days")) out.retention = std::chrono::hours(24 * *v);
    c.diagnostics = out;
}

// Outbound webhooks (docs/webhooks.md): the address policy and the sender's bounds.
const config::Object kWebhooks{{optional("allow_private_networks"), optional("allow_loopback"),
                                optional("max_webhooks", integer(1, 1000)), optional("concurrency", integer(1, 32)),
                                optional("max_attempts", integer(1, 20)), optional("retention_days", integer(1, 3650))},
                               kWording};

void parse_webhooks(const json& section, ServerConfig& c, config::Errors& e) {
    kWebhooks.check_keys(section, "webhooks", e);
    config::Reader r(section, "webhooks", kWebhooks, e);
    auto flag = [&](const char* key, bool& out) {
        const auto it = section.find(key);
        if (it == section.end()) return;
        if (it->is_boolean())
            out = it->get<bool>();
        else
            e.add(std::string("webhooks/") + key, "expected true or false, got " + it->dump());
    };
    auto& w = c.webhook_settings;
    flag("allow_private_networks", w.network.allow_private_networks);
    flag("allow_loopback", w.network.allow_loopback);
    if (auto v = r.integer("max_webhooks")) w.limits.max_webhooks = static_cast<int>(*v);
    if (auto v = r.integer("concurrency")) w.limits.concurrency = static_cast<int>(*v);
    if (auto v = r.integer("max_attempts")) w.limits.max_attempts = static_cast<int>(*v);
    if (auto v = r.integer("retention_days")) w.limits.retention = std::chrono::hours(24 * *v);
}

const config::Object kDocuments{{optional("dir", string().non_empty()), optional("max_mb", integer(1, 1024)),
                                 optional("max_megapixels", integer(1, 400))},
                                kWording};

// Documents and photos (docs/documents.md): the folder, the largest upload and the largest image resized.
void parse_documents(const json& section, const std::filesystem::path& base_dir, ServerConfig& c,
                     config::Errors& e) {
    kDocuments.check_keys(section, "documents", e);
    config::Reader r(section, "documents", kDocuments, e);
    c.documents_configured = true;
    if (auto v = r.string("dir")) c.documents.dir = resolve(base_dir, *v);
    if (auto v = r.integer("max_mb")) c.documents.max_bytes = static_cast<std::uint64_t>(*v) * 1024 * 1024;
    if (auto v = r.integer("max_megapixels"))
        c.documents.max_pixels = static_cast<std::uint64_t>(*v) * 1'000'000;
}

using config::optional_section;

// A milestone's required documents are categories of the documents module (a typo would never be satisfied).
void check_required_documents(const projects::ProjectSettings& settings, config::Errors& e) {
    for (std::size_t i = 0; i < settings.templates.size(); ++i) {
        const auto& stages = settings.templates[i].stages;
        for (std::size_t j = 0; j < stages.size(); ++j)
            for (std::size_t k = 0; k < stages[j].milestones.size(); ++k) {
                const auto& kinds = stages[j].milestones[k].required_documents;
                for (std::size_t l = 0; l < kinds.size(); ++l)
                    if (!enum_from_name(documents::kCategoryNames, kinds[l]))
                        e.add("projects/templates/" + std::to_string(i) + "/stages/" + std::to_string(j) +
                                  "/milestones/" + std::to_string(k) + "/required_documents/" + std::to_string(l),
                              "unknown '" + kinds[l] + "' (expected " + enum_names_list(documents::kCategoryNames) +
                                  ")");
            }
    }
}

}  // namespace

Result<ServerConfig> parse_server_config(const json& doc, const std::filesystem::path& base_dir) {
    config::Errors e;
    ServerConfig c;
    if (!doc.is_object()) return Error{"config: expected a JSON object"};
    kTop.check_keys(doc, "", e);
    config::Reader top(doc, "", kTop, e);

    if (const auto db = doc.find("database"); db == doc.end() || !db->is_object())
        e.add("database", "required object");
    else
        parse_database(*db, base_dir, c, e);
    c.mqtt_enabled = doc.contains("mqtt");
    if (const json* mq = optional_section(doc, "mqtt", e)) parse_mqtt(*mq, base_dir, c, e);
    if (const json* h = optional_section(doc, "http", e)) parse_http(*h, base_dir, c, e);
    if (const json* in = optional_section(doc, "ingest", e)) parse_ingest(*in, c, e);
    if (const json* en = optional_section(doc, "enrollment", e)) parse_enrollment(*en, base_dir, c, e);
    if (const json* rl = optional_section(doc, "releases", e)) parse_releases(*rl, base_dir, c, e);
    if (const json* d = optional_section(doc, "diagnostics", e)) parse_diagnostics(*d, base_dir, c, e);
    if (const json* d = optional_section(doc, "documents", e)) parse_documents(*d, base_dir, c, e);
    if (c.documents.dir.empty())
        c.documents.dir = c.database.engine == storage::Engine::sqlite && !c.database.sqlite_path.empty()
                              ? std::filesystem::path(c.database.sqlite_path).parent_path() / "documents"
                              : std::filesystem::path("/var/lib/pvfleet/documents");
    if (const json* l = optional_section(doc, "leads", e)) {  // CRM: scoring, assignment, SLA, limits
        if (auto settings = leads::parse_settings(*l, "leads"))
            c.lead_settings = std::move(*settings);
        else
            e.add(settings.error());  // each line at its key path (leads/…)
    }
    if (const json* p = optional_section(doc, "projects", e)) {  // CRM: stage templates
        if (auto settings = projects::parse_project_settings(*p, "projects")) {
            c.project_settings = std::move(*settings);
            check_required_documents(c.project_settings, e);
        } else {
            e.add(settings.error());
        }
    }
    if (const json* r = optional_section(doc, "reminders", e)) {  // CRM: stall rules, checked against the templates
        if (auto settings = projects::parse_reminder_settings(*r, c.project_settings, "reminders"))
            c.reminder_settings = std::move(*settings);
        else
            e.add(settings.error());
    }
    if (const json* w = optional_section(doc, "webhooks", e)) parse_webhooks(*w, c, e);
    if (const json* m = optional_section(doc, "smtp", e)) {  // e-mail of notifications, errors at smtp/…
        if (auto smtp = notifications::parse_smtp_config(*m, base_dir))
            c.smtp = std::move(*smtp);
        else
            e.add(smtp.error());
    }
    if (auto k = top.string("secret_key_file")) c.secret_key_file = resolve(base_dir, *k);
    if (auto w = top.string("web_root")) c.web_root = resolve(base_dir, *w);
    else c.web_root = default_web_root();

    if (!e.empty()) return e.joined();
    return c;
}

Result<ServerConfig> load_server_config(const std::filesystem::path& file) {
    auto doc = config::read_json_file(file, "");
    if (!doc) return doc.error();
    auto c = parse_server_config(*doc, file.parent_path());
    if (!c) return Error{file.string() + ": " + c.error().message, c.error().kind};
    return c;
}

std::string describe(const ServerConfig& c) {
    json out = {
        {"database",
         {{"kind", std::string(storage::to_string(c.database.engine))}, {"path", c.database.sqlite_path}}},
        {"http",
         {{"listen", c.http.listen},
          {"port", c.http.port},
          {"max_connections", c.http.max_connections},
          {"trusted_proxies", c.http.trusted_proxies},
          {"public_url", c.http.public_url},
          {"worker_threads", c.http.worker_threads},
          {"worker_queue", c.http.worker_queue}}}};
    if (c.http.tls)
        out["http"]["tls"] = {{"cert_file", c.http.tls->cert_file},
                              {"key_file", c.http.tls->key_file},
                              {"chain_file", c.http.tls->chain_file}};
    if (c.database.engine == storage::Engine::postgres) {
        // libpq URIs may carry a password: show only host and database.
        const auto at = c.database.postgres_uri.find('@');
        out["database"]["uri"] = at == std::string::npos
                                     ? c.database.postgres_uri
                                     : "postgresql://***@" + c.database.postgres_uri.substr(at + 1);
        out["database"].erase("path");
    }
    out["documents"] = {{"dir", c.documents.dir.string()},
                        {"max_mb", c.documents.max_bytes / (1024 * 1024)},
                        {"max_megapixels", c.documents.max_pixels / 1'000'000}};
    if (c.enrollment)
        out["enrollment"] = {{"ca_cert_file", c.enrollment->ca.cert_file},
                             {"ca_key_file", c.enrollment->ca.key_file},
                             {"ca_chain_file", c.enrollment->ca.chain_file},
                             {"broker_uri", c.enrollment->settings.broker_uri},
                             {"certificate_days", c.enrollment->settings.certificate_lifetime.count() / 86400},
                             {"code_ttl_hours", c.enrollment->settings.code_ttl_default.count() / 3600},
                             {"code_ttl_max_hours", c.enrollment->settings.code_ttl_max.count() / 3600},
                             {"rate_limit",
                              {{"per_address", c.enrollment->limits.per_address},
                               {"global", c.enrollment->limits.global},
                               {"window_s", c.enrollment->limits.window.count()}}}};
    if (c.enrollment && !c.enrollment->crl.file.empty())
        out["enrollment"]["crl"] = {{"file", c.enrollment->crl.file},
                                    {"root_crl_file", c.enrollment->crl.root_crl_file},
                                    {"days", c.enrollment->crl.validity.count() / 86400},
                                    {"reload_command", c.enrollment->crl.reload_command}};
    out["webhooks"] = {{"allow_private_networks", c.webhook_settings.network.allow_private_networks},
                       {"allow_loopback", c.webhook_settings.network.allow_loopback},
                       {"max_webhooks", c.webhook_settings.limits.max_webhooks},
                       {"concurrency", c.webhook_settings.limits.concurrency},
                       {"max_attempts", c.webhook_settings.limits.max_attempts},
                       {"retention_days", c.webhook_settings.limits.retention.count() / 24}};
    if (c.smtp) out["smtp"] = notifications::describe(*c.smtp);  // the password file's name, not the password
    if (c.mqtt_enabled)
        out["mqtt"] = {{"uri", c.ingest.mqtt.server_uri},
                       {"client_id", c.ingest.mqtt.client_id},
                       {"shared_group", c.ingest.shared_group},
                       {"tls", c.ingest.mqtt.tls.has_value()},
                       {"username", c.ingest.mqtt.username.value_or("")},
                       {"gap_grace_s", c.ingest.gaps.grace.count() / 1000},
                       {"gap_retry_s", c.ingest.gaps.retry.count() / 1000}};
    return out.dump();
}

}  // namespace pvfleet::server_app
