#pragma once
// The event log's wiring in pvfleet-server (storage/events.hpp): the dispatcher that hands pending events to
// every consumer on the API's thread and connection, and the webhook sender on a thread and connection of its
// own. Consumers are a plain list so each feature adds its own (webhooks here; the inbox and e-mail beside
// it).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <vector>

#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/clock.hpp"

namespace pvfleet::server_app {

// One dispatch pass every `period` (first at once) until cancel().
class EventDispatcher {
public:
    EventDispatcher(boost::asio::io_context& ioc, storage::Db& db, const Clock& clock,
                    std::vector<storage::EventConsumer*> consumers,
                    std::chrono::milliseconds period = std::chrono::seconds(2))
        : timer_(ioc), db_(db), clock_(clock), consumers_(std::move(consumers)), period_(period) {}
    void step();
    void cancel() { timer_.cancel(); }

private:
    boost::asio::steady_timer timer_;
    storage::Db& db_;
    const Clock& clock_;
    std::vector<storage::EventConsumer*> consumers_;
    std::chrono::milliseconds period_;
};

}  // namespace pvfleet::server_app
