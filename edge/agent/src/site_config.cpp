#include "pvfleet/agent/site_config.hpp"

#include <arpa/inet.h>

#include <cctype>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "pvfleet/detect/site.hpp"
#include "pvfleet/local_ui/password.hpp"
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::agent {
namespace {

using nlohmann::json;

// The site config reports every error (an installer fixes the file once), lists the keys it allows in
// its own order and prints ranges as the documentation does ("expected 1..3600, got 0").
const config::Wording kWording{
    "required",
    config::KeyList::declared,
    [](const config::Field& f, const json& v) -> std::string {
        if (f.type == config::Type::string)
            return "expected a non-empty string, got " + std::string(v.is_string() ? "\"\"" : v.type_name());
        return "expected " + std::string(config::type_words(f.type)) + ", got " + v.type_name();
    },
    [](const config::Field& f, const json& v) -> std::string {
        std::ostringstream m;
        m << "expected " << f.lo << ".." << f.hi << ", got " << v.get<double>();
        return m.str();
    },
    {}};

using config::number;
using config::optional;
using config::required;

config::FieldSpec text() { return config::string().non_empty(); }

// Keys in the order "unknown key" lists them.
const config::Object kSite{{optional("$schema"), optional("$comment"), optional("format"),
                            required("site_id", text()), required("config_version", text()), optional("latitude"),
                            optional("longitude"), optional("elevation_m"), optional("time_zone", text()),
                            optional("endpoints"), optional("inverters"), optional("meters"), optional("batteries"),
                            optional("arrays"), optional("poll"), optional("store"), optional("mqtt"),
                            optional("detection"), optional("maps_dir", text()), optional("sync"),
                            optional("local_ui")},
                           kWording};
const config::Object kEndpoint{
    {required("id", text()), optional("tcp", text()), optional("rtu"), optional("timing")}, kWording};
const config::Object kRtu{{required("device", text()), optional("baud", number(300, 921600)),
                           optional("parity", text()), optional("data_bits", number(7, 8)),
                           optional("stop_bits", number(1, 2))},
                          kWording};
const config::Object kTiming{{optional("pause_after_connect_ms", number(0, 600000)),
                              optional("pause_between_units_ms", number(0, 600000)),
                              optional("timeout_min_ms", number(0, 600000)),
                              optional("timeout_max_ms", number(0, 600000)), optional("retries", number(0, 10)),
                              optional("reconnect_max_ms", number(0, 600000))},
                             kWording};
// ac_kw, efficiency, mppt_inputs: detection's (parse_site_detection checks them).
const config::Object kDevice{{required("id", text()), required("endpoint", text()), optional("unit", number(0, 247)),
                              optional("profile", text()), optional("sunspec_device", number(0, 16)),
                              optional("ac_kw"), optional("efficiency"), optional("mppt_inputs"),
                              optional("comment")},
                             kWording};
const config::Object kPoll{{optional("fast_s", number(1, 3600)), optional("slow_s", number(1, 86400)),
                            optional("asleep_s", number(1, 86400)), optional("offline_max_s", number(1, 86400))},
                           kWording};
const config::Object kStore{{required("path", text()), optional("quota_mb", number(1, 1 << 20)),
                             optional("retention_days", number(1, 36500)), optional("budget_mb", number(16, 1 << 20)),
                             optional("min_free_mb", number(0, 1 << 20))},
                            kWording};
const config::Object kSync{{optional("batch_interval_s", number(1, 3600))}, kWording};
const config::Object kMqtt{{required("uri", text()), optional("ca_file", text()), optional("cert_file", text()),
                            optional("key_file", text()), optional("username", text()),
                            optional("password_file", text())},
                           kWording};
const config::Object kLocalUi{{optional("listen", text()), optional("port", number(0, 65535)),
                               optional("password_file", text()), optional("password_hash", text())},
                              kWording};

std::filesystem::path resolve(const std::filesystem::path& base, const std::string& p) {
    std::filesystem::path path(p);
    return path.is_absolute() ? path : base / path;
}

void parse_timing(const json& j, const std::string& path, modbus::SessionTiming& t, config::Errors& e) {
    if (!j.is_object()) {
        e.add(path, "expected an object");
        return;
    }
    kTiming.check_keys(j, path, e);
    config::Reader r(j, path, kTiming, e);
    auto ms = [&](const char* key, Millis& field) {
        if (auto v = r.number(key)) field = Millis{static_cast<long long>(*v)};
    };
    ms("pause_after_connect_ms", t.pause_after_connect);
    ms("pause_between_units_ms", t.pause_between_units);
    ms("timeout_min_ms", t.timeout_min);
    ms("timeout_max_ms", t.timeout_max);
    ms("reconnect_max_ms", t.reconnect_backoff_max);
    if (auto v = r.number("retries")) t.retries = static_cast<int>(*v);
    if (auto s = modbus::validate(t); !s) e.add(s.error(), path);
}

modbus::RtuAddress parse_rtu(const json& r, const std::string& rp, config::Errors& e) {
    modbus::RtuAddress rtu;
    kRtu.check_keys(r, rp, e);
    config::Reader in(r, rp, kRtu, e);
    if (auto d = in.string("device")) rtu.device = *d;
    if (auto b = in.number("baud")) rtu.baud = static_cast<int>(*b);
    if (auto p = in.string("parity")) {
        auto parity = modbus::parse_parity(*p);
        if (parity)
            rtu.parity = *parity;
        else
            e.add(rp + "/parity", parity.error().message);
    }
    if (auto b = in.number("data_bits")) rtu.data_bits = static_cast<int>(*b);
    if (auto b = in.number("stop_bits")) rtu.stop_bits = static_cast<int>(*b);
    return rtu;
}

EndpointSpec parse_endpoint(const json& j, const std::string& path, std::set<std::string>& ids, config::Errors& e) {
    kEndpoint.check_keys(j, path, e);
    config::Reader r(j, path, kEndpoint, e);
    EndpointSpec ep;
    if (auto id = r.string("id")) {
        ep.id = *id;
        if (!ids.insert(*id).second) e.add(path + "/id", "duplicate '" + *id + "'");
    }
    if (j.contains("tcp") == j.contains("rtu")) {
        e.add(path, "needs exactly one of tcp, rtu");
    } else if (j.contains("tcp")) {
        if (auto t = r.string("tcp")) {
            auto addr = modbus::parse_tcp_address(*t);
            if (addr)
                ep.endpoint.address = *addr;
            else
                e.add(path + "/tcp", addr.error().message);
        }
    } else if (const auto& rtu = j["rtu"]; !rtu.is_object()) {
        e.add(path + "/rtu", "expected an object");
    } else {
        ep.endpoint.address = parse_rtu(rtu, path + "/rtu", e);
    }
    if (auto t = j.find("timing"); t != j.end()) parse_timing(*t, path + "/timing", ep.endpoint.timing, e);
    return ep;
}

void parse_endpoints(const json& doc, SiteConfig& c, std::set<std::string>& endpoint_ids, config::Errors& e) {
    const auto it = doc.find("endpoints");
    if (it == doc.end() || !it->is_array() || it->empty()) {
        e.add("endpoints", "expected a non-empty array");
        return;
    }
    for (size_t i = 0; i < it->size(); ++i) {
        const auto& j = (*it)[i];
        const std::string path = "endpoints/" + std::to_string(i);
        if (!j.is_object()) {
            e.add(path, "expected an object");
            continue;
        }
        c.endpoints.push_back(parse_endpoint(j, path, endpoint_ids, e));
    }
}

// Inverters (also what detection judges), meters, batteries.
void parse_devices(const json& doc, SiteConfig& c, const std::set<std::string>& endpoint_ids, config::Errors& e) {
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
            kDevice.check_keys(j, path, e);
            config::Reader r(j, path, kDevice, e);
            DeviceSpec d;
            d.role = role;
            if (auto id = r.string("id")) {
                d.id = *id;
                if (!device_ids.insert(*id).second) e.add(path + "/id", "duplicate '" + *id + "'");
            }
            if (auto ep = r.string("endpoint")) {
                d.endpoint = *ep;
                if (!endpoint_ids.contains(*ep)) e.add(path + "/endpoint", "no endpoint '" + *ep + "'");
            }
            if (auto u = r.number("unit")) d.unit = static_cast<uint8_t>(*u);
            if (auto p = r.string("profile")) d.profile = *p;
            if (auto sd = r.number("sunspec_device")) d.sunspec_device = static_cast<int>(*sd);
            c.devices.push_back(std::move(d));
        }
    }
}

