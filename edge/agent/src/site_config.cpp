#include "pvfleet/agent/site_config.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "pvfleet/detect/site.hpp"
#include "pvfleet/local_ui/password.hpp"

namespace pvfleet::agent {
namespace {

using nlohmann::json;

// Collects every error instead of stopping at the first: an installer fixes the file once.
struct Errors {
    std::vector<std::string> list;
    void add(const std::string& path, const std::string& detail) { list.push_back(path + ": " + detail); }
    void add(const Error& e, const std::string& parent = "") {
        list.push_back(parent.empty() ? e.message : e.under(parent).message);
    }
};

void check_keys(const json& obj, const std::string& path, std::initializer_list<std::string_view> allowed,
                Errors& errors) {
    for (const auto& [k, v] : obj.items()) {
        bool ok = false;
        for (auto a : allowed) ok = ok || a == k;
        if (!ok) {
            std::string list;
            for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
            errors.add((path.empty() ? "" : path + "/") + k, "unknown key (expected one of " + list + ")");
        }
    }
}

std::string at(const std::string& path, const std::string& key) {
    return path.empty() ? key : path + "/" + key;
}

std::optional<std::string> get_string(const json& obj, const std::string& path, const char* key,
                                      bool required, Errors& e) {
    auto it = obj.find(key);
    if (it == obj.end()) {
        if (required) e.add(at(path, key), "required");
        return std::nullopt;
    }
    if (!it->is_string() || it->get<std::string>().empty()) {
        e.add(at(path, key),
              "expected a non-empty string, got " + std::string(it->is_string() ? "\"\"" : it->type_name()));
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::optional<double> get_number(const json& obj, const std::string& path, const char* key, double lo,
                                 double hi, Errors& e) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_number()) {
        e.add(at(path, key), std::string("expected a number, got ") + it->type_name());
        return std::nullopt;
    }
    const double v = it->get<double>();
    if (v < lo || v > hi) {
        std::ostringstream m;
        m << "expected " << lo << ".." << hi << ", got " << v;
        e.add(at(path, key), m.str());
        return std::nullopt;
    }
    return v;
}

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
    std::filesystem::path path(p);
    return path.is_absolute() ? path : base / path;
}

void parse_timing(const json& j, const std::string& path, modbus::SessionTiming& t, Errors& e) {
    if (!j.is_object()) {
        e.add(path, "expected an object");
        return;
    }
    check_keys(j, path,
               {"pause_after_connect_ms", "pause_between_units_ms", "timeout_min_ms", "timeout_max_ms",
                "retries", "reconnect_max_ms"},
               e);
    auto ms = [&](const char* key, Millis& field) {
        if (auto v = get_number(j, path, key, 0, 600000, e)) field = Millis{static_cast<long long>(*v)};
    };
    ms("pause_after_connect_ms", t.pause_after_connect);
    ms("pause_between_units_ms", t.pause_between_units);
    ms("timeout_min_ms", t.timeout_min);
    ms("timeout_max_ms", t.timeout_max);
    ms("reconnect_max_ms", t.reconnect_backoff_max);
    if (auto v = get_number(j, path, "retries", 0, 10, e)) t.retries = static_cast<int>(*v);
    if (auto s = modbus::validate(t); !s) e.add(s.error(), path);
}

}  // namespace

