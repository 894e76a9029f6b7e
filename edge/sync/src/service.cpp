#include "pvfleet/sync/service.hpp"

#include "pvfleet/asio/asio.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::sync {

void MqttPublisher::publish(PublishRequest request, Completion done) {
    client_.publish(
        mqtt::Message{std::move(request.topic), std::move(request.payload), request.qos, request.retained},
        std::move(done));
}

struct SyncService::Timer {
    explicit Timer(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
};

SyncService::SyncService(boost::asio::any_io_executor executor, Millis tick_interval)
    : executor_(std::move(executor)),
      tick_interval_(tick_interval),
      timer_(std::make_unique<Timer>(executor_)) {}

SyncService::~SyncService() {
    running_ = false;
    timer_->timer.cancel();
    // The client goes first so that no completion reaches the engine afterwards.
    client_.reset();
}

Result<std::unique_ptr<SyncService>> SyncService::create(boost::asio::any_io_executor executor,
                                                         SyncServiceOptions options, store::Outbox& outbox,
                                                         const Clock& clock) {
    if (!protocol::is_valid_site_id(options.sync.site_id))
        return Error::at("sync/site_id", "'" + options.sync.site_id + "' is not a valid site id");
    if (options.tick_interval.count() <= 0) return Error::at("tick_interval", "must be positive");
    std::unique_ptr<SyncService> svc(new SyncService(executor, options.tick_interval));
    auto& m = options.mqtt;
    if (m.client_id.empty()) m.client_id = "pvfleet-edge-" + options.sync.site_id;
    const std::string site = options.sync.site_id;
    SyncService* self = svc.get();
    m.will = [self, site]() -> std::optional<mqtt::Message> {
        if (!self->engine_) return std::nullopt;
        auto enc = protocol::encode(self->engine_->status(protocol::SiteState::offline));
        if (!enc) return std::nullopt;
        return mqtt::Message{protocol::topic_for(site, protocol::MessageKind::status), std::move(*enc), 1,
                             true};
    };
    m.subscriptions = {{protocol::topic_for(site, protocol::MessageKind::command), 1}};
    auto client = mqtt::Client::create(executor, std::move(m));
    if (!client) return client.error().under("mqtt");
    svc->client_ = std::move(*client);
    svc->publisher_ = std::make_unique<MqttPublisher>(*svc->client_);
    auto engine = SyncEngine::create(std::move(options.sync), outbox, *svc->publisher_, clock);
    if (!engine) return engine.error().under("sync");
    svc->engine_ = std::move(*engine);
    svc->client_->on_connected = [self] {
        self->engine_->on_connected();
        if (self->on_connected) self->on_connected();
    };
    svc->client_->on_connection_lost = [self](const std::string&) { self->engine_->on_disconnected(); };
    svc->client_->on_message = [self](const mqtt::Message& msg) {
        auto decoded = protocol::decode_for_topic(msg.topic, msg.payload);
        if (!decoded) {
            PVF_LOG(warn, "sync", msg.topic << ": " << decoded.error().message);
            return;
        }
        if (const auto* cmd = std::get_if<protocol::Command>(&*decoded); cmd && self->on_command)
            self->on_command(*cmd);
    };
    return svc;
}

void SyncService::start() {
    if (running_) return;
    running_ = true;
    client_->start();
    schedule_tick();
}

void SyncService::schedule_tick() {
    timer_->timer.expires_after(tick_interval_);
    timer_->timer.async_wait([this](const boost::system::error_code& ec) {
        if (ec || !running_) return;
        engine_->tick();
        schedule_tick();
    });
}

void SyncService::stop() {
    if (auto s = engine_->flush(); !s) PVF_LOG(warn, "sync", "flush at stop: " << s.error().message);
    running_ = false;
    timer_->timer.cancel();
    // A short grace for publishes in flight: what the broker has not acknowledged stays in the outbox and
    // goes again at the next connect, while Paho waits out the whole grace whenever one is in flight — with
    // its default 2 s the agent's stop (and a set_config restart) overran its 2 s.
    client_->stop(std::chrono::milliseconds{300});
    engine_->on_disconnected();
}

}  // namespace pvfleet::sync
