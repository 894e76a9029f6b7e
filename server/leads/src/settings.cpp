// The `leads` section of the server config: rules as data, each error at its key path.
#include "pvfleet/leads/rules.hpp"
#include "pvfleet/util/config_schema.hpp"

namespace pvfleet::leads {
namespace {

using config::integer;
using config::Json;
using config::optional;
using config::required;

// As the server config's, with ranges said as "a number in lo..hi".
const config::Wording kWording = config::server_wording(config::RangeWords::number);

constexpr double kMaxPoints = 1000;

const config::Object kTop{{optional("scoring", config::object()), optional("assignment", config::object()),
                           optional("sla", config::object()), optional("public_capture", config::object()),
                           optional("import", config::object()),
                           optional("default_country_code", config::string().non_empty())},
                          kWording};
const config::Object kScoring{{optional("source", config::object()), optional("completeness", config::object()),
                               optional("roof", config::object()), optional("monthly_bill", config::array()),
                               optional("annual_consumption_kwh", config::array()),
                               optional("response", config::array())},
                              kWording};
const config::Object kBand{{required("min", config::number(0, 1e9)), required("points", integer(-kMaxPoints, kMaxPoints))},
                           kWording};
const config::Object kResponseBand{
    {required("within_h", config::number(0, 24 * 365)), required("points", integer(-kMaxPoints, kMaxPoints))},
    kWording};
const config::Object kAssignment{{optional("max_open_per_rep", integer(1, 100000)), optional("regions", config::array()),
                                  optional("teams", config::array())},
                                 kWording};
const config::Object kRegion{{required("name", config::string().non_empty()), required("postcode_prefixes", config::array())},
                             kWording};
const config::Object kTeam{{required("name", config::string().non_empty()), required("regions", config::array()),
                            required("members", config::array())},
                           kWording};
const config::Object kSla{{optional("first_touch_h", integer(1, 24 * 365)), optional("hot_score", integer(0, 100000)),
                           optional("hot_first_touch_h", integer(1, 24 * 365)),
                           optional("follow_up_days", integer(1, 365))},
                          kWording};
const config::Object kPublic{{optional("max_body_bytes", integer(1024, 1024 * 1024)),
                              optional("per_channel_per_minute", integer(1, 100000)),
                              optional("per_address_per_minute", integer(1, 100000))},
                             kWording};
const config::Object kImport{{optional("max_bytes", integer(1024, 64 * 1024 * 1024)),
                              optional("max_rows", integer(1, 1000000))},
                             kWording};

// {"name": points, …} whose names are those of `names` (a table's list, for the error).
template <class E, std::size_t N>
void read_points(const Json& obj, const std::string& path, const EnumNames<E, N>* names,
                 const std::vector<std::string>* fields, std::map<std::string, int>& out, config::Errors& e) {
    out.clear();
    for (const auto& [key, value] : obj.items()) {
        const std::string at = config::join(path, key);
        bool known = false;
        std::string expected;
        if (names != nullptr) {
            known = enum_from_name(*names, key).has_value();
            expected = enum_names_list(*names);
        } else {
            for (const auto& f : *fields) {
                known |= f == key;
                expected += (expected.empty() ? "" : ", ") + f;
            }
        }
        if (!known) {
            e.add(at, "unknown key (expected " + expected + ")");
            continue;
        }
        if (!value.is_number_integer() || value.template get<long long>() < -kMaxPoints || value.template get<long long>() > kMaxPoints) {
            e.add(at, "expected an integer in -1000..1000");
            continue;
        }
        out[key] = value.template get<int>();
    }
}

template <class B>
void read_bands(const Json& arr, const std::string& path, const config::Object& schema, const char* first,
                std::vector<B>& out, config::Errors& e) {
    out.clear();
    for (std::size_t i = 0; i < arr.size(); ++i) {
        const std::string at = config::join(path, std::to_string(i));
        if (!arr[i].is_object()) {
            e.add(at, "expected an object");
            continue;
        }
        schema.check_keys(arr[i], at, e);
        config::Reader r(arr[i], at, schema, e);
        const auto bound = r.number(first);
        const auto points = r.integer("points");
        if (bound && points) out.push_back(B{*bound, static_cast<int>(*points)});
    }
}

std::vector<std::string> strings(const Json& arr, const std::string& path, config::Errors& e) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < arr.size(); ++i) {
        if (!arr[i].is_string() || arr[i].get<std::string>().empty())
            e.add(config::join(path, std::to_string(i)), "expected a non-empty string");
        else
            out.push_back(arr[i].get<std::string>());
    }
    return out;
}