Result<SiteConfig> parse_site_config(const json& doc, const std::filesystem::path& base_dir) {
    if (!doc.is_object()) return Error{std::string("expected an object, got ") + doc.type_name()};
    Errors e;
    SiteConfig c;
    check_keys(doc, "", {"$schema",   "$comment",    "format",    "site_id",   "config_version", "latitude",
                         "longitude", "elevation_m", "time_zone", "endpoints", "inverters",      "meters",
                         "batteries", "arrays",      "poll",      "store",     "mqtt",           "detection",
                         "maps_dir",  "sync",        "local_ui"},
               e);
    if (auto f = doc.find("format"); f == doc.end() || !f->is_number_integer() || f->get<int>() != 1)
        e.add("format", "expected 1");
    if (auto id = get_string(doc, "", "site_id", true, e)) {
        static const std::regex kSite("[a-z0-9][a-z0-9-]{0,62}");
        if (!std::regex_match(*id, kSite))
            e.add("site_id", "'" + *id + "' must match [a-z0-9][a-z0-9-]{0,62}");
        c.site_id = *id;
    }
    if (auto v = get_string(doc, "", "config_version", true, e)) c.config_version = *v;
    if (auto tz = get_string(doc, "", "time_zone", false, e)) c.time_zone = *tz;

    // Endpoints.
    std::set<std::string> endpoint_ids;
    if (auto it = doc.find("endpoints"); it == doc.end() || !it->is_array() || it->empty()) {
        e.add("endpoints", "expected a non-empty array");
    } else {
        for (size_t i = 0; i < it->size(); ++i) {
            const auto& j = (*it)[i];
            const std::string path = "endpoints/" + std::to_string(i);
            if (!j.is_object()) {
                e.add(path, "expected an object");
                continue;
            }
            check_keys(j, path, {"id", "tcp", "rtu", "timing"}, e);
            EndpointSpec ep;
            if (auto id = get_string(j, path, "id", true, e)) {
                ep.id = *id;
                if (!endpoint_ids.insert(*id).second) e.add(path + "/id", "duplicate '" + *id + "'");
            }
            if (j.contains("tcp") == j.contains("rtu")) {
                e.add(path, "needs exactly one of tcp, rtu");
            } else if (j.contains("tcp")) {
                if (auto t = get_string(j, path, "tcp", true, e)) {
                    auto addr = modbus::parse_tcp_address(*t);
                    if (addr)
                        ep.endpoint.address = *addr;
                    else
                        e.add(path + "/tcp", addr.error().message);
                }
            } else {
                const auto& r = j["rtu"];
                const std::string rp = path + "/rtu";
                if (!r.is_object()) {
                    e.add(rp, "expected an object");
                } else {
                    check_keys(r, rp, {"device", "baud", "parity", "data_bits", "stop_bits"}, e);
                    modbus::RtuAddress rtu;
                    if (auto d = get_string(r, rp, "device", true, e)) rtu.device = *d;
                    if (auto b = get_number(r, rp, "baud", 300, 921600, e)) rtu.baud = static_cast<int>(*b);
                    if (auto p = get_string(r, rp, "parity", false, e)) {
                        auto parity = modbus::parse_parity(*p);
                        if (parity)
                            rtu.parity = *parity;
                        else
                            e.add(rp + "/parity", parity.error().message);
                    }
                    if (auto b = get_number(r, rp, "data_bits", 7, 8, e))
                        rtu.data_bits = static_cast<int>(*b);
                    if (auto b = get_number(r, rp, "stop_bits", 1, 2, e))
                        rtu.stop_bits = static_cast<int>(*b);
                    ep.endpoint.address = rtu;
                }
            }
            if (auto t = j.find("timing"); t != j.end())
                parse_timing(*t, path + "/timing", ep.endpoint.timing, e);
            c.endpoints.push_back(std::move(ep));
        }
    }

    // Devices: inverters (also what detection judges), meters, batteries.
    std::set<std::string> device_ids;
    for (auto [key, role] : {std::pair{"inverters", DeviceRole::inverter},
                             {"meters", DeviceRole::meter},
                             {"batteries", DeviceRole::battery}}) {
        auto it = doc.find(key);
        if (it == doc.end()) {
            if (role == DeviceRole::inverter) e.add(key, "required");
            continue;
        }
        if (!it->is_array() || (role == DeviceRole::inverter && it->empty())) {
            e.add(key, "expected a non-empty array");
            continue;
        }
        for (size_t i = 0; i < it->size(); ++i) {
            const auto& j = (*it)[i];
            const std::string path = std::string(key) + "/" + std::to_string(i);
            if (!j.is_object()) {
                e.add(path, "expected an object");
                continue;
            }
            check_keys(
                j, path,
                {"id", "endpoint", "unit", "profile", "sunspec_device", "ac_kw", "efficiency", "comment"}, e);
            DeviceSpec d;
            d.role = role;
            if (auto id = get_string(j, path, "id", true, e)) {
                d.id = *id;
                if (!device_ids.insert(*id).second) e.add(path + "/id", "duplicate '" + *id + "'");
            }
            if (auto ep = get_string(j, path, "endpoint", true, e)) {
                d.endpoint = *ep;
                if (!endpoint_ids.contains(*ep)) e.add(path + "/endpoint", "no endpoint '" + *ep + "'");
            }
            if (auto u = get_number(j, path, "unit", 0, 247, e)) d.unit = static_cast<uint8_t>(*u);
            if (auto p = get_string(j, path, "profile", false, e)) d.profile = *p;
            if (auto s = get_number(j, path, "sunspec_device", 0, 16, e))
                d.sunspec_device = static_cast<int>(*s);
            c.devices.push_back(std::move(d));
        }
    }

    // Detection's view (location, inverters' AC ratings, arrays, detector overrides): its own parser checks
    // it.
    c.detection_site = json::object();
    for (const char* key : {"latitude", "longitude", "elevation_m", "inverters", "arrays", "detection"}) {
        if (doc.contains(key)) c.detection_site[key] = doc[key];
    }
    if (e.list.empty()) {
        if (auto d = detect::parse_site_detection(c.detection_site); !d) e.add(d.error());
    }

    if (auto it = doc.find("poll"); it != doc.end()) {
        if (!it->is_object()) {
            e.add("poll", "expected an object");
        } else {
            check_keys(*it, "poll", {"fast_s", "slow_s", "asleep_s", "offline_max_s"}, e);
            auto secs = [&](const char* key, Millis& field, double lo, double hi) {
                if (auto v = get_number(*it, "poll", key, lo, hi, e))
                    field = Millis{static_cast<long long>(*v * 1000)};
            };
            secs("fast_s", c.intervals.fast, 1, 3600);
            secs("slow_s", c.intervals.slow, 1, 86400);
            secs("asleep_s", c.intervals.asleep, 1, 86400);
            secs("offline_max_s", c.intervals.offline_max, 1, 86400);
        }
    }
    if (auto it = doc.find("store"); it == doc.end() || !it->is_object()) {
        e.add("store", "required: {\"path\": FILE}");
    } else {
        check_keys(*it, "store", {"path", "quota_mb"}, e);
        if (auto p = get_string(*it, "store", "path", true, e)) c.store_path = resolve(base_dir, *p);
        if (auto q = get_number(*it, "store", "quota_mb", 1, 1 << 20, e))
            c.quota_bytes = static_cast<uint64_t>(*q * 1024 * 1024);
    }
    if (auto it = doc.find("sync"); it != doc.end()) {
        if (!it->is_object())
            e.add("sync", "expected an object");
        else {
            check_keys(*it, "sync", {"batch_interval_s"}, e);
            if (auto b = get_number(*it, "sync", "batch_interval_s", 1, 3600, e))
                c.batch_interval_s = static_cast<int>(*b);
        }
    }
    if (auto it = doc.find("mqtt"); it != doc.end()) {
        if (!it->is_object()) {
            e.add("mqtt", "expected an object");
        } else {
            check_keys(*it, "mqtt", {"uri", "ca_file", "cert_file", "key_file", "username", "password_file"},
                       e);
            MqttSpec m;
            if (auto u = get_string(*it, "mqtt", "uri", true, e)) {
                m.uri = *u;
                if (m.uri.rfind("tcp://", 0) != 0 && m.uri.rfind("ssl://", 0) != 0)
                    e.add("mqtt/uri", "'" + m.uri + "' must start with tcp:// or ssl://");
            }
            auto file = [&](const char* key, std::optional<std::filesystem::path>& field) {
                if (auto f = get_string(*it, "mqtt", key, false, e)) {
                    field = resolve(base_dir, *f);
                    std::error_code ec;
                    if (!std::filesystem::is_regular_file(*field, ec))
                        e.add(std::string("mqtt/") + key, "no file " + field->string());
                }
            };
            file("ca_file", m.ca_file);
            file("cert_file", m.cert_file);
            file("key_file", m.key_file);
            file("password_file", m.password_file);
            m.username = get_string(*it, "mqtt", "username", false, e);
            if (m.password_file) {
                std::ifstream in(*m.password_file);
                std::getline(in, m.password);
            }
            if (m.uri.rfind("ssl://", 0) == 0 && !m.ca_file) e.add("mqtt/ca_file", "required for ssl://");
            if (m.cert_file.has_value() != m.key_file.has_value())
                e.add("mqtt", "cert_file and key_file go together");
            c.mqtt = std::move(m);
        }
    }
    if (auto m = get_string(doc, "", "maps_dir", false, e)) c.maps_dir = resolve(base_dir, *m);
    if (auto it = doc.find("local_ui"); it != doc.end()) {
        if (!it->is_object()) {
            e.add("local_ui", "expected an object");
        } else {
            check_keys(*it, "local_ui", {"listen", "port", "password_file", "password_hash"}, e);
            LocalUiSpec ui;
            if (auto l = get_string(*it, "local_ui", "listen", false, e)) {
                in6_addr buf{};
                if (::inet_pton(AF_INET, l->c_str(), &buf) != 1 &&
                    ::inet_pton(AF_INET6, l->c_str(), &buf) != 1)
                    e.add("local_ui/listen", "'" + *l + "' is not an IP address");
                ui.listen = *l;
            }
            if (auto p = get_number(*it, "local_ui", "port", 0, 65535, e)) ui.port = static_cast<int>(*p);
            auto file = get_string(*it, "local_ui", "password_file", false, e);
            auto hash = get_string(*it, "local_ui", "password_hash", false, e);
            // The page is never served without a password: one of the two is required.
            const bool has_file = it->contains("password_file");
            const bool has_hash = it->contains("password_hash");
            if (!has_file && !has_hash) e.add("local_ui", "needs one of password_file, password_hash");
            if (has_file && has_hash) e.add("local_ui", "password_file and password_hash exclude each other");
            std::string hash_path = "local_ui/password_hash";
            if (file) {
                ui.password_file = resolve(base_dir, *file);
                hash_path = "local_ui/password_file";
                std::ifstream in(*ui.password_file);
                if (!in) {
                    e.add(hash_path, "cannot read " + ui.password_file->string());
                } else {
                    std::getline(in, ui.password_hash);
                    while (!ui.password_hash.empty() &&
                           std::isspace(static_cast<unsigned char>(ui.password_hash.back())))
                        ui.password_hash.pop_back();
                }
            } else if (hash) {
                ui.password_hash = *hash;
            }
            if (!ui.password_hash.empty()) {
                if (auto h = local_ui::parse_password_hash(ui.password_hash); !h)
                    e.add(hash_path, h.error().message);
            }
            c.local_ui = std::move(ui);
        }
    }

    if (!e.list.empty()) {
        std::string all;
        for (const auto& line : e.list) all += (all.empty() ? "" : "\n") + line;
        return Error{all};
    }
    return c;
}

