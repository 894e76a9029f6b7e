#include "pvfleet/server_app/config.hpp"

#include <boost/asio/ip/address.hpp>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

namespace pvfleet::server_app {
namespace {

using nlohmann::json;

struct Errors {
    std::vector<std::string> list;
    void add(const std::string& path, const std::string& what) { list.push_back(path + ": " + what); }
};

void check_keys(const json& obj, const std::string& path, const std::set<std::string>& allowed, Errors& e) {
    for (const auto& [k, v] : obj.items())
        if (allowed.count(k) == 0) {
            std::string expected;
            for (const auto& a : allowed) expected += (expected.empty() ? "" : ", ") + a;
            e.add(path.empty() ? k : path + "/" + k, "unknown key (expected " + expected + ")");
        }
}

std::optional<std::string> text(const json& obj, const std::string& path, const char* key, bool required,
                                Errors& e) {
    const auto it = obj.find(key);
    if (it == obj.end()) {
        if (required) e.add(path.empty() ? key : path + "/" + key, "required");
        return std::nullopt;
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
        e.add(path.empty() ? key : path + "/" + key, "expected a non-empty string");
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::optional<long long> integer(const json& obj, const std::string& path, const char* key, long long lo,
                                 long long hi, Errors& e) {
    const auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_number_integer() || it->get<long long>() < lo || it->get<long long>() > hi) {
        e.add(path + "/" + key, "expected an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
        return std::nullopt;
    }
    return it->get<long long>();
}

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
            std::stoi(port) == 0 || std::stoi(port) > 65535)
            return "port '" + port + "' (expected 1..65535)";
        if (colon == 0) return "host missing";
    }
    return std::nullopt;
}

std::string resolve(const std::filesystem::path& base, const std::string& p) {
    const std::filesystem::path path(p);
    return path.is_absolute() ? p : (base / path).lexically_normal().string();
}

}  // namespace