using config::optional_section;

void parse_poll_store_sync(const json& doc, const std::filesystem::path& base_dir, SiteConfig& c,
                           config::Errors& e) {
    if (const json* poll = optional_section(doc, "poll", e)) {
        kPoll.check_keys(*poll, "poll", e);
        config::Reader r(*poll, "poll", kPoll, e);
        auto secs = [&](const char* key, Millis& field) {
            if (auto v = r.number(key)) field = Millis{static_cast<long long>(*v * 1000)};
        };
        secs("fast_s", c.intervals.fast);
        secs("slow_s", c.intervals.slow);
        secs("asleep_s", c.intervals.asleep);
        secs("offline_max_s", c.intervals.offline_max);
    }
    if (auto it = doc.find("store"); it == doc.end() || !it->is_object()) {
        e.add("store", "required: {\"path\": FILE}");
    } else {
        kStore.check_keys(*it, "store", e);
        config::Reader r(*it, "store", kStore, e);
        if (auto p = r.string("path")) c.store_path = resolve(base_dir, *p);
        if (auto q = r.number("quota_mb")) c.quota_bytes = static_cast<uint64_t>(*q * 1024 * 1024);
        if (auto d = r.number("retention_days")) c.retention_days = static_cast<int>(*d);
        if (auto b = r.number("budget_mb")) c.budget_bytes = static_cast<uint64_t>(*b * 1024 * 1024);
        if (auto f = r.number("min_free_mb")) c.min_free_bytes = static_cast<uint64_t>(*f * 1024 * 1024);
        // The outbox lives inside the budget, and the budget needs room for the raw days besides it.
        if (c.budget_bytes <= c.quota_bytes)
            e.add("store/budget_mb", std::to_string(c.budget_bytes >> 20) + (it->contains("budget_mb") ? "" : " (the default)") +
                                         " must be larger than quota_mb (" + std::to_string(c.quota_bytes >> 20) + ")");
    }
    if (const json* sync = optional_section(doc, "sync", e)) {
        kSync.check_keys(*sync, "sync", e);
        config::Reader r(*sync, "sync", kSync, e);
        if (auto b = r.number("batch_interval_s")) c.batch_interval_s = static_cast<int>(*b);
    }
}

