// Test agent for the kill test: a SyncService over a real broker that produces messages until its outbox has
// assigned `count` seqs, then drains the outbox and exits 0. The content of seq k is a function of k only
// (a one-sample telemetry batch at t0 + k*10 s, or every 5th seq the ticket event "T-k"), so a test can check
// that a re-sent seq repeats exactly the same message. Killed with SIGKILL at any moment and restarted, it
// continues from the persisted outbox.
// With LINGER_S it stays connected that long after the drain and answers the server's `resend` commands, as
// the real agent does (the server ingest tests need that to close gaps left by a killed server).
//   sync_test_agent BROKER_URI DB_PATH SITE_ID COUNT [LINGER_S]
#include <cstdlib>
#include <iostream>

#include "pvfleet/asio/asio.hpp"
#include "pvfleet/sync/service.hpp"
#include "pvfleet/util/log.hpp"
#include "support/sync_samples.hpp"

using namespace pvfleet;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
    if (argc != 5 && argc != 6) {
        std::cerr << "usage: sync_test_agent BROKER_URI DB_PATH SITE_ID COUNT [LINGER_S]\n";
        return 2;
    }
    log::set_level(log::Level::warn);
    const std::string uri = argv[1];
    const auto count = static_cast<protocol::Seq>(std::strtoull(argv[4], nullptr, 10));
    auto outbox = store::SqliteOutbox::open(argv[2]);
    if (!outbox) {
        std::cerr << outbox.error().message << "\n";
        return 1;
    }
    boost::asio::io_context ioc;
    SystemClock clock;
    sync::SyncServiceOptions o;
    o.mqtt.server_uri = uri;
    o.mqtt.reconnect_min = 50ms;
    o.mqtt.reconnect_max = 200ms;
    o.sync.site_id = argv[3];
    o.sync.config_version = "cfg-1";
    o.sync.devices = {"inv1"};
    o.sync.backlog_per_second = 200;
    o.sync.backlog_burst = 20;
    o.tick_interval = 20ms;
    auto svc = sync::SyncService::create(ioc.get_executor(), o, **outbox, clock);
    if (!svc) {
        std::cerr << svc.error().message << "\n";
        return 1;
    }
    auto& engine = (*svc)->engine();
    const long linger_s = argc == 6 ? std::strtol(argv[5], nullptr, 10) : 0;
    std::optional<std::chrono::steady_clock::time_point> drained_at;
    (*svc)->on_command = [&engine](const protocol::Command& cmd) {
        if (const auto* rs = std::get_if<protocol::ResendCommand>(&cmd.body))
            (void)engine.resend(rs->from_seq, rs->to_seq);
    };
    (*svc)->start();
    boost::asio::steady_timer timer(ioc);
    int exit_code = 0;
    std::function<void()> step = [&] {
        for (int burst = 0; burst < 4; ++burst) {
            const protocol::Seq k = (*outbox)->last_seq() + 1;
            if (k <= count) {
                if (k % 5 == 0) {
                    auto r = engine.add_ticket_event(
                        sync::test::ticket_event("T-" + std::to_string(k), sync::test::t0()));
                    if (!r || *r != k) {
                        std::cerr << "ticket event got seq " << (r ? std::to_string(*r) : r.error().message)
                                  << ", expected " << k << "\n";
                        exit_code = 1;
                        ioc.stop();
                        return;
                    }
                } else {
                    auto s = sync::test::sample("inv1", sync::test::t0() + static_cast<int>(k) * 10s,
                                                static_cast<double>(k));
                    if (auto r = engine.add_sample(std::move(s)); !r || !engine.flush()) {
                        std::cerr << "telemetry failed\n";
                        exit_code = 1;
                        ioc.stop();
                        return;
                    }
                }
            } else if ((*outbox)->depth() == 0) {
                if (!drained_at) drained_at = std::chrono::steady_clock::now();
                if (std::chrono::steady_clock::now() - *drained_at >= std::chrono::seconds(linger_s)) {
                    (*svc)->stop();
                    ioc.stop();
                    return;
                }
            }
        }
        timer.expires_after(10ms);
        timer.async_wait([&](const boost::system::error_code& ec) {
            if (!ec) step();
        });
    };
    step();
    ioc.run();
    return exit_code;
}
