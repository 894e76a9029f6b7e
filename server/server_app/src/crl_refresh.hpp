#pragma once
// The broker's CRL (docs/fleet-enrollment.md, "Revocation"): written when the server starts and again, unprompted,
// once half of its validity has passed (checked every hour), so the broker never reads an expired one; each
// revocation writes it at once (the API's routes).
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "pvfleet/enrollment/crl.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::server_app {

class CrlRefresh {
public:
    CrlRefresh(boost::asio::io_context& ioc, std::shared_ptr<enrollment::CrlPublisher> crl, storage::Db& db,
               const Clock& clock)
        : timer_(ioc), crl_(std::move(crl)), db_(db), clock_(clock) {}

    void check() {
        if (!crl_) return;
        if (crl_->due(clock_.now())) {
            if (auto s = crl_->publish(db_, clock_.now()); !s)
                PVF_LOG(error, "server", "CRL: " << s.error().message);
        }
        timer_.expires_after(std::chrono::hours(1));
        timer_.async_wait([this](boost::system::error_code ec) {
            if (!ec) check();
        });
    }
    void cancel() { timer_.cancel(); }

private:
    boost::asio::steady_timer timer_;
    std::shared_ptr<enrollment::CrlPublisher> crl_;
    storage::Db& db_;
    const Clock& clock_;
};

}  // namespace pvfleet::server_app
