#pragma once
// Detection with durable tickets: each batch of inputs runs through the pipeline inside one SQLite
// transaction that also writes the ticket changes, their events and the detector state. A kill or power
// cut at any point leaves either the whole batch or none of it, so a restart (which reloads the state and
// re-feeds what came after it) neither loses nor duplicates a ticket.
//
// The live agent saves the detector state less often (save_state_every()): with every step that records an
// event or a cursor, and otherwise once per interval — a step that writes nothing commits nothing, which is
// what keeps the gateway's flash wear down (docs/performance.md). A power cut then costs detection at most
// that interval of its memory (the same as being that much longer off), never a ticket or an event.
//
// The tickets are read from SQLite at resume(); after that the pipeline's book is what this detection
// recorded. Another writer on the same database (the on-site `tickets` CLI, the static technician actions
// below) is noticed by the newest event_id (one small query per step), and only then are the tickets read
// back, before the step runs.
#include <string>
#include <variant>
#include <vector>

#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/store/gateway_store.hpp"

namespace pvfleet::store {

struct NoAnswer {
    std::string device_id;
    TimePoint t;
};
using DetectionInput = std::variant<domain::Sample, NoAnswer>;

class PersistentDetection {
public:
    PersistentDetection(GatewayStore& store, detect::DetectionPipeline& pipeline) : store_(store), pipeline_(pipeline) {}

    // Loads detector state and tickets left by a previous run.
    Status resume();
    // Saves the state only with events or a cursor, or when `interval` of `clock` time has passed since it was
    // last saved (default: every step). `clock` must outlive this.
    void save_state_every(Millis interval, const Clock& clock);
    // Saves the state now if it changed since it was last saved (the agent's shutdown).
    Status flush_state();
    // One atomic step; returns the events it recorded, with their event_ids, in order. `cursor` (name,
    // value), when given, is saved in the same transaction: where a feed resumes after a restart.
    Result<std::vector<StoredEvent>> process(const std::vector<DetectionInput>& batch, bool tick = true,
                                             const std::optional<std::pair<std::string, std::string>>& cursor = {});
    // True when the last step (process() or a technician action below) found events another writer had
    // recorded since the step before, and read the tickets back first. Their events are in the store only.
    [[nodiscard]] bool others_recorded() const { return others_recorded_; }

    // Technician actions on this detection's tickets (the agent's downlink commands and local page).
    Result<StoredEvent> acknowledge_ticket(const std::string& id, const std::string& by, const std::string& note,
                                           TimePoint at);
    Result<StoredEvent> resolve_ticket(const std::string& id, const std::string& by, TimePoint at);

    // Technician actions from another process (the `tickets` CLI), on a book read from the store.
    static Result<domain::TicketEvent> acknowledge(GatewayStore& store, const std::string& id, const std::string& by,
                                                   const std::string& note, TimePoint at);
    static Result<domain::TicketEvent> resolve(GatewayStore& store, const std::string& id, const std::string& by,
                                               TimePoint at);

private:
    // Inside the step's transaction: reads the tickets back when another writer recorded events since.
    // Returns the newest event_id the store holds.
    Result<long long> catch_up();
    // After a step: what the book holds is what the store holds up to `newest`.
    void committed(long long newest, bool read_back);
    // After a failed step: memory back to what the store holds.
    void rolled_back(const nlohmann::json& state_before);
    template <class F>
    Result<StoredEvent> technician_action(F&& act);

    GatewayStore& store_;
    detect::DetectionPipeline& pipeline_;
    [[nodiscard]] bool state_due() const;
    Status write_state(const nlohmann::json& state);

    std::optional<Millis> state_interval_;
    const Clock* clock_ = nullptr;
    std::optional<TimePoint> state_saved_at_;
    std::string saved_state_;  // the state last written (dumped), to skip writing it again unchanged
    long long known_event_id_ = 0;  // the newest event the book reflects (0: read back at the next step)
    bool others_recorded_ = false;
};

}  // namespace pvfleet::store
