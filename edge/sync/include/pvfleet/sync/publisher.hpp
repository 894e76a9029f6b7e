#pragma once
// The seam between the sync engine and MQTT. MqttPublisher (service.hpp) is the real one; tests use
// pvfleet::fakes::FakePublisher.
#include <functional>
#include <string>

#include "pvfleet/util/result.hpp"

namespace pvfleet::sync {

struct PublishRequest {
    std::string topic;
    std::string payload;
    int qos = 1;
    bool retained = false;
};

class Publisher {
public:
    using Completion = std::function<void(Status)>;
    virtual ~Publisher() = default;
    // `done` runs exactly once, later, on the engine's executor: ok once the broker acknowledged (PUBACK for
    // QoS 1), an error when it was not sent or the connection dropped before the acknowledgement.
    virtual void publish(PublishRequest request, Completion done) = 0;
    [[nodiscard]] virtual bool connected() const = 0;
};

}  // namespace pvfleet::sync
