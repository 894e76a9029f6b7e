#include "releases_wiring.hpp"

#include "pvfleet/util/log.hpp"

namespace pvfleet::server_app {
void RolloutTicker::step() {
    if (ctx_.releases) {
        releases::EngineParts parts{*ctx_.db, ctx_.releases->settings, ctx_.releases->link_key, ctx_.send_command,
                                    ctx_.releases->rng, site_deadline_};
        auto r = releases::tick(parts, ctx_.clock->now());
        if (!r)
            PVF_LOG(warn, "releases", "rollout step: " << r.error().message);
        else if (r->sent + r->finished + r->paused + r->stages_started + r->done > 0)
            PVF_LOG(info, "releases", "rollouts: " << r->sent << " update(s) sent, " << r->finished << " site(s) finished, "
                                                   << r->stages_started << " stage(s) started, " << r->paused
                                                   << " paused, " << r->done << " done");
    }
    timer_.expires_after(period_);
    timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec) step();
    });
}

}  // namespace pvfleet::server_app
