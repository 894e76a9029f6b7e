// JSON form of a work order (docs/workorders.md lists the fields). Reading checks every field and reports the
// first problem with its path, like the wire codec.
#include "pvfleet/workorders/json.hpp"

#include <limits>

#include "pvfleet/util/time.hpp"

namespace pvfleet::workorders {
namespace {

using json = nlohmann::json;

std::string sub(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "/" + std::string(key);
}

std::string_view type_name(const json& j) {
    switch (j.type()) {
        case json::value_t::null:
            return "null";
        case json::value_t::boolean:
            return "boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
            return "integer";
        case json::value_t::number_float:
            return "number";
        case json::value_t::string:
            return "string";
        case json::value_t::array:
            return "array";
        case json::value_t::object:
            return "object";
        default:
            return "binary";
    }
}

Error type_error(const std::string& path, std::string_view expected, const json& got) {
    return Error::at(path, "expected " + std::string(expected) + ", got " + std::string(type_name(got)));
}

json time_json(TimePoint t) {
    return format_iso8601(t);
}
json optional_time_json(const std::optional<TimePoint>& t) {
    return t ? time_json(*t) : json(nullptr);
}

// A field of object `j`; missing and null are "absent".
const json* field(const json& j, std::string_view key) {
    const auto it = j.find(key);
    return it == j.end() || it->is_null() ? nullptr : &*it;
}

Result<const json*> need(const json& j, std::string_view key, const std::string& path) {
    const json* v = field(j, key);
    if (!v) return Error::at(sub(path, key), "missing");
    return v;
}

Result<std::string> read_string(const json& j, std::string_view key, const std::string& path, bool required) {
    const json* v = field(j, key);
    if (!v) {
        if (required) return Error::at(sub(path, key), "missing");
        return std::string();
    }
    if (!v->is_string()) return type_error(sub(path, key), "string", *v);
    return v->get<std::string>();
}

Result<TimePoint> read_time(const json& v, const std::string& at) {
    if (!v.is_string()) return type_error(at, "ISO-8601 UTC string", v);
    auto t = parse_iso8601(v.get_ref<const std::string&>());
    if (!t) return Error::at(at, t.error().message);
    return *t;
}

Result<std::optional<TimePoint>> read_optional_time(const json& j, std::string_view key,
                                                    const std::string& path) {
    const json* v = field(j, key);
    if (!v) return std::optional<TimePoint>();
    auto t = read_time(*v, sub(path, key));
    if (!t) return t.error();
    return std::optional<TimePoint>(*t);
}

Result<TimePoint> read_required_time(const json& j, std::string_view key, const std::string& path) {
    auto v = need(j, key, path);
    if (!v) return v.error();
    return read_time(**v, sub(path, key));
}

Result<double> read_number(const json& v, const std::string& at) {
    if (!v.is_number()) return type_error(at, "number", v);
    return v.get<double>();
}

template <class E>
Result<E> read_enum(const json& j, std::string_view key, const std::string& path,
                    std::optional<E> (*parse)(std::string_view)) {
    auto text = read_string(j, key, path, true);
    if (!text) return text.error();
    if (auto e = parse(*text)) return *e;
    return Error::at(sub(path, key), "unknown '" + *text + "'");
}

Result<domain::EvidenceItem> read_evidence(const json& j, const std::string& path) {
    if (!j.is_object()) return type_error(path, "object", j);
    domain::EvidenceItem e;
    auto name = read_string(j, "name", path, true);
    if (!name) return name.error();
    e.name = std::move(*name);
    auto observed = need(j, "observed", path);
    if (!observed) return observed.error();
    auto observed_value = read_number(**observed, sub(path, "observed"));
    if (!observed_value) return observed_value.error();
    e.observed = *observed_value;
    if (const json* expected = field(j, "expected")) {
        auto v = read_number(*expected, sub(path, "expected"));
        if (!v) return v.error();
        e.expected = *v;
    }
    auto unit = read_string(j, "unit", path, false);
    if (!unit) return unit.error();
    e.unit = std::move(*unit);
    auto t = read_required_time(j, "t", path);
    if (!t) return t.error();
    e.t = *t;
    return e;
}

// The steps of work_order_from_json, in the order of the members: each returns the first error; the
// macro-free style keeps the paths visible at each call.

// id, site_id, device_id.
Status read_identity(const json& j, const std::string& root, WorkOrder& o) {
    if (const json* id = field(j, "id")) {
        if (!id->is_number_integer() || id->get<std::int64_t>() < 0)
            return Error::at("id", "expected an integer >= 0");
        o.id = id->get<std::int64_t>();
    }
    auto site = read_string(j, "site_id", root, true);
    if (!site) return site.error();
    if (site->empty()) return Error::at("site_id", "must not be empty");
    o.site_id = std::move(*site);
    auto device = read_string(j, "device_id", root, true);
    if (!device) return device.error();
    if (device->empty()) return Error::at("device_id", "must not be empty");
    o.device_id = std::move(*device);
    return {};
}

// fault_kind, severity, priority, state.
Status read_classification(const json& j, const std::string& root, WorkOrder& o) {
    auto kind = read_enum<domain::FaultKind>(j, "fault_kind", root, domain::parse_fault_kind);
    if (!kind) return kind.error();
    o.kind = *kind;
    if (const json* input = field(j, "input"); input != nullptr && !input->is_null()) {
        if (!input->is_number_integer() || input->get<std::int64_t>() < 1 ||
            input->get<std::int64_t>() > domain::kMaxInput)
            return Error::at("input", "expected null or an integer 1.." + std::to_string(domain::kMaxInput));
        o.input = input->get<int>();
    }
    auto severity = read_enum<domain::Severity>(j, "severity", root, domain::parse_severity);
    if (!severity) return severity.error();
    o.severity = *severity;
    auto priority = read_enum<Priority>(j, "priority", root, parse_priority);
    if (!priority) return priority.error();
    o.priority = *priority;
    auto state = read_enum<WorkOrderState>(j, "state", root, parse_work_order_state);
    if (!state) return state.error();
    o.state = *state;
    return {};
}

// created_at, updated_at, due_at.
Status read_dates(const json& j, const std::string& root, WorkOrder& o) {
    auto created = read_required_time(j, "created_at", root);
    if (!created) return created.error();
    o.created_at = *created;
    auto updated = read_required_time(j, "updated_at", root);
    if (!updated) return updated.error();
    o.updated_at = *updated;
    auto due = read_required_time(j, "due_at", root);
    if (!due) return due.error();
    o.due_at = *due;
    return {};
}

// ticket_id, summary, evidence.
Status read_description(const json& j, const std::string& root, WorkOrder& o) {
    auto ticket = read_string(j, "ticket_id", root, false);
    if (!ticket) return ticket.error();
    o.ticket_id = std::move(*ticket);
    auto summary = read_string(j, "summary", root, false);
    if (!summary) return summary.error();
    o.summary = std::move(*summary);

    if (const json* evidence = field(j, "evidence")) {
        if (!evidence->is_array()) return type_error("evidence", "array", *evidence);
        for (std::size_t i = 0; i < evidence->size(); ++i) {
            auto item = read_evidence((*evidence)[i], "evidence/" + std::to_string(i));
            if (!item) return item.error();
            o.evidence.push_back(std::move(*item));
        }
    }
    return {};
}

// condition_cleared, cleared_at, assignee, closed_at, close_reason, reopen_count.
Status read_progress(const json& j, const std::string& root, WorkOrder& o) {
    if (const json* cleared = field(j, "condition_cleared")) {
        if (!cleared->is_boolean()) return type_error("condition_cleared", "boolean", *cleared);
        o.condition_cleared = cleared->get<bool>();
    }
    auto cleared_at = read_optional_time(j, "cleared_at", root);
    if (!cleared_at) return cleared_at.error();
    o.cleared_at = *cleared_at;

    if (const json* assignee = field(j, "assignee")) {
        if (!assignee->is_string()) return type_error("assignee", "string or null", *assignee);
        if (assignee->get_ref<const std::string&>().empty())
            return Error::at("assignee", "must not be empty");
        o.assignee = assignee->get<std::string>();
    }
    auto closed_at = read_optional_time(j, "closed_at", root);
    if (!closed_at) return closed_at.error();
    o.closed_at = *closed_at;
    auto reason = read_string(j, "close_reason", root, false);
    if (!reason) return reason.error();
    o.close_reason = std::move(*reason);

    if (const json* reopens = field(j, "reopen_count")) {
        if (!reopens->is_number_integer() || reopens->get<std::int64_t>() < 0 ||
            reopens->get<std::int64_t>() > std::numeric_limits<int>::max()) {
            return Error::at("reopen_count", "expected an integer >= 0");
        }
        o.reopen_count = reopens->get<int>();
    }
    return {};
}

}  // namespace

json work_order_to_json(const WorkOrder& o) {
    json evidence = json::array();
    for (const auto& e : o.evidence) {
        evidence.push_back({{"name", e.name},
                            {"observed", e.observed},
                            {"expected", e.expected ? json(*e.expected) : json(nullptr)},
                            {"unit", e.unit},
                            {"t", time_json(e.t)}});
    }
    return json{{"id", o.id},
                {"site_id", o.site_id},
                {"device_id", o.device_id},
                {"fault_kind", domain::to_string(o.kind)},
                {"input", o.input ? json(*o.input) : json(nullptr)},
                {"severity", domain::to_string(o.severity)},
                {"priority", to_string(o.priority)},
                {"state", to_string(o.state)},
                {"created_at", time_json(o.created_at)},
                {"updated_at", time_json(o.updated_at)},
                {"due_at", time_json(o.due_at)},
                {"ticket_id", o.ticket_id},
                {"summary", o.summary},
                {"evidence", std::move(evidence)},
                {"condition_cleared", o.condition_cleared},
                {"cleared_at", optional_time_json(o.cleared_at)},
                {"assignee", o.assignee ? json(*o.assignee) : json(nullptr)},
                {"closed_at", optional_time_json(o.closed_at)},
                {"close_reason", o.close_reason},
                {"reopen_count", o.reopen_count}};
}

Result<WorkOrder> work_order_from_json(const json& j) {
    const std::string root;
    if (!j.is_object()) return type_error("(root)", "object", j);
    WorkOrder o;
    PVF_CHECK(read_identity(j, root, o));
    PVF_CHECK(read_classification(j, root, o));
    PVF_CHECK(read_dates(j, root, o));
    PVF_CHECK(read_description(j, root, o));
    PVF_CHECK(read_progress(j, root, o));
    return o;
}

void to_json(json& j, const WorkOrder& order) {
    j = work_order_to_json(order);
}

void from_json(const json& j, WorkOrder& order) {
    auto parsed = work_order_from_json(j);
    if (!parsed) throw json::other_error::create(501, "work order: " + parsed.error().message, &j);
    order = std::move(*parsed);
}

}  // namespace pvfleet::workorders
