#include "events_wiring.hpp"

#include "pvfleet/util/log.hpp"

namespace pvfleet::server_app {

void EventDispatcher::step() {
    if (!consumers_.empty()) {
        auto r = storage::dispatch_pending_events(db_, consumers_, clock_.now());
        if (!r)
            PVF_LOG(warn, "server", "events: dispatch: " << r.error().message);
        else if (r->dispatched > 0)
            PVF_LOG(debug, "server", "events: " << r->dispatched << " dispatched");
    }
    timer_.expires_after(period_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) step();
    });
}

}  // namespace pvfleet::server_app
