#include "pvfleet/asio/time_system.hpp"

#include <boost/asio/steady_timer.hpp>

namespace pvfleet::asio {
namespace {

class AsioTimer final : public Timer {
public:
    explicit AsioTimer(const boost::asio::any_io_executor& executor) : timer_(executor) {}
    ~AsioTimer() override { *alive_ = false; }

    void arm(Millis after, std::function<void()> fire) override {
        // A generation number tells a stale completion (cancelled, re-armed) from the current one; a weak flag
        // tells it the timer is gone.
        const std::uint64_t generation = ++generation_;
        armed_ = true;
        timer_.expires_after(after);
        timer_.async_wait([this, alive = alive_, generation, fire = std::move(fire)](boost::system::error_code ec) {
            if (ec || !*alive || generation != generation_) return;
            armed_ = false;
            fire();
        });
    }
    void cancel() override {
        ++generation_;
        armed_ = false;
        timer_.cancel();
    }
    [[nodiscard]] bool armed() const override { return armed_; }

private:
    boost::asio::steady_timer timer_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
    std::uint64_t generation_ = 0;
    bool armed_ = false;
};

}  // namespace

std::unique_ptr<Timer> AsioTimeSystem::make_timer() { return std::make_unique<AsioTimer>(executor_); }

}  // namespace pvfleet::asio
