// The dispatcher's timer.
#include "pvfleet/notifications/dispatcher.hpp"

#include "pvfleet/util/log.hpp"

namespace pvfleet::notifications {

EventDispatcher::EventDispatcher(TimeSystem& time, storage::Db& db,
                                 std::vector<storage::EventConsumer*> consumers, Millis interval,
                                 std::function<void()> after_pass)
    : time_(time),
      db_(db),
      consumers_(std::move(consumers)),
      interval_(interval),
      after_pass_(std::move(after_pass)),
      timer_(time.make_timer()) {}

void EventDispatcher::start() {
    run_once();
}

void EventDispatcher::stop() {
    timer_->cancel();
}

void EventDispatcher::run_once() {
    ++passes_;
    auto r = storage::dispatch_pending_events(db_, consumers_, time_.now());
    if (!r) {
        PVF_LOG(warn, "notifications", "event dispatch: " << r.error().message);
    } else {
        last_ = *r;
        if (r->dispatched > 0 && after_pass_) after_pass_();
    }
    timer_->arm(interval_, [this] { run_once(); });
}

}  // namespace pvfleet::notifications