MqttSpec parse_mqtt(const json& j, const std::filesystem::path& base_dir, config::Errors& e) {
    kMqtt.check_keys(j, "mqtt", e);
    config::Reader r(j, "mqtt", kMqtt, e);
    MqttSpec m;
    if (auto u = r.string("uri")) {
        m.uri = *u;
        if (m.uri.rfind("tcp://", 0) != 0 && m.uri.rfind("ssl://", 0) != 0)
            e.add("mqtt/uri", "'" + m.uri + "' must start with tcp:// or ssl://");
    }
    auto file = [&](const char* key, std::optional<std::filesystem::path>& field) {
        if (auto f = r.string(key)) {
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
    m.username = r.string("username");
    if (m.password_file) {
        std::ifstream in(*m.password_file);
        std::getline(in, m.password);
    }
    if (m.uri.rfind("ssl://", 0) == 0 && !m.ca_file) e.add("mqtt/ca_file", "required for ssl://");
    if (m.cert_file.has_value() != m.key_file.has_value()) e.add("mqtt", "cert_file and key_file go together");
    return m;
}

LocalUiSpec parse_local_ui(const json& j, const std::filesystem::path& base_dir, config::Errors& e) {
    kLocalUi.check_keys(j, "local_ui", e);
    config::Reader r(j, "local_ui", kLocalUi, e);
    LocalUiSpec ui;
    if (auto l = r.string("listen")) {
        in6_addr buf{};
        if (::inet_pton(AF_INET, l->c_str(), &buf) != 1 && ::inet_pton(AF_INET6, l->c_str(), &buf) != 1)
            e.add("local_ui/listen", "'" + *l + "' is not an IP address");
        ui.listen = *l;
    }
    if (auto p = r.number("port")) ui.port = static_cast<int>(*p);
    auto file = r.string("password_file");
    auto hash = r.string("password_hash");
    // The page is never served without a password: one of the two is required.
    const bool has_file = j.contains("password_file");
    const bool has_hash = j.contains("password_hash");
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
            while (!ui.password_hash.empty() && std::isspace(static_cast<unsigned char>(ui.password_hash.back())))
                ui.password_hash.pop_back();
        }
    } else if (hash) {
        ui.password_hash = *hash;
    }
    if (!ui.password_hash.empty()) {
        if (auto h = local_ui::parse_password_hash(ui.password_hash); !h) e.add(hash_path, h.error().message);
    }
    return ui;
}

}  // namespace

