#include "pvfleet/mqtt/client.hpp"

#include <mqtt/async_client.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

#include "pvfleet/asio/asio.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::mqtt {
namespace {

// Adapts Paho's action listener (called on a Paho thread) to two std::functions.
class Listener final : public ::mqtt::iaction_listener {
public:
    std::function<void(const ::mqtt::token&)> success;
    std::function<void(const ::mqtt::token&)> failure;

private:
    void on_success(const ::mqtt::token& tok) override {
        if (success) success(tok);
    }
    void on_failure(const ::mqtt::token& tok) override {
        if (failure) failure(tok);
    }
};

std::uintptr_t context_id(const ::mqtt::token& tok) { return reinterpret_cast<std::uintptr_t>(tok.get_user_context()); }

Error io_error(const std::string& text) { return Error{"mqtt: " + text, ErrorKind::io}; }

}  // namespace

struct Client::Impl : std::enable_shared_from_this<Impl> {
    Impl(boost::asio::any_io_executor ex, ClientOptions o) : executor(std::move(ex)), options(std::move(o)), timer(executor) {}

    boost::asio::any_io_executor executor;
    ClientOptions options;
    boost::asio::steady_timer timer;
    Client* owner = nullptr;  // cleared by ~Client; handlers are looked up through it
    std::function<void(Message&)> prepare;  // copied from the owner at start(); called on Paho's thread
    // Declared before `paho` so that Paho is torn down first.
    Listener connect_listener;
    Listener publish_listener;
    std::unique_ptr<::mqtt::async_client> paho;

    bool connected = false;
    bool started = false;
    bool stopped = false;
    bool connecting = false;
    std::uintptr_t generation = 0;  // of the current connect attempt
    std::uintptr_t next_publish_id = 0;
    std::map<std::uintptr_t, Completion> pending;
    Millis backoff{0};

    // Runs `f` on the executor if this Impl still exists then.
    template <class F>
    void post(F&& f) {
        boost::asio::post(executor, [weak = weak_from_this(), f = std::forward<F>(f)]() mutable {
            if (auto self = weak.lock()) f(*self);
        });
    }

    void install_paho_callbacks() {
        std::weak_ptr<Impl> weak = weak_from_this();
        connect_listener.success = [weak](const ::mqtt::token& tok) {
            const auto gen = context_id(tok);
            if (auto self = weak.lock()) self->post([gen](Impl& s) { s.handle_connected(gen); });
        };
        connect_listener.failure = [weak](const ::mqtt::token& tok) {
            const auto gen = context_id(tok);
            const int rc = tok.get_return_code();
            if (auto self = weak.lock())
                self->post([gen, rc](Impl& s) { s.handle_connect_failed(gen, "connect refused or failed (rc " + std::to_string(rc) + ")"); });
        };
        publish_listener.success = [weak](const ::mqtt::token& tok) {
            const auto id = context_id(tok);
            if (auto self = weak.lock()) self->queue_completion(id, {});
        };
        publish_listener.failure = [weak](const ::mqtt::token& tok) {
            const auto id = context_id(tok);
            const int rc = tok.get_return_code();
            if (auto self = weak.lock())
                self->queue_completion(id, io_error("publish failed (rc " + std::to_string(rc) + ")"));
        };
        paho->set_connection_lost_handler([weak](const std::string& cause) {
            if (auto self = weak.lock()) self->post([cause](Impl& s) { s.handle_connection_lost(cause); });
        });
        paho->set_message_callback([weak](::mqtt::const_message_ptr m) {
            if (!m) return;
            if (auto self = weak.lock()) {
                Message msg{m->get_topic(), m->to_string(), m->get_qos(), m->is_retained(), nullptr};
                if (self->prepare) self->prepare(msg);
                self->queue_message(std::move(msg));
            }
        });
    }

    // Incoming messages are handed over the same way: one post per burst, not one wake-up per message (the
    // server's ingest receives thousands per second).
    std::mutex arrivals_mutex;
    std::vector<Message> arrivals;  // guarded by arrivals_mutex

    void queue_message(Message m) {  // on a Paho thread
        bool first = false;
        {
            std::lock_guard lock(arrivals_mutex);
            first = arrivals.empty();
            arrivals.push_back(std::move(m));
        }
        if (first) post([](Impl& self) { self.deliver_arrivals(); });
    }

    void deliver_arrivals() {
        std::vector<Message> batch;
        {
            std::lock_guard lock(arrivals_mutex);
            batch.swap(arrivals);
        }
        for (const auto& m : batch)
            if (owner && owner->on_message) owner->on_message(m);
    }

