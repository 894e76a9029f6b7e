#include "pvfleet/detect/ticket_book.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "pvfleet/util/number.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::detect {

using domain::FaultKind;
using domain::Severity;
using domain::Ticket;
using domain::TicketEvent;
using domain::TicketEventKind;
using domain::TicketState;

namespace {
bool live(TicketState s) { return s == TicketState::open || s == TicketState::acknowledged; }

bool same_evidence(const domain::EvidenceItem& a, const domain::EvidenceItem& b) {
    return a.name == b.name && a.observed == b.observed && a.expected == b.expected;
}

int key_input(std::optional<int> input) { return input.value_or(0); }
}  // namespace

std::string make_ticket_id(const std::string& device, FaultKind kind, std::optional<int> input, TimePoint opened_at) {
    // Deterministic: the same replay gives the same ids; unique because a (device, kind, input) has one live
    // ticket at a time and opening times differ.
    std::string stamp = format_iso8601(opened_at);  // 2016-07-01T06:15:00.000Z
    std::string compact;
    for (char ch : stamp.substr(0, 19)) {
        if (ch != '-' && ch != ':') compact += ch;
    }
    const std::string in = input ? "-mppt" + std::to_string(*input) : "";
    return device + "-" + std::string(to_string(kind)) + in + "-" + compact + "Z";
}

std::optional<int> input_from_summary(const Ticket& t) {
    if (t.kind != FaultKind::string_fault || !t.summary.starts_with("MPPT ")) return std::nullopt;
    const auto digits = std::string_view(t.summary).substr(5);
    const auto n = parse_leading_number<int>(digits);
    if (!n || *n < 1 || *n > domain::kMaxInput) return std::nullopt;
    return n;
}

void TicketBook::append_evidence(Ticket& t, std::vector<domain::EvidenceItem> evidence) {
    for (auto& e : evidence) t.evidence.push_back(std::move(e));
    const auto max = static_cast<std::size_t>(std::max(1, config_.max_evidence));
    if (t.evidence.size() > max) {
        t.evidence.erase(t.evidence.begin(), t.evidence.end() - static_cast<std::ptrdiff_t>(max));
    }
}

std::optional<TicketEvent> TicketBook::raise(const std::string& device, FaultKind kind, std::optional<int> input,
                                             Severity severity, const std::string& summary,
                                             std::vector<domain::EvidenceItem> evidence, TimePoint at) {
    const Key key{device, kind, key_input(input)};
    auto it = tickets_.find(key);
    if (it == tickets_.end()) {
        Ticket t;
        t.id = make_ticket_id(device, kind, input, at);
        t.device_id = device;
        t.kind = kind;
        t.input = input;
        t.severity = severity;
        t.state = TicketState::open;
        t.summary = summary;
        t.opened_at = at;
        t.updated_at = at;
        append_evidence(t, std::move(evidence));
        auto [pos, _] = tickets_.emplace(key, std::move(t));
        return TicketEvent{TicketEventKind::opened, at, pos->second};
    }
    Ticket& t = it->second;
    if (t.state == TicketState::resolved) {
        // Came back before closing: same ticket, open again.
        t.state = TicketState::open;
        t.resolved_at.reset();
        t.resolved_by.clear();
        t.severity = severity;
        t.summary = summary;
        t.updated_at = at;
        append_evidence(t, std::move(evidence));
        return TicketEvent{TicketEventKind::opened, at, t};
    }
    bool changed = false;
    if (severity > t.severity) {
        t.severity = severity;
        t.summary = summary;
        changed = true;
    }
    std::vector<domain::EvidenceItem> fresh;
    for (auto& e : evidence) {
        const bool known = std::any_of(t.evidence.begin(), t.evidence.end(),
                                       [&](const auto& old) { return same_evidence(old, e); });
        if (!known) fresh.push_back(std::move(e));
    }
    if (!fresh.empty()) {
        append_evidence(t, std::move(fresh));
        changed = true;
    }
    if (!changed) return std::nullopt;
    t.updated_at = at;
    return TicketEvent{TicketEventKind::updated, at, t};
}