Result<SiteConfig> load_site_config(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot open", ErrorKind::not_found};
    json doc;
    try {
        doc = json::parse(in);
    } catch (const json::parse_error& ex) {
        return Error{file.string() + ": not JSON: " + ex.what()};
    }
    auto config = parse_site_config(doc, file.parent_path());
    if (!config) return config;
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(file, ec);
    config->config_file = ec ? file : absolute;
    return config;
}

json describe(const SiteConfig& c) {
    json endpoints = json::array();
    for (const auto& ep : c.endpoints)
        endpoints.push_back({{"id", ep.id}, {"address", modbus::describe(ep.endpoint.address)}});
    json devices = json::array();
    for (const auto& d : c.devices) {
        devices.push_back({{"id", d.id},
                           {"endpoint", d.endpoint},
                           {"unit", d.unit ? json(*d.unit) : json("map default")},
                           {"profile", d.profile}});
    }
    json out = {
        {"site_id", c.site_id},
        {"config_version", c.config_version},
        {"time_zone", c.time_zone},
        {"endpoints", endpoints},
        {"devices", devices},
        {"poll",
         {{"fast_s", c.intervals.fast.count() / 1000.0}, {"slow_s", c.intervals.slow.count() / 1000.0}}},
        {"store", {{"path", c.store_path.string()}, {"quota_mb", c.quota_bytes / (1024 * 1024)}}},
        {"location",
         {{"latitude", c.detection_site.value("latitude", 0.0)},
          {"longitude", c.detection_site.value("longitude", 0.0)}}}};
    if (c.config_file) out["config_file"] = c.config_file->string();
    if (c.local_ui) out["local_ui"] = {{"listen", c.local_ui->listen}, {"port", c.local_ui->port}};
    if (c.mqtt)
        out["mqtt"] = {{"uri", c.mqtt->uri},
                       {"tls", c.mqtt->ca_file.has_value()},
                       {"client_cert", c.mqtt->cert_file.has_value()}};
    return out;
}

}  // namespace pvfleet::agent
