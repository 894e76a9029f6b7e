#pragma once
// Detection with durable tickets: each batch of inputs runs through the pipeline inside one SQLite
// transaction that also writes the ticket changes, their events and the detector state. A kill or power
// cut at any point leaves either the whole batch or none of it, so a restart (which reloads the state and
// re-feeds what came after it) neither loses nor duplicates a ticket.
#include <string>
#include <variant>
#include <vector>

#include "pvfleet/detect/pipeline.hpp"
#include "pvfleet/store/store.hpp"

namespace pvfleet::store {

struct NoAnswer {
    std::string device_id;
    TimePoint t;
};
using DetectionInput = std::variant<domain::Sample, NoAnswer>;

class PersistentDetection {
public:
    PersistentDetection(Store& store, detect::DetectionPipeline& pipeline) : store_(store), pipeline_(pipeline) {}

    // Loads detector state and tickets left by a previous run.
    Status resume();
    // One atomic step. Tickets are re-read first, so technician changes made by the CLI are seen. `cursor`
    // (name, value), when given, is saved in the same transaction: where a feed resumes after a restart.
    Result<std::vector<domain::TicketEvent>> process(const std::vector<DetectionInput>& batch, bool tick = true,
                                                     const std::optional<std::pair<std::string, std::string>>& cursor = {});

    // Technician actions through the same store (the `tickets` CLI uses the static forms instead).
    static Result<domain::TicketEvent> acknowledge(Store& store, const std::string& id, const std::string& by,
                                                   const std::string& note, TimePoint at);
    static Result<domain::TicketEvent> resolve(Store& store, const std::string& id, const std::string& by,
                                               TimePoint at);

private:
    Store& store_;
    detect::DetectionPipeline& pipeline_;
};

}  // namespace pvfleet::store
