#include "pvfleet/store/persistent_detection.hpp"

namespace pvfleet::store {

Status PersistentDetection::resume() {
    auto state = store_.detector_state();
    if (!state) return state.error();
    if (*state) {
        if (auto s = pipeline_.load_state(**state); !s) return s;
    }
    auto tickets = store_.tickets(false);
    if (!tickets) return tickets.error();
    pipeline_.book().load(std::move(*tickets));
    return {};
}

Result<std::vector<domain::TicketEvent>> PersistentDetection::process(
    const std::vector<DetectionInput>& batch, bool tick, const std::optional<std::pair<std::string, std::string>>& cursor) {
    std::vector<domain::TicketEvent> events;
    const nlohmann::json before = pipeline_.save_state();
    Status s = store_.transaction([&]() -> Status {
        auto tickets = store_.tickets(false);
        if (!tickets) return tickets.error();
        pipeline_.book().load(std::move(*tickets));
        for (const auto& input : batch) {
            std::vector<domain::TicketEvent> out;
            if (const auto* sample = std::get_if<domain::Sample>(&input)) {
                out = pipeline_.on_sample(*sample);
            } else {
                const auto& na = std::get<NoAnswer>(input);
                out = pipeline_.on_no_answer(na.device_id, na.t);
            }
            for (auto& e : out) events.push_back(std::move(e));
        }
        if (tick) {
            for (auto& e : pipeline_.tick()) events.push_back(std::move(e));
        }
        for (const auto& e : events) {
            if (auto r = store_.record(e); !r) return r;
        }
        if (cursor) {
            if (auto c = store_.save_cursor(cursor->first, cursor->second); !c) return c;
        }
        return store_.save_detector_state(pipeline_.save_state());
    });
    if (!s) {
        // Nothing was written: put memory back to what the store holds.
        (void)pipeline_.load_state(before);
        if (auto tickets = store_.tickets(false)) pipeline_.book().load(std::move(*tickets));
        return s.error();
    }
    return events;
}

namespace {
template <class F>
Result<domain::TicketEvent> technician_action(Store& store, F&& act) {
    std::optional<domain::TicketEvent> done;
    Status s = store.transaction([&]() -> Status {
        auto tickets = store.tickets(false);
        if (!tickets) return tickets.error();
        detect::TicketBook book;
        book.load(std::move(*tickets));
        Result<domain::TicketEvent> e = act(book);
        if (!e) return e.error();
        if (auto r = store.record(*e); !r) return r;
        done = std::move(*e);
        return {};
    });
    if (!s) return s.error();
    return std::move(*done);
}
}  // namespace

Result<domain::TicketEvent> PersistentDetection::acknowledge(Store& store, const std::string& id, const std::string& by,
                                                             const std::string& note, TimePoint at) {
    return technician_action(store, [&](detect::TicketBook& book) { return book.acknowledge(id, by, note, at); });
}

Result<domain::TicketEvent> PersistentDetection::resolve(Store& store, const std::string& id, const std::string& by,
                                                         TimePoint at) {
    return technician_action(store, [&](detect::TicketBook& book) { return book.resolve(id, by, at); });
}

}  // namespace pvfleet::store
