#include "pvfleet/util/time_system.hpp"

#include <algorithm>

namespace pvfleet {

class SimulatedTimeSystem::SimTimer final : public Timer {
public:
    explicit SimTimer(SimulatedTimeSystem& owner) : owner_(owner) {}
    ~SimTimer() override { owner_.cancel(this); }
    void arm(Millis after, std::function<void()> fire) override { owner_.arm(this, after, std::move(fire)); }
    void cancel() override { owner_.cancel(this); }
    [[nodiscard]] bool armed() const override { return owner_.is_armed(this); }

private:
    SimulatedTimeSystem& owner_;
};

SimulatedTimeSystem::SimulatedTimeSystem(TimePoint start) : now_(start) {}
SimulatedTimeSystem::~SimulatedTimeSystem() = default;

TimePoint SimulatedTimeSystem::now() const {
    std::lock_guard lock(mutex_);
    return now_;
}

std::unique_ptr<Timer> SimulatedTimeSystem::make_timer() { return std::make_unique<SimTimer>(*this); }

void SimulatedTimeSystem::arm(SimTimer* t, Millis after, std::function<void()> fire) {
    std::lock_guard lock(mutex_);
    std::erase_if(pending_, [t](const Entry& e) { return e.timer == t; });
    pending_.push_back(Entry{t, now_ + std::max(after, Millis{0}), next_order_++, std::move(fire)});
}

void SimulatedTimeSystem::cancel(SimTimer* t) {
    std::lock_guard lock(mutex_);
    std::erase_if(pending_, [t](const Entry& e) { return e.timer == t; });
}

bool SimulatedTimeSystem::is_armed(const SimTimer* t) const {
    std::lock_guard lock(mutex_);
    return std::any_of(pending_.begin(), pending_.end(), [t](const Entry& e) { return e.timer == t; });
}

std::size_t SimulatedTimeSystem::armed_timers() const {
    std::lock_guard lock(mutex_);
    return pending_.size();
}

void SimulatedTimeSystem::advance(Millis by) {
    TimePoint target;
    {
        std::lock_guard lock(mutex_);
        target = now_ + std::max(by, Millis{0});
    }
    advance_to(target);
}

void SimulatedTimeSystem::advance_to(TimePoint to) {
    for (;;) {
        std::function<void()> fire;
        {
            std::lock_guard lock(mutex_);
            auto next = std::min_element(pending_.begin(), pending_.end(), [](const Entry& a, const Entry& b) {
                return a.due != b.due ? a.due < b.due : a.order < b.order;
            });
            if (next == pending_.end() || next->due > to) {
                now_ = std::max(now_, to);
                return;
            }
            now_ = std::max(now_, next->due);
            fire = std::move(next->fire);
            pending_.erase(next);
        }
        fire();
    }
}

void SimulatedTimeSystem::set_wall_clock(TimePoint t) {
    std::lock_guard lock(mutex_);
    const Millis shift = t - now_;
    now_ = t;
    for (auto& e : pending_) e.due += shift;
}

}  // namespace pvfleet