const std::vector<std::string> kCompletenessFields{"phone",    "email",        "address",     "postcode",
                                                   "roof_type", "monthly_bill", "desired_kwp", "budget"};

void parse_scoring(const Json& s, const std::string& path, ScoringRules& out, config::Errors& e) {
    kScoring.check_keys(s, path, e);
    config::Reader r(s, path, kScoring, e);
    if (const Json* v = r.value("source")) read_points(*v, path + "/source", &kSourceNames, nullptr, out.source, e);
    if (const Json* v = r.value("completeness"))
        read_points<Source, 8>(*v, path + "/completeness", nullptr, &kCompletenessFields, out.completeness, e);
    if (const Json* v = r.value("roof")) read_points(*v, path + "/roof", &kRoofNames, nullptr, out.roof, e);
    if (const Json* v = r.value("monthly_bill")) read_bands(*v, path + "/monthly_bill", kBand, "min", out.monthly_bill, e);
    if (const Json* v = r.value("annual_consumption_kwh"))
        read_bands(*v, path + "/annual_consumption_kwh", kBand, "min", out.annual_consumption_kwh, e);
    if (const Json* v = r.value("response")) read_bands(*v, path + "/response", kResponseBand, "within_h", out.response, e);
}

void parse_assignment(const Json& a, const std::string& path, AssignmentRules& out, config::Errors& e) {
    kAssignment.check_keys(a, path, e);
    config::Reader r(a, path, kAssignment, e);
    if (auto v = r.integer("max_open_per_rep")) out.max_open_per_rep = static_cast<int>(*v);
    if (const Json* regions = r.value("regions")) {
        out.regions.clear();
        for (std::size_t i = 0; i < regions->size(); ++i) {
            const std::string at = path + "/regions/" + std::to_string(i);
            const Json& item = (*regions)[i];
            if (!item.is_object()) {
                e.add(at, "expected an object");
                continue;
            }
            kRegion.check_keys(item, at, e);
            config::Reader ri(item, at, kRegion, e);
            Region region;
            region.name = ri.string("name").value_or("");
            if (const Json* p = ri.value("postcode_prefixes"))
                region.postcode_prefixes = strings(*p, at + "/postcode_prefixes", e);
            for (const auto& known : out.regions)
                if (known.name == region.name) e.add(at + "/name", "region '" + region.name + "' appears twice");
            out.regions.push_back(region);
        }
    }
    if (const Json* teams = r.value("teams")) {
        out.teams.clear();
        for (std::size_t i = 0; i < teams->size(); ++i) {
            const std::string at = path + "/teams/" + std::to_string(i);
            const Json& item = (*teams)[i];
            if (!item.is_object()) {
                e.add(at, "expected an object");
                continue;
            }
            kTeam.check_keys(item, at, e);
            config::Reader ti(item, at, kTeam, e);
            Team team;
            team.name = ti.string("name").value_or("");
            if (const Json* v = ti.value("regions")) team.regions = strings(*v, at + "/regions", e);
            if (const Json* v = ti.value("members")) team.members = strings(*v, at + "/members", e);
            for (std::size_t k = 0; k < team.regions.size(); ++k) {
                bool known = team.regions[k] == "*";
                for (const auto& region : out.regions) known |= region.name == team.regions[k];
                if (!known)
                    e.add(at + "/regions/" + std::to_string(k),
                          "unknown region '" + team.regions[k] + "' (not in leads/assignment/regions; \"*\": all)");
            }
            out.teams.push_back(team);
        }
    }
}

}  // namespace

