#pragma once
// The production TimeSystem: the system's wall clock and Asio steady timers on one executor (timer callbacks
// run there; pass a strand to serialise them with the rest of its owner's work).
#include <memory>

#include <boost/asio/any_io_executor.hpp>

#include "pvfleet/util/time_system.hpp"

namespace pvfleet::asio {

class AsioTimeSystem final : public TimeSystem {
public:
    explicit AsioTimeSystem(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
    [[nodiscard]] TimePoint now() const override { return wall_.now(); }
    [[nodiscard]] std::unique_ptr<Timer> make_timer() override;

private:
    boost::asio::any_io_executor executor_;
    SystemClock wall_;
};

}  // namespace pvfleet::asio
