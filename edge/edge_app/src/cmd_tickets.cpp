// `pvfleet-edge tickets`: the technician's view of the gateway's tickets, against the store of a running
// agent (WAL + busy timeout + short transactions make that safe). Acknowledge/resolve are recorded as ticket
// events like any other change, so the sync sends them.
#include <iomanip>
#include <iostream>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "verbs.hpp"
#include "pvfleet/detect/ticket_book.hpp"
#include "pvfleet/store/persistent_detection.hpp"
#include "pvfleet/util/time.hpp"

namespace pvfleet::edge_app {
namespace {

constexpr const char* kTicketsUsage = R"(usage: pvfleet-edge tickets [--store PATH] <action>

actions:
  list [--all] [--json]           tickets not yet closed (--all: closed ones too)
  show ID                          one ticket with its evidence and event history (JSON)
  ack ID --by NAME [--note TEXT]   acknowledge an open ticket
  resolve ID --by NAME             mark a ticket resolved (fixed on site)
--store defaults to /var/lib/pvfleet/edge.db (the agent's database).
)";

int usage_error(const std::string& message) {
    std::cerr << "pvfleet-edge tickets: " << message << "\n" << kTicketsUsage;
    return 2;
}

int failed(const Error& e) {
    std::cerr << "pvfleet-edge tickets: " << e.message << "\n";
    return e.kind == ErrorKind::not_found ? 4 : (e.kind == ErrorKind::conflict ? 5 : 1);
}

struct TicketsOptions {
    std::string store_path = "/var/lib/pvfleet/edge.db";
    std::string action;
    std::string id;
    std::string by;
    std::string note;
    bool all = false;
    bool json = false;
};

// Fills `o` from the arguments; returns the exit code when the command ends here (help or a usage error).
std::optional<int> parse_tickets_args(const Args& args, TicketsOptions& o) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&](std::string& into) -> bool {
            if (i + 1 >= args.size()) return false;
            into = args[++i];
            return true;
        };
        if (a == "--help" || a == "-h") {
            std::cout << kTicketsUsage;
            return 0;
        }
        if (a == "--store") {
            if (!value(o.store_path)) return usage_error("--store: missing path");
        } else if (a == "--by") {
            if (!value(o.by)) return usage_error("--by: missing name");
        } else if (a == "--note") {
            if (!value(o.note)) return usage_error("--note: missing text");
        } else if (a == "--all") {
            o.all = true;
        } else if (a == "--json") {
            o.json = true;
        } else if (!a.empty() && a[0] == '-') {
            return usage_error("unknown option '" + a + "'");
        } else if (o.action.empty()) {
            o.action = a;
        } else if (o.id.empty()) {
            o.id = a;
        } else {
            return usage_error("unexpected argument '" + a + "'");
        }
    }
    const std::string& action = o.action;
    if (action.empty()) return usage_error("missing action");
    if (action != "list" && action != "show" && action != "ack" && action != "resolve") {
        return usage_error("unknown action '" + action + "'");
    }
    if (action != "list" && o.id.empty()) return usage_error(action + ": missing ticket ID");
    if ((action == "ack" || action == "resolve") && o.by.empty()) return usage_error(action + ": --by NAME is required");
    return std::nullopt;
}

int list_tickets(store::GatewayStore& db, bool all, bool json) {
    auto tickets = db.tickets(all);
    if (!tickets) return failed(tickets.error());
    if (json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& t : *tickets) out.push_back(detect::to_json(t));
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    if (tickets->empty()) {
        std::cout << (all ? "no tickets\n" : "no open tickets\n");
        return 0;
    }
    for (const auto& t : *tickets) {
        std::cout << std::left << std::setw(48) << t.id << " " << std::setw(12) << to_string(t.state) << " "
                  << std::setw(8) << to_string(t.severity) << " " << format_iso8601(t.opened_at).substr(0, 16)
                  << "  " << t.summary << "\n";
    }
    return 0;
}

int show_ticket(store::GatewayStore& db, const std::string& id) {
    auto t = db.ticket(id);
    if (!t) return failed(t.error());
    if (!*t) return failed(Error{"no ticket '" + id + "'", ErrorKind::not_found});
    auto events = db.events_of(id);
    if (!events) return failed(events.error());
    nlohmann::json out = detect::to_json(**t);
    out["events"] = nlohmann::json::array();
    for (const auto& e : *events) {
        auto line = detect::event_line(e.event);
        line["event_id"] = e.event_id;
        out["events"].push_back(std::move(line));
    }
    std::cout << out.dump(2) << "\n";
    return 0;
}

}  // namespace

int cmd_tickets(const Args& args) {
    TicketsOptions o;
    if (auto done = parse_tickets_args(args, o)) return *done;

    auto opened = store::GatewayStore::open(o.store_path);
    if (!opened) return failed(opened.error());
    store::GatewayStore& db = **opened;

    if (o.action == "list") return list_tickets(db, o.all, o.json);
    if (o.action == "show") return show_ticket(db, o.id);
    const SystemClock clock;
    auto event = o.action == "ack" ? store::PersistentDetection::acknowledge(db, o.id, o.by, o.note, clock.now())
                                   : store::PersistentDetection::resolve(db, o.id, o.by, clock.now());
    if (!event) return failed(event.error());
    std::cout << detect::event_line(*event).dump() << "\n";
    return 0;
}

}  // namespace pvfleet::edge_app
