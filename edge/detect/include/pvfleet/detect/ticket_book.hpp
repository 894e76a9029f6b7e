#pragma once
// Ticket rules, pure: one live ticket per (device, fault kind, input) — input is the MPPT input of per-input kinds
// (string_fault), none otherwise, so a live ticket for MPPT 2 never hides a new fault on MPPT 1; new evidence
// updates it, never a duplicate;
// open -> acknowledged -> resolved (auto when the clear condition held, or by a technician) -> closed.
// Every change returns a TicketEvent for the store to persist and the sync to send.
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "pvfleet/detect/config.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::detect {

class TicketBook {
public:
    explicit TicketBook(TicketConfig config = {}) : config_(config) {}

    // A detector says the fault is present. Opens a ticket, reopens a resolved (not yet closed) one, or
    // updates the live one when severity rises or `evidence` is new; otherwise no event.
    std::optional<domain::TicketEvent> raise(const std::string& device, domain::FaultKind kind,
                                             domain::Severity severity, const std::string& summary,
                                             std::vector<domain::EvidenceItem> evidence, TimePoint at) {
        return raise(device, kind, std::nullopt, severity, summary, std::move(evidence), at);
    }
    // The same for one input of the device (1-based).
    std::optional<domain::TicketEvent> raise(const std::string& device, domain::FaultKind kind,
                                             std::optional<int> input, domain::Severity severity,
                                             const std::string& summary, std::vector<domain::EvidenceItem> evidence,
                                             TimePoint at);
    // Adds evidence to a live ticket without raising it (e.g. the energy seen after a comm gap).
    std::optional<domain::TicketEvent> add_evidence(const std::string& device, domain::FaultKind kind,
                                                    std::vector<domain::EvidenceItem> evidence, TimePoint at);
    // The clear condition held: resolves the live ticket ("auto").
    std::optional<domain::TicketEvent> clear(const std::string& device, domain::FaultKind kind, TimePoint at,
                                             std::vector<domain::EvidenceItem> evidence = {}) {
        return clear(device, kind, std::nullopt, at, std::move(evidence));
    }
    std::optional<domain::TicketEvent> clear(const std::string& device, domain::FaultKind kind,
                                             std::optional<int> input, TimePoint at,
                                             std::vector<domain::EvidenceItem> evidence = {});

    // Technician actions (from the server or the on-site CLI).
    Result<domain::TicketEvent> acknowledge(const std::string& id, const std::string& by, const std::string& note,
                                            TimePoint at);
    Result<domain::TicketEvent> resolve(const std::string& id, const std::string& by, TimePoint at);
    Result<domain::TicketEvent> close(const std::string& id, TimePoint at);

    // Closes resolved tickets whose quiet period has passed.
    std::vector<domain::TicketEvent> tick(TimePoint now);

    // open or acknowledged: any ticket of (device, kind), whatever its input
    [[nodiscard]] bool is_live(const std::string& device, domain::FaultKind kind) const;
    // ... of exactly (device, kind, input)
    [[nodiscard]] bool is_live(const std::string& device, domain::FaultKind kind, std::optional<int> input) const;
    // The whole-device ticket of (device, kind) if there is one, else its first per-input ticket (non-null
    // whenever is_live(device, kind)).
    [[nodiscard]] const domain::Ticket* find(const std::string& device, domain::FaultKind kind) const;
    [[nodiscard]] const domain::Ticket* find(const std::string& device, domain::FaultKind kind,
                                             std::optional<int> input) const;
    [[nodiscard]] const domain::Ticket* find_id(const std::string& id) const;
    // Tickets not yet closed, in id order.
    [[nodiscard]] std::vector<domain::Ticket> tickets() const;

    // Replaces the book with tickets loaded from storage (tickets not closed); technician changes made by
    // another process are picked up this way.
    void load(std::vector<domain::Ticket> tickets);

private:
    using Key = std::tuple<std::string, domain::FaultKind, int>;  // input 0: none
    domain::Ticket* find_mut(const std::string& id);
    void append_evidence(domain::Ticket& t, std::vector<domain::EvidenceItem> evidence);

    TicketConfig config_;
    std::map<Key, domain::Ticket> tickets_;  // not closed
};

// `<device>-<kind>-<opened UTC>Z`, with `-mppt<input>` after the kind for per-input tickets.
std::string make_ticket_id(const std::string& device, domain::FaultKind kind, std::optional<int> input,
                           TimePoint opened_at);
// A string_fault ticket stored before tickets had an input names it only in its summary ("MPPT 3 open ..."):
// the input it is about, if the summary says.
std::optional<int> input_from_summary(const domain::Ticket& t);

// JSON forms shared by the store, the CLI and replay output.
nlohmann::json to_json(const domain::Ticket& t);
// The gateway's local page form (docs/local-ui.md): the same fields under the page's names ("device_id"),
// with the not-yet-known ones present as null or "" so the page need not test for them.
nlohmann::json to_page_json(const domain::Ticket& t);
Result<domain::Ticket> ticket_from_json(const nlohmann::json& j);
// One line for replay/CLI: {"event","ticket_id","kind","severity","device","at",...}
nlohmann::json event_line(const domain::TicketEvent& e);

}  // namespace pvfleet::detect