    // Publish completions from Paho's threads are queued and handed to the executor in batches: one post (and
    // one wake-up of the executor's thread) per burst of PUBACKs instead of one per message. Under a backlog
    // drain the per-message wake-ups kept the executor thread and Paho's threads taking turns on Paho's lock.
    std::mutex completions_mutex;
    std::vector<std::pair<std::uintptr_t, Status>> completions;  // guarded by completions_mutex

    void queue_completion(std::uintptr_t id, Status s) {  // on a Paho thread
        bool first = false;
        {
            std::lock_guard lock(completions_mutex);
            first = completions.empty();
            completions.emplace_back(id, std::move(s));
        }
        if (first) post([](Impl& self) { self.run_completions(); });
    }

    void run_completions() {
        std::vector<std::pair<std::uintptr_t, Status>> batch;
        {
            std::lock_guard lock(completions_mutex);
            batch.swap(completions);
        }
        for (auto& [id, s] : batch) complete(id, std::move(s));
    }

    void connect_now() {
        if (stopped || connected || connecting) return;
        try {
            auto builder = ::mqtt::connect_options_builder()
                               .clean_session(options.clean_session)
                               .keep_alive_interval(options.keep_alive)
                               .connect_timeout(options.connect_timeout)
                               .max_inflight(options.max_inflight)
                               .mqtt_version(MQTTVERSION_3_1_1);
            if (options.username) builder.user_name(*options.username);
            if (options.password) builder.password(*options.password);
            if (options.tls) {
                auto ssl = ::mqtt::ssl_options_builder();
                ssl.trust_store(options.tls->ca_file)
                    .enable_server_cert_auth(options.tls->verify_server)
                    .verify(options.tls->verify_server)
                    .ssl_version(MQTT_SSL_VERSION_TLS_1_2);
                // No error_handler: Paho C++ 1.2 passes the ssl_options object itself as the handler's context,
                // and that pointer dangles once the options are copied into the connect options (wild jump
                // on the first TLS error). Failures still arrive as connect failures.
                if (!options.tls->cert_file.empty()) ssl.key_store(options.tls->cert_file);
                if (!options.tls->key_file.empty()) ssl.private_key(options.tls->key_file);
                builder.ssl(ssl.finalize());
            }
            if (options.will) {
                if (auto w = options.will())
                    builder.will(::mqtt::will_options(w->topic, w->payload, w->qos, w->retained));
            }
            ++generation;
            connecting = true;
            paho->connect(builder.finalize(), reinterpret_cast<void*>(generation), connect_listener);
        } catch (const ::mqtt::exception& ex) {
            connecting = false;
            PVF_LOG(warn, "mqtt", options.server_uri << ": connect: " << ex.what());
            schedule_reconnect();
        }
    }

    void schedule_reconnect() {
        if (stopped) return;
        backoff = backoff.count() == 0 ? options.reconnect_min : std::min(backoff * 2, options.reconnect_max);
        timer.expires_after(backoff);
        timer.async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
            if (ec) return;
            if (auto self = weak.lock()) self->connect_now();
        });
    }

    void handle_connected(std::uintptr_t gen) {
        if (gen != generation) return;
        connecting = false;
        if (stopped) return;
        connected = true;
        backoff = Millis{0};
        PVF_LOG(info, "mqtt", "connected to " << options.server_uri << " as " << options.client_id);
        for (const auto& [filter, qos] : options.subscriptions) {
            try {
                paho->subscribe(filter, qos);
            } catch (const ::mqtt::exception& ex) {
                PVF_LOG(warn, "mqtt", "subscribe " << filter << ": " << ex.what());
            }
        }
        if (owner && owner->on_connected) owner->on_connected();
    }

    void handle_connect_failed(std::uintptr_t gen, const std::string& why) {
        if (gen != generation) return;
        connecting = false;
        PVF_LOG(debug, "mqtt", options.server_uri << ": " << why);
        schedule_reconnect();
    }

    void fail_pending(const std::string& why) {
        auto taken = std::move(pending);
        pending.clear();
        for (auto& [id, done] : taken)
            if (done) done(io_error(why));
    }

    void handle_connection_lost(const std::string& cause) {
        if (!connected) return;
        connected = false;
        PVF_LOG(warn, "mqtt", "connection to " << options.server_uri << " lost" << (cause.empty() ? "" : ": " + cause));
        fail_pending("connection lost before the broker acknowledged");
        if (owner && owner->on_connection_lost) owner->on_connection_lost(cause);
        schedule_reconnect();
    }

    void complete(std::uintptr_t id, Status s) {
        auto it = pending.find(id);
        if (it == pending.end()) return;  // already failed by a connection loss
        auto done = std::move(it->second);
        pending.erase(it);
        if (done) done(std::move(s));
    }
};

