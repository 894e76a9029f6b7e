#pragma once
// Over-the-air updates in pvfleet-server (docs/updates.md): the timer that steps the rollouts on the API's
// thread and connection.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "pvfleet/api/api.hpp"
#include "pvfleet/releases/rollouts.hpp"

namespace pvfleet::server_app {

// Steps every running rollout every `tick` (first at once).
class RolloutTicker {
public:
    RolloutTicker(boost::asio::io_context& ioc, api::ApiContext& ctx, std::chrono::seconds site_deadline,
                  std::chrono::seconds period)
        : timer_(ioc), ctx_(ctx), site_deadline_(site_deadline), period_(period) {}
    void step();
    void cancel() { timer_.cancel(); }

private:
    boost::asio::steady_timer timer_;
    api::ApiContext& ctx_;
    std::chrono::seconds site_deadline_, period_;
};

}  // namespace pvfleet::server_app
