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
    auto last = store_.last_event_id();
    if (!last) return last.error();
    known_event_id_ = *last;
    return {};
}

void PersistentDetection::save_state_every(Millis interval, const Clock& clock) {
    state_interval_ = interval;
    clock_ = &clock;
}

bool PersistentDetection::state_due() const {
    if (!state_interval_ || clock_ == nullptr || !state_saved_at_) return true;
    return clock_->now() - *state_saved_at_ >= *state_interval_;
}

Status PersistentDetection::write_state(const nlohmann::json& state) {
    std::string text = state.dump();
    if (text == saved_state_) return {};
    if (auto s = store_.save_detector_state(state); !s) return s;
    saved_state_ = std::move(text);
    return {};
}

Status PersistentDetection::flush_state() {
    return store_.transaction([&]() -> Status { return write_state(pipeline_.save_state()); });
}

Result<long long> PersistentDetection::catch_up() {
    auto last = store_.last_event_id();
    if (!last) return last.error();
    if (*last != known_event_id_) {
        auto tickets = store_.tickets(false);
        if (!tickets) return tickets.error();
        pipeline_.book().load(std::move(*tickets));
    }
    return *last;
}

void PersistentDetection::committed(long long newest, bool read_back) {
    others_recorded_ = read_back;
    known_event_id_ = newest;
}

void PersistentDetection::rolled_back(const nlohmann::json& state_before) {
    (void)pipeline_.load_state(state_before);
    if (auto tickets = store_.tickets(false)) pipeline_.book().load(std::move(*tickets));
    known_event_id_ = 0;  // whatever was read, the next step reads the tickets back
    others_recorded_ = false;
}

Result<std::vector<StoredEvent>> PersistentDetection::process(
    const std::vector<DetectionInput>& batch, bool tick, const std::optional<std::pair<std::string, std::string>>& cursor) {
    std::vector<StoredEvent> recorded;
    long long newest = 0;
    bool read_back = false;
    bool saving = false;
    const nlohmann::json before = pipeline_.save_state();
    Status s = store_.transaction([&]() -> Status {
        auto last = catch_up();
        if (!last) return last.error();
        read_back = *last != known_event_id_;
        newest = *last;
        std::vector<domain::TicketEvent> events;
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
        for (auto& e : events) {
            auto id = store_.record(e);
            if (!id) return id.error();
            newest = *id;
            recorded.push_back(StoredEvent{*id, std::move(e)});
        }
        if (cursor) {
            if (auto c = store_.save_cursor(cursor->first, cursor->second); !c) return c;
        }
        if (!cursor && events.empty() && !state_due()) return {};
        saving = true;
        return write_state(pipeline_.save_state());
    });
    if (!s) {
        // Nothing was written: put memory back to what the store holds.
        saved_state_.clear();
        rolled_back(before);
        return s.error();
    }
    if (saving && clock_ != nullptr) state_saved_at_ = clock_->now();
    committed(newest, read_back);
    return recorded;
}

template <class F>
Result<StoredEvent> PersistentDetection::technician_action(F&& act) {
    std::optional<StoredEvent> done;
    bool read_back = false;
    const nlohmann::json before = pipeline_.save_state();
    Status s = store_.transaction([&]() -> Status {
        auto last = catch_up();
        if (!last) return last.error();
        read_back = *last != known_event_id_;
        Result<domain::TicketEvent> e = act(pipeline_.book());
        if (!e) return e.error();
        auto id = store_.record(*e);
        if (!id) return id.error();
        done = StoredEvent{*id, std::move(*e)};
        return {};
    });
    if (!s) {
        rolled_back(before);
        return s.error();
    }
    committed(done->event_id, read_back);
    return std::move(*done);
}

Result<StoredEvent> PersistentDetection::acknowledge_ticket(const std::string& id, const std::string& by,
                                                            const std::string& note, TimePoint at) {
    return technician_action([&](detect::TicketBook& book) { return book.acknowledge(id, by, note, at); });
}

Result<StoredEvent> PersistentDetection::resolve_ticket(const std::string& id, const std::string& by, TimePoint at) {
    return technician_action([&](detect::TicketBook& book) { return book.resolve(id, by, at); });
}

namespace {
template <class F>
Result<domain::TicketEvent> action_on_stored_book(GatewayStore& store, F&& act) {
    std::optional<domain::TicketEvent> done;
    Status s = store.transaction([&]() -> Status {
        auto tickets = store.tickets(false);
        if (!tickets) return tickets.error();
        detect::TicketBook book;
        book.load(std::move(*tickets));
        Result<domain::TicketEvent> e = act(book);
        if (!e) return e.error();
        if (auto r = store.record(*e); !r) return r.error();
        done = std::move(*e);
        return {};
    });
    if (!s) return s.error();
    return std::move(*done);
}
}  // namespace

Result<domain::TicketEvent> PersistentDetection::acknowledge(GatewayStore& store, const std::string& id, const std::string& by,
                                                             const std::string& note, TimePoint at) {
    return action_on_stored_book(store, [&](detect::TicketBook& book) { return book.acknowledge(id, by, note, at); });
}

Result<domain::TicketEvent> PersistentDetection::resolve(GatewayStore& store, const std::string& id, const std::string& by,
                                                         TimePoint at) {
    return action_on_stored_book(store, [&](detect::TicketBook& book) { return book.resolve(id, by, at); });
}

}  // namespace pvfleet::store