Result<ServerConfig> parse_server_config(const json& doc, const std::filesystem::path& base_dir) {
    Errors e;
    ServerConfig c;
    if (!doc.is_object()) return Error{"config: expected a JSON object"};
    check_keys(doc, "", {"database", "mqtt", "http", "ingest", "secret_key_file", "web_root"}, e);

    if (const auto db = doc.find("database"); db == doc.end() || !db->is_object()) {
        e.add("database", "required object");
    } else {
        check_keys(*db, "database", {"kind", "path", "uri"}, e);
        const auto kind = text(*db, "database", "kind", true, e);
        if (kind == "sqlite") {
            c.database.engine = storage::Engine::sqlite;
            if (auto p = text(*db, "database", "path", true, e))
                c.database.sqlite_path = resolve(base_dir, *p);
        } else if (kind == "postgres") {
            c.database.engine = storage::Engine::postgres;
            if (auto u = text(*db, "database", "uri", true, e)) c.database.postgres_uri = *u;
        } else if (kind) {
            e.add("database/kind", "unknown '" + *kind + "' (expected sqlite, postgres)");
        }
    }

    if (const auto mq = doc.find("mqtt"); mq == doc.end()) {
        c.mqtt_enabled = false;
    } else if (!mq->is_object()) {
        e.add("mqtt", "expected an object");
    } else {
        check_keys(*mq, "mqtt",
                   {"uri", "client_id", "username", "password", "password_file", "tls", "shared_group"}, e);
        auto& m = c.ingest.mqtt;
        if (auto u = text(*mq, "mqtt", "uri", true, e)) m.server_uri = *u;
        m.client_id = text(*mq, "mqtt", "client_id", false, e).value_or("pvfleet-server");
        m.clean_session = false;  // persistent session: the broker queues what arrives while we are down
        m.max_inflight = 200;
        m.username = text(*mq, "mqtt", "username", false, e);
        m.password = text(*mq, "mqtt", "password", false, e);
        if (auto pf = text(*mq, "mqtt", "password_file", false, e)) {
            std::ifstream in(resolve(base_dir, *pf));
            std::string pw;
            if (!in || !std::getline(in, pw))
                e.add("mqtt/password_file", "cannot read '" + *pf + "'");
            else
                m.password = pw;
        }
        if (auto g = text(*mq, "mqtt", "shared_group", false, e)) c.ingest.shared_group = *g;
        if (const auto tls = mq->find("tls"); tls != mq->end()) {
            if (!tls->is_object()) {
                e.add("mqtt/tls", "expected an object");
            } else {
                check_keys(*tls, "mqtt/tls", {"ca_file", "cert_file", "key_file"}, e);
                mqtt::TlsOptions t;
                if (auto v = text(*tls, "mqtt/tls", "ca_file", true, e)) t.ca_file = resolve(base_dir, *v);
                if (auto v = text(*tls, "mqtt/tls", "cert_file", false, e))
                    t.cert_file = resolve(base_dir, *v);
                if (auto v = text(*tls, "mqtt/tls", "key_file", false, e)) t.key_file = resolve(base_dir, *v);
                m.tls = t;
            }
        }
    }

    if (const auto h = doc.find("http"); h != doc.end()) {
        if (!h->is_object()) {
            e.add("http", "expected an object");
        } else {
            check_keys(*h, "http",
                       {"listen", "port", "max_connections", "public_url", "worker_threads", "worker_queue",
                        "trusted_proxies"},
                       e);
            if (auto l = text(*h, "http", "listen", false, e)) c.http.listen = *l;
            if (auto p = integer(*h, "http", "port", 0, 65535, e)) c.http.port = static_cast<int>(*p);
            if (auto u = text(*h, "http", "public_url", false, e)) {
                if (auto problem = public_url_problem(*u))
                    e.add("http/public_url", *problem);
                else
                    c.http.public_url = *u;
            }
            if (auto t = integer(*h, "http", "worker_threads", 1, 64, e))
                c.http.worker_threads = static_cast<int>(*t);
            if (auto q = integer(*h, "http", "worker_queue", 0, 10000, e))
                c.http.worker_queue = static_cast<int>(*q);
            if (auto m = integer(*h, "http", "max_connections", 1, 100000, e))
                c.http.max_connections = static_cast<int>(*m);
            if (const auto t = h->find("trusted_proxies"); t != h->end()) {
                if (!t->is_array() || t->size() > 64) {
                    e.add("http/trusted_proxies", "expected an array of at most 64 IP addresses");
                } else {
                    for (std::size_t i = 0; i < t->size(); ++i) {
                        const auto& a = (*t)[i];
                        boost::system::error_code ec;
                        if (a.is_string()) (void)boost::asio::ip::make_address(a.get<std::string>(), ec);
                        if (!a.is_string() || ec)
                            e.add("http/trusted_proxies/" + std::to_string(i),
                                  "expected an IP address, got " + a.dump());
                        else
                            c.http.trusted_proxies.push_back(a.get<std::string>());
                    }
                }
            }
        }
    }

    if (const auto in = doc.find("ingest"); in != doc.end()) {
        if (!in->is_object()) {
            e.add("ingest", "expected an object");
        } else {
            check_keys(*in, "ingest",
                       {"gap_grace_s", "gap_retry_s", "gap_max_attempts", "max_batch", "max_delay_ms"}, e);
            if (auto v = integer(*in, "ingest", "gap_grace_s", 1, 86400, e))
                c.ingest.gaps.grace = Millis{*v * 1000};
            if (auto v = integer(*in, "ingest", "gap_retry_s", 1, 86400, e))
                c.ingest.gaps.retry = Millis{*v * 1000};
            if (auto v = integer(*in, "ingest", "gap_max_attempts", 1, 1000, e))
                c.ingest.gaps.max_attempts = static_cast<int>(*v);
            if (auto v = integer(*in, "ingest", "max_batch", 1, 100000, e))
                c.ingest.max_batch = static_cast<std::size_t>(*v);
            if (auto v = integer(*in, "ingest", "max_delay_ms", 0, 10000, e)) c.ingest.max_delay = Millis{*v};
        }
    }
    if (auto k = text(doc, "", "secret_key_file", false, e)) c.secret_key_file = resolve(base_dir, *k);
    c.web_root = PVFLEET_DEFAULT_WEB_ROOT;
    if (auto w = text(doc, "", "web_root", false, e)) c.web_root = resolve(base_dir, *w);

    if (!e.list.empty()) {
        std::string all;
        for (const auto& line : e.list) all += (all.empty() ? "" : "\n") + line;
        return Error{all};
    }
    return c;
}

Result<ServerConfig> load_server_config(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot open", ErrorKind::not_found};
    json doc;
    try {
        doc = json::parse(in);
    } catch (const json::parse_error& ex) {
        return Error{file.string() + ": " + ex.what()};
    }
    auto c = parse_server_config(doc, file.parent_path());
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
    if (c.database.engine == storage::Engine::postgres) {
        // libpq URIs may carry a password: show only host and database.
        const auto at = c.database.postgres_uri.find('@');
        out["database"]["uri"] = at == std::string::npos
                                     ? c.database.postgres_uri
                                     : "postgresql://***@" + c.database.postgres_uri.substr(at + 1);
        out["database"].erase("path");
    }
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