Result<std::unique_ptr<Client>> Client::create(boost::asio::any_io_executor executor, ClientOptions options) {
    const auto& uri = options.server_uri;
    const bool tls_uri = uri.rfind("ssl://", 0) == 0 || uri.rfind("mqtts://", 0) == 0;
    if (!tls_uri && uri.rfind("tcp://", 0) != 0 && uri.rfind("mqtt://", 0) != 0)
        return Error::at("server_uri", "'" + uri + "' must start with tcp:// or ssl://");
    if (options.client_id.empty() || options.client_id.size() > 64)
        return Error::at("client_id", "must be 1 to 64 characters");
    if (tls_uri && !options.tls) return Error::at("tls", "required for " + uri);
    if (options.tls) {
        const std::pair<const char*, const std::string*> files[] = {
            {"tls/ca_file", &options.tls->ca_file}, {"tls/cert_file", &options.tls->cert_file}, {"tls/key_file", &options.tls->key_file}};
        for (const auto& [name, path] : files) {
            if (path->empty() && std::string_view(name) != "tls/ca_file") continue;
            std::error_code ec;
            if (!std::filesystem::is_regular_file(*path, ec))
                return Error::at(name, "'" + *path + "' is not a readable file", ErrorKind::not_found);
        }
        if (options.tls->cert_file.empty() != options.tls->key_file.empty())
            return Error::at("tls/key_file", "cert_file and key_file go together");
    }
    if (options.reconnect_min.count() <= 0 || options.reconnect_max < options.reconnect_min)
        return Error::at("reconnect_min", "must be positive and not above reconnect_max");
    auto impl = std::make_shared<Impl>(std::move(executor), std::move(options));
    try {
        impl->paho = std::make_unique<::mqtt::async_client>(impl->options.server_uri, impl->options.client_id,
                                                           ::mqtt::create_options(MQTTVERSION_3_1_1), nullptr);
    } catch (const ::mqtt::exception& ex) {
        return Error::at("server_uri", ex.what());
    }
    impl->install_paho_callbacks();
    std::unique_ptr<Client> client(new Client(impl));
    impl->owner = client.get();
    return client;
}

Client::~Client() {
    impl_->owner = nullptr;
    impl_->stopped = true;
    impl_->timer.cancel();
    impl_->pending.clear();
    try {
        impl_->paho->disable_callbacks();
        if (impl_->paho->is_connected()) impl_->paho->disconnect(0);
    } catch (const ::mqtt::exception&) {
    }
}

void Client::start() {
    if (impl_->started) return;
    impl_->started = true;
    impl_->prepare = prepare;  // before connecting: Paho's thread reads it from the first message on
    impl_->connect_now();
}

void Client::stop(std::chrono::milliseconds timeout) {
    impl_->stopped = true;
    impl_->timer.cancel();
    if (impl_->connected || impl_->connecting) {
        try {
            impl_->paho->disconnect(static_cast<int>(timeout.count()))->wait_for(timeout);
        } catch (const ::mqtt::exception& ex) {
            PVF_LOG(debug, "mqtt", "disconnect: " << ex.what());
        }
    }
    impl_->connected = false;
    impl_->connecting = false;
    impl_->fail_pending("client stopped");
}

void Client::publish(Message message, Completion done) {
    if (!impl_->connected) {
        impl_->post([done = std::move(done)](Impl&) {
            if (done) done(io_error("not connected"));
        });
        return;
    }
    const auto id = ++impl_->next_publish_id;
    impl_->pending.emplace(id, std::move(done));
    try {
        // Moved, not copied: a backlog drain publishes thousands of payloads a second.
        auto msg =
            ::mqtt::make_message(std::move(message.topic), ::mqtt::binary_ref(std::move(message.payload)),
                                 message.qos, message.retained);
        impl_->paho->publish(msg, reinterpret_cast<void*>(id), impl_->publish_listener);
    } catch (const ::mqtt::exception& ex) {
        auto it = impl_->pending.find(id);
        if (it != impl_->pending.end()) {
            auto d = std::move(it->second);
            impl_->pending.erase(it);
            impl_->post([d = std::move(d), what = std::string(ex.what())](Impl&) {
                if (d) d(io_error("publish: " + what));
            });
        }
    }
}

bool Client::connected() const { return impl_->connected; }
const ClientOptions& Client::options() const { return impl_->options; }

}  // namespace pvfleet::mqtt