Settings default_settings() {
    Settings s;
    s.scoring.source = {{"referral", 25}, {"phone", 20}, {"walk_in", 20}, {"partner", 15}, {"website", 10},
                        {"campaign", 5},  {"import", 0}, {"other", 0}};
    s.scoring.completeness = {{"phone", 5},     {"email", 3},        {"address", 4},     {"postcode", 3},
                              {"roof_type", 5}, {"monthly_bill", 5}, {"desired_kwp", 3}, {"budget", 5}};
    s.scoring.roof = {{"tile", 10}, {"metal", 10}, {"slate", 6}, {"shingle", 6}, {"flat", 4}, {"other", 0}, {"unknown", 0}};
    s.scoring.monthly_bill = {{0, 0}, {80, 10}, {150, 20}, {250, 30}};
    s.scoring.annual_consumption_kwh = {{0, 0}, {3000, 10}, {5000, 20}, {8000, 30}};
    s.scoring.response = {{1, 15}, {4, 10}, {24, 5}};
    return s;
}

Result<Settings> parse_settings(const Json& section, const std::string& path) {
    Settings s = default_settings();
    config::Errors e;
    if (!section.is_object()) return Error::at(path, "expected an object");
    kTop.check_keys(section, path, e);
    config::Reader top(section, path, kTop, e);
    if (const Json* v = top.value("scoring")) parse_scoring(*v, path + "/scoring", s.scoring, e);
    if (const Json* v = top.value("assignment")) parse_assignment(*v, path + "/assignment", s.assignment, e);
    if (const Json* v = top.value("sla")) {
        kSla.check_keys(*v, path + "/sla", e);
        config::Reader r(*v, path + "/sla", kSla, e);
        if (auto x = r.integer("first_touch_h")) s.sla.first_touch_h = static_cast<int>(*x);
        if (auto x = r.integer("hot_score")) s.sla.hot_score = static_cast<int>(*x);
        if (auto x = r.integer("hot_first_touch_h")) s.sla.hot_first_touch_h = static_cast<int>(*x);
        if (auto x = r.integer("follow_up_days")) s.sla.follow_up_days = static_cast<int>(*x);
    }
    if (const Json* v = top.value("public_capture")) {
        kPublic.check_keys(*v, path + "/public_capture", e);
        config::Reader r(*v, path + "/public_capture", kPublic, e);
        if (auto x = r.integer("max_body_bytes")) s.public_capture.max_body_bytes = static_cast<std::size_t>(*x);
        if (auto x = r.integer("per_channel_per_minute")) s.public_capture.per_channel_per_minute = static_cast<int>(*x);
        if (auto x = r.integer("per_address_per_minute")) s.public_capture.per_address_per_minute = static_cast<int>(*x);
    }
    if (const Json* v = top.value("import")) {
        kImport.check_keys(*v, path + "/import", e);
        config::Reader r(*v, path + "/import", kImport, e);
        if (auto x = r.integer("max_bytes")) s.import.max_bytes = static_cast<std::size_t>(*x);
        if (auto x = r.integer("max_rows")) s.import.max_rows = static_cast<int>(*x);
    }
    if (auto cc = top.string("default_country_code")) {
        if (cc->size() > 3 || cc->find_first_not_of("0123456789") != std::string::npos || (*cc)[0] == '0')
            e.add(path + "/default_country_code", "expected 1 to 3 digits without a leading 0 (e.g. \"49\")");
        else
            s.default_country_code = *cc;
    }
    if (!e.empty()) return e.joined();
    return s;
}

}  // namespace pvfleet::leads