Result<SiteConfig> parse_site_config(const json& doc, const std::filesystem::path& base_dir) {
    if (!doc.is_object()) return Error{std::string("expected an object, got ") + doc.type_name()};
    config::Errors e;
    SiteConfig c;
    kSite.check_keys(doc, "", e);
    config::Reader top(doc, "", kSite, e);
    if (auto f = doc.find("format"); f == doc.end() || !f->is_number_integer() || f->get<int>() != 1)
        e.add("format", "expected 1");
    if (auto id = top.string("site_id")) {
        static const std::regex kSiteId("[a-z0-9][a-z0-9-]{0,62}");
        if (!std::regex_match(*id, kSiteId)) e.add("site_id", "'" + *id + "' must match [a-z0-9][a-z0-9-]{0,62}");
        c.site_id = *id;
    }
    if (auto v = top.string("config_version")) c.config_version = *v;
    if (auto tz = top.string("time_zone")) c.time_zone = *tz;

    std::set<std::string> endpoint_ids;
    parse_endpoints(doc, c, endpoint_ids, e);
    parse_devices(doc, c, endpoint_ids, e);

    // Detection's view (location, inverters' AC ratings, arrays, detector overrides): its own parser checks
    // it.
    c.detection_site = json::object();
    for (const char* key : {"latitude", "longitude", "elevation_m", "inverters", "arrays", "detection"}) {
        if (doc.contains(key)) c.detection_site[key] = doc[key];
    }
    if (e.empty()) {
        if (auto d = detect::parse_site_detection(c.detection_site); !d) e.add(d.error());
    }

    parse_poll_store_sync(doc, base_dir, c, e);
    if (const json* mqtt = optional_section(doc, "mqtt", e)) c.mqtt = parse_mqtt(*mqtt, base_dir, e);
    if (auto m = top.string("maps_dir")) c.maps_dir = resolve(base_dir, *m);
    if (const json* ui = optional_section(doc, "local_ui", e)) c.local_ui = parse_local_ui(*ui, base_dir, e);

    if (!e.empty()) return e.joined();
    return c;
}

Result<SiteConfig> load_site_config(const std::filesystem::path& file) {
    auto doc = config::read_json_file(file, "not JSON: ");
    if (!doc) return doc.error();
    auto config = parse_site_config(*doc, file.parent_path());
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
        {"store",
         {{"path", c.store_path.string()},
          {"quota_mb", c.quota_bytes / (1024 * 1024)},
          {"retention_days", c.retention_days},
          {"budget_mb", c.budget_bytes / (1024 * 1024)},
          {"min_free_mb", c.min_free_bytes / (1024 * 1024)}}},
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
