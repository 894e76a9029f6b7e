#pragma once
// The event dispatcher of the server (docs/notifications.md): every `interval` on an injected TimeSystem (the
// API's executor in the server, a SimulatedTimeSystem in tests) it runs storage::dispatch_pending_events with
// its list of consumers — the inbox, e-mail, and any other consumer of the event log (webhooks) — on the Db
// it was given, from the timer's callbacks only.
#include <functional>
#include <memory>
#include <vector>

#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/time_system.hpp"

namespace pvfleet::notifications {

class EventDispatcher {
public:
    // `after_pass` runs after a pass that dispatched something (the server wakes the e-mail sender).
    EventDispatcher(TimeSystem& time, storage::Db& db, std::vector<storage::EventConsumer*> consumers,
                    Millis interval = std::chrono::seconds(2), std::function<void()> after_pass = {});
    void start();  // a pass now, then every interval
    void stop();
    [[nodiscard]] int passes() const { return passes_; }
    [[nodiscard]] const storage::DispatchReport& last() const { return last_; }

private:
    void run_once();
    TimeSystem& time_;
    storage::Db& db_;
    std::vector<storage::EventConsumer*> consumers_;
    Millis interval_;
    std::function<void()> after_pass_;
    std::unique_ptr<Timer> timer_;
    storage::DispatchReport last_;
    int passes_ = 0;
};

}  // namespace pvfleet::notifications
