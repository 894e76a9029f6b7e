#pragma once
// Production wiring of the sync: a pvfleet::mqtt::Client (TLS, reconnect, last will = offline status,
// subscription to the site's commands topic), an MqttPublisher over it, the SyncEngine, and a timer that
// ticks the engine. Everything runs on the executor given to create().
#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>

#include "pvfleet/mqtt/client.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/sync/engine.hpp"
#include "pvfleet/sync/publisher.hpp"

namespace pvfleet::sync {

// Publisher over the MQTT client (completions arrive on the client's executor).
class MqttPublisher final : public Publisher {
public:
    explicit MqttPublisher(mqtt::Client& client) : client_(client) {}
    void publish(PublishRequest request, Completion done) override;
    [[nodiscard]] bool connected() const override { return client_.connected(); }

private:
    mqtt::Client& client_;
};

struct SyncServiceOptions {
    // server_uri, credentials and TLS are used as given; client_id defaults to "pvfleet-edge-{site}"; the
    // will and the commands subscription are filled in by the service.
    mqtt::ClientOptions mqtt;
    SyncConfig sync;
    Millis tick_interval{1000};
};

class SyncService {
public:
    static Result<std::unique_ptr<SyncService>> create(boost::asio::any_io_executor executor,
                                                       SyncServiceOptions options, store::Outbox& outbox,
                                                       const Clock& clock);
    ~SyncService();
    SyncService(const SyncService&) = delete;
    SyncService& operator=(const SyncService&) = delete;

    void start();  // connect (and keep reconnecting), start ticking
    // Flushes buffered samples to the outbox, then disconnects cleanly (the broker keeps the retained online
    // status; publish an offline status first if the agent is going away for good).
    void stop();

    SyncEngine& engine() { return *engine_; }
    mqtt::Client& client() { return *client_; }
    // Decoded commands for this site (invalid ones are logged and dropped). Set before start().
    std::function<void(const protocol::Command&)> on_command;
    // After every connect, once the engine has published its status (e.g. to send acks that waited for the
    // link).
    std::function<void()> on_connected;

private:
    SyncService(boost::asio::any_io_executor executor, Millis tick_interval);
    void schedule_tick();

    boost::asio::any_io_executor executor_;
    Millis tick_interval_;
    std::unique_ptr<mqtt::Client> client_;
    std::unique_ptr<MqttPublisher> publisher_;
    std::unique_ptr<SyncEngine> engine_;
    struct Timer;
    std::unique_ptr<Timer> timer_;
    bool running_ = false;
};

}  // namespace pvfleet::sync