std::optional<TicketEvent> TicketBook::add_evidence(const std::string& device, FaultKind kind,
                                                    std::vector<domain::EvidenceItem> evidence, TimePoint at) {
    auto it = tickets_.find(Key{device, kind, 0});
    if (it == tickets_.end() || !live(it->second.state) || evidence.empty()) return std::nullopt;
    append_evidence(it->second, std::move(evidence));
    it->second.updated_at = at;
    return TicketEvent{TicketEventKind::updated, at, it->second};
}

std::optional<TicketEvent> TicketBook::clear(const std::string& device, FaultKind kind, std::optional<int> input,
                                             TimePoint at, std::vector<domain::EvidenceItem> evidence) {
    auto it = tickets_.find(Key{device, kind, key_input(input)});
    if (it == tickets_.end() || !live(it->second.state)) return std::nullopt;
    Ticket& t = it->second;
    append_evidence(t, std::move(evidence));
    t.state = TicketState::resolved;
    t.resolved_at = at;
    t.resolved_by = "auto";
    t.updated_at = at;
    return TicketEvent{TicketEventKind::resolved, at, t};
}

Ticket* TicketBook::find_mut(const std::string& id) {
    for (auto& [_, t] : tickets_) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

Result<TicketEvent> TicketBook::acknowledge(const std::string& id, const std::string& by, const std::string& note,
                                            TimePoint at) {
    Ticket* t = find_mut(id);
    if (t == nullptr) return Error{"no open ticket '" + id + "'", ErrorKind::not_found};
    if (by.empty()) return Error{"acknowledge needs the technician's name"};
    if (t->state != TicketState::open) {
        return Error{"ticket '" + id + "' is " + std::string(to_string(t->state)) + ", only open tickets can be acknowledged",
                     ErrorKind::conflict};
    }
    t->state = TicketState::acknowledged;
    t->acknowledged_at = at;
    t->acknowledged_by = by;
    t->acknowledge_note = note;
    t->updated_at = at;
    return TicketEvent{TicketEventKind::acknowledged, at, *t};
}

Result<TicketEvent> TicketBook::resolve(const std::string& id, const std::string& by, TimePoint at) {
    Ticket* t = find_mut(id);
    if (t == nullptr) return Error{"no open ticket '" + id + "'", ErrorKind::not_found};
    if (by.empty()) return Error{"resolve needs the technician's name"};
    if (!live(t->state)) {
        return Error{"ticket '" + id + "' is already " + std::string(to_string(t->state)), ErrorKind::conflict};
    }
    t->state = TicketState::resolved;
    t->resolved_at = at;
    t->resolved_by = by;
    t->updated_at = at;
    return TicketEvent{TicketEventKind::resolved, at, *t};
}

Result<TicketEvent> TicketBook::close(const std::string& id, TimePoint at) {
    for (auto it = tickets_.begin(); it != tickets_.end(); ++it) {
        if (it->second.id != id) continue;
        if (it->second.state != TicketState::resolved) {
            return Error{"ticket '" + id + "' must be resolved before it is closed", ErrorKind::conflict};
        }
        Ticket t = std::move(it->second);
        tickets_.erase(it);
        t.state = TicketState::closed;
        t.updated_at = at;
        return TicketEvent{TicketEventKind::closed, at, std::move(t)};
    }
    return Error{"no ticket '" + id + "' to close", ErrorKind::not_found};
}

std::vector<TicketEvent> TicketBook::tick(TimePoint now) {
    std::vector<TicketEvent> out;
    const auto quiet = Millis{static_cast<long long>(config_.close_after_resolved_min * 60000)};
    std::vector<std::string> due;
    for (const auto& [_, t] : tickets_) {
        if (t.state == TicketState::resolved && t.resolved_at && now - *t.resolved_at >= quiet) due.push_back(t.id);
    }
    for (const auto& id : due) {
        auto e = close(id, now);
        if (e) out.push_back(std::move(e.value()));
    }
    return out;
}

bool TicketBook::is_live(const std::string& device, FaultKind kind) const {
    for (auto it = tickets_.lower_bound(Key{device, kind, 0}); it != tickets_.end(); ++it) {
        if (std::get<0>(it->first) != device || std::get<1>(it->first) != kind) break;
        if (live(it->second.state)) return true;
    }
    return false;
}

bool TicketBook::is_live(const std::string& device, FaultKind kind, std::optional<int> input) const {
    const Ticket* t = find(device, kind, input);
    return t != nullptr && live(t->state);
}

const Ticket* TicketBook::find(const std::string& device, FaultKind kind) const {
    const Ticket* first = nullptr;
    for (auto it = tickets_.lower_bound(Key{device, kind, 0}); it != tickets_.end(); ++it) {
        if (std::get<0>(it->first) != device || std::get<1>(it->first) != kind) break;
        if (std::get<2>(it->first) == 0) return &it->second;
        if (first == nullptr || (live(it->second.state) && !live(first->state))) first = &it->second;
    }
    return first;
}

const Ticket* TicketBook::find(const std::string& device, FaultKind kind, std::optional<int> input) const {
    auto it = tickets_.find(Key{device, kind, key_input(input)});
    return it == tickets_.end() ? nullptr : &it->second;
}

const Ticket* TicketBook::find_id(const std::string& id) const {
    for (const auto& [_, t] : tickets_) {
        if (t.id == id) return &t;
    }
    return nullptr;
}

std::vector<Ticket> TicketBook::tickets() const {
    std::vector<Ticket> out;
    for (const auto& [_, t] : tickets_) out.push_back(t);
    std::sort(out.begin(), out.end(), [](const Ticket& a, const Ticket& b) { return a.id < b.id; });
    return out;
}

void TicketBook::load(std::vector<Ticket> tickets) {
    tickets_.clear();
    for (auto& t : tickets) {
        if (t.state == TicketState::closed) continue;
        if (!t.input) t.input = input_from_summary(t);
        Key key{t.device_id, t.kind, key_input(t.input)};
        tickets_.insert_or_assign(std::move(key), std::move(t));
    }
}

// ---- JSON ----

nlohmann::json to_json(const Ticket& t) {
    nlohmann::json ev = nlohmann::json::array();
    for (const auto& e : t.evidence) {
        nlohmann::json item{{"name", e.name}, {"observed", e.observed}, {"unit", e.unit}, {"t", format_iso8601(e.t)}};
        if (e.expected) item["expected"] = *e.expected;
        ev.push_back(std::move(item));
    }
    nlohmann::json j{{"id", t.id},
                     {"device", t.device_id},
                     {"kind", to_string(t.kind)},
                     {"severity", to_string(t.severity)},
                     {"state", to_string(t.state)},
                     {"summary", t.summary},
                     {"evidence", std::move(ev)},
                     {"opened_at", format_iso8601(t.opened_at)},
                     {"updated_at", format_iso8601(t.updated_at)}};
    if (t.input) j["input"] = *t.input;
    if (t.acknowledged_at) {
        j["acknowledged_at"] = format_iso8601(*t.acknowledged_at);
        j["acknowledged_by"] = t.acknowledged_by;
        j["acknowledge_note"] = t.acknowledge_note;
    }
    if (t.resolved_at) {
        j["resolved_at"] = format_iso8601(*t.resolved_at);
        j["resolved_by"] = t.resolved_by;
    }
    return j;
}

nlohmann::json to_page_json(const Ticket& t) {
    nlohmann::json j = to_json(t);
    j["device_id"] = std::move(j["device"]);
    j.erase("device");
    if (!t.input) j["input"] = nullptr;
    for (auto& e : j["evidence"]) {
        if (!e.contains("expected")) e["expected"] = nullptr;
    }
    if (!j.contains("acknowledged_at")) {
        j["acknowledged_at"] = nullptr;
        j["acknowledged_by"] = t.acknowledged_by;
        j["acknowledge_note"] = t.acknowledge_note;
    }
    if (!j.contains("resolved_at")) {
        j["resolved_at"] = nullptr;
        j["resolved_by"] = t.resolved_by;
    }
    return j;
}

Result<Ticket> ticket_from_json(const nlohmann::json& j) {
    try {
        Ticket t;
        t.id = j.at("id").get<std::string>();
        t.device_id = j.at("device").get<std::string>();
        auto kind = domain::parse_fault_kind(j.at("kind").get<std::string>());
        auto sev = domain::parse_severity(j.at("severity").get<std::string>());
        auto state = domain::parse_ticket_state(j.at("state").get<std::string>());
        if (!kind) return Error::at("kind", "unknown fault kind");
        if (!sev) return Error::at("severity", "unknown severity");
        if (!state) return Error::at("state", "unknown ticket state");
        t.kind = *kind;
        t.severity = *sev;
        t.state = *state;
        t.summary = j.value("summary", "");
        if (j.contains("input")) {
            const auto& in = j.at("input");
            if (!in.is_number_integer() || in.get<int>() < 1 || in.get<int>() > domain::kMaxInput) {
                return Error::at("input", "expected an input number 1.." + std::to_string(domain::kMaxInput));
            }
            t.input = in.get<int>();
        }
        auto time = [&](const char* key) -> Result<TimePoint> {
            auto r = parse_iso8601(j.at(key).get<std::string>());
            if (!r) return r.error().under(key);
            return r;
        };
        auto opened = time("opened_at");
        if (!opened) return opened.error();
        t.opened_at = *opened;
        auto updated = time("updated_at");
        if (!updated) return updated.error();
        t.updated_at = *updated;
        if (j.contains("acknowledged_at")) {
            auto a = time("acknowledged_at");
            if (!a) return a.error();
            t.acknowledged_at = *a;
            t.acknowledged_by = j.value("acknowledged_by", "");
            t.acknowledge_note = j.value("acknowledge_note", "");
        }
        if (j.contains("resolved_at")) {
            auto r = time("resolved_at");
            if (!r) return r.error();
            t.resolved_at = *r;
            t.resolved_by = j.value("resolved_by", "");
        }
        for (const auto& item : j.value("evidence", nlohmann::json::array())) {
            domain::EvidenceItem e;
            e.name = item.at("name").get<std::string>();
            e.observed = item.at("observed").get<double>();
            if (item.contains("expected")) e.expected = item.at("expected").get<double>();
            e.unit = item.value("unit", "");
            auto et = parse_iso8601(item.at("t").get<std::string>());
            if (!et) return et.error().under("evidence/t");
            e.t = *et;
            t.evidence.push_back(std::move(e));
        }
        return t;
    } catch (const nlohmann::json::exception& e) {
        return Error::at("ticket", e.what());
    }
}

nlohmann::json event_line(const TicketEvent& e) {
    nlohmann::json j{{"event", to_string(e.kind)},
                     {"ticket_id", e.ticket.id},
                     {"kind", to_string(e.ticket.kind)},
                     {"severity", to_string(e.ticket.severity)},
                     {"device", e.ticket.device_id},
                     {"at", format_iso8601(e.at)},
                     {"summary", e.ticket.summary}};
    if (e.ticket.input) j["input"] = *e.ticket.input;
    if (e.kind == domain::TicketEventKind::acknowledged) {
        j["by"] = e.ticket.acknowledged_by;
        if (!e.ticket.acknowledge_note.empty()) j["note"] = e.ticket.acknowledge_note;
    }
    if (e.kind == domain::TicketEventKind::resolved) j["by"] = e.ticket.resolved_by;
    return j;
}

}  // namespace pvfleet::detect
