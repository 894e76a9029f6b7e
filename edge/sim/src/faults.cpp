#include "pvfleet/sim/faults.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "pvfleet/sim/physics.hpp"
#include "pvfleet/util/number.hpp"
#include "pvfleet/util/time.hpp"
#include "wording.hpp"

namespace pvfleet::sim {

namespace {
constexpr std::pair<FaultType, std::string_view> type_names[] = {
    {FaultType::offline, "offline"},       {FaultType::string_loss, "string_loss"},
    {FaultType::event, "event"},           {FaultType::slow, "slow"},
    {FaultType::exception, "exception"},   {FaultType::truncate, "truncate"},
    {FaultType::drop_connection, "drop_connection"}, {FaultType::counter_reset, "counter_reset"},
};

// One entry of a scenario's "events"; the fault's parameters are checked by parse_fault_words.
const config::Object kEventSchema{{config::required("at", config::string()), config::required("device", config::string()),
                                   config::required("fault", config::string()), config::optional("duration"),
                                   config::optional("mppt"), config::optional("event"), config::optional("delay"),
                                   config::optional("code"), config::optional("clear")},
                                  sim_wording()};

// "'17' is not an integer in 1..16"; the caller says which word it was.
Result<int> parse_int(std::string_view text, int lo, int hi) {
    const auto v = parse_number<int>(text);
    if (!v || *v < lo || *v > hi)
        return Error{"'" + std::string(text) + "' is not an integer in " + std::to_string(lo) + ".." + std::to_string(hi)};
    return *v;
}
}  // namespace

std::string_view to_string(FaultType type) {
    for (const auto& [t, n] : type_names) {
        if (t == type) return n;
    }
    return "?";
}

std::optional<FaultType> parse_fault_type(std::string_view text) {
    for (const auto& [t, n] : type_names) {
        if (n == text) return t;
    }
    return std::nullopt;
}

Result<Millis> parse_duration(std::string_view text) {
    std::size_t digits = 0;
    while (digits < text.size() && (std::isdigit(static_cast<unsigned char>(text[digits])) || text[digits] == '.')) ++digits;
    if (digits == 0) return Error{"bad duration '" + std::string(text) + "' (expected e.g. 1500ms, 30s, 10m, 2h, 1d)"};
    const auto parsed = parse_leading_number<double>(text.substr(0, digits));
    if (!parsed) return Error{"bad duration '" + std::string(text) + "'"};
    const double number = *parsed;
    const auto unit = text.substr(digits);
    double ms_per = 0.0;
    if (unit == "ms") ms_per = 1.0;
    else if (unit == "s" || unit.empty()) ms_per = 1000.0;
    else if (unit == "m" || unit == "min") ms_per = 60'000.0;
    else if (unit == "h") ms_per = 3'600'000.0;
    else if (unit == "d") ms_per = 86'400'000.0;
    else return Error{"bad duration unit in '" + std::string(text) + "' (ms, s, m, h, d)"};
    return Millis{static_cast<long long>(number * ms_per)};
}

std::string format_duration(Millis d) {
    const auto ms = d.count();
    if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

Result<FaultSpec> parse_fault_words(const std::vector<std::string>& words) {
    if (words.empty()) return Error{"missing fault type (offline, string_loss, event, slow, exception, truncate, drop_connection, counter_reset)"};
    const auto type = parse_fault_type(words[0]);
    if (!type) return Error{"unknown fault '" + words[0] + "' (offline, string_loss, event, slow, exception, truncate, drop_connection, counter_reset)"};
    FaultSpec f;
    f.type = *type;
    std::size_t next = 1;
    auto need = [&](const char* what) -> Result<std::string> {
        if (next >= words.size()) return Error::at(std::string(to_string(f.type)), std::string("missing ") + what);
        return words[next++];
    };
    switch (f.type) {
    case FaultType::string_loss: {
        auto w = need("mppt=N");
        if (!w) return w.error();
        std::string_view v = *w;
        if (v.starts_with("mppt=")) v.remove_prefix(5);
        auto n = parse_int(v, 1, 16);
        if (!n) return Error::at("mppt", n.error().message);  // a key: the scenario's "mppt"
        f.mppt = *n;
        break;
    }
    case FaultType::event: {
        auto w = need("event name");
        if (!w) return w.error();
        if (find_fault_event(*w) == nullptr) {
            std::string known;
            for (const auto& e : fault_events()) known += (known.empty() ? "" : ", ") + std::string(e.name);
            return Error{"unknown event '" + *w + "' (" + known + ")"};
        }
        f.event = *w;
        break;
    }
    case FaultType::slow: {
        auto w = need("delay (e.g. 1500ms)");
        if (!w) return w.error();
        auto d = parse_duration(*w);
        if (!d) return d.error();
        f.delay = *d;
        break;
    }
    case FaultType::exception: {
        auto w = need("exception code");
        if (!w) return w.error();
        auto n = parse_int(*w, 1, 255);
        if (!n) return Error{"exception code: " + n.error().message};  // a word, not a key
        f.exception_code = static_cast<uint8_t>(*n);
        break;
    }
    default:
        break;
    }
    if (next < words.size()) {
        if (f.type == FaultType::counter_reset) return Error{"counter_reset takes no duration"};
        std::string_view w = words[next++];
        if (w == "for" && next < words.size()) w = words[next++];
        auto d = parse_duration(w);
        if (!d) return d.error();
        f.duration = *d;
    }
    if (next < words.size()) return Error{"unexpected '" + words[next] + "'"};
    return f;
}

Result<std::vector<ScenarioEntry>> parse_scenario(const std::string& text) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        return Error{e.what()};
    }
    if (!doc.is_object() || !doc.contains("events") || !doc.at("events").is_array()) {
        return Error::at("events", "expected an array");
    }
    std::vector<ScenarioEntry> out;
    for (std::size_t i = 0; i < doc.at("events").size(); ++i) {
        const auto& e = doc.at("events")[i];
        const auto where = "events/" + std::to_string(i);
        if (!e.is_object()) return Error::at(where, "expected an object");
        if (auto keys = kEventSchema.check_keys(e); !keys) return keys.error().under(where);
        auto str = [&](const char* key) -> Result<std::string> {
            std::string value;
            if (auto s = config::read(kEventSchema, e, key, value); !s) return s.error().under(where);
            return value;
        };
        ScenarioEntry entry;
        auto at = str("at");
        if (!at) return at.error();
        if (at->starts_with("+")) {
            auto d = parse_duration(at->substr(1));
            if (!d) return d.error().under(where + "/at");
            entry.at = *d;
        } else {
            auto t = parse_iso8601(*at);
            if (!t) return Error::at(where + "/at", "expected '+<duration>' or an ISO-8601 time: " + t.error().message);
            entry.at = *t;
        }
        auto device = str("device");
        if (!device) return device.error();
        entry.device = *device;
        auto fault = str("fault");
        if (!fault) return fault.error();
        if (*fault == "clear") {
            entry.clear_type = e.contains("clear") && e.at("clear").is_string() ? e.at("clear").get<std::string>() : "";
            if (!entry.clear_type->empty() && !parse_fault_type(*entry.clear_type)) {
                return Error::at(where + "/clear", "unknown fault '" + *entry.clear_type + "'");
            }
            out.push_back(std::move(entry));
            continue;
        }
        std::vector<std::string> words{*fault};
        auto add_param = [&](const char* key, const std::string& prefix) -> Status {
            if (!e.contains(key)) return {};
            const auto& v = e.at(key);
            if (v.is_string()) words.push_back(prefix + v.get<std::string>());
            else if (v.is_number_integer()) words.push_back(prefix + std::to_string(v.get<long long>()));
            else return Error::at(where + "/" + key, "expected a string or an integer");
            return {};
        };
        for (auto [key, prefix] : {std::pair{"mppt", "mppt="}, std::pair{"event", ""}, std::pair{"delay", ""}, std::pair{"code", ""}, std::pair{"duration", ""}}) {
            if (auto st = add_param(key, prefix); !st) return st.error();
        }
        auto spec = parse_fault_words(words);
        if (!spec) return spec.error().under(where);
        entry.fault = *spec;
        out.push_back(std::move(entry));
    }
    return out;
}

Result<std::vector<ScenarioEntry>> load_scenario(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) return Error{file.string() + ": cannot open", ErrorKind::not_found};
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = parse_scenario(text.str());
    if (!parsed) return Error{file.string() + ": " + parsed.error().message};
    return parsed;
}

}  // namespace pvfleet::sim
