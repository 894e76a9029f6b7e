#pragma once
// A small MQTT 3.1.1 client over Paho's async_client: TLS (CA, client certificate and key), username/password,
// a last will asked for before every connect attempt, automatic reconnect with exponential backoff, and
// re-subscription after each connect. Paho calls back on its own threads; this wrapper only posts from them,
// so every handler and every publish completion runs on the Asio executor given at creation. The client keeps
// no messages of its own (no Paho persistence, clean session by default): durability is the caller's outbox.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::mqtt {

struct TlsOptions {
    std::string ca_file;    // PEM CA that signed the broker certificate
    std::string cert_file;  // PEM client certificate (empty: no client certificate)
    std::string key_file;   // PEM private key of cert_file
    bool verify_server = true;  // check the broker certificate and host name
};

struct Message {
    std::string topic;
    std::string payload;
    int qos = 1;
    bool retained = false;
    // What `prepare` (below) made of the message on Paho's thread, for the on_message handler.
    std::shared_ptr<void> prepared{};
};

struct ClientOptions {
    std::string server_uri;  // "tcp://host:1883" or "ssl://host:8883"
    std::string client_id;
    std::optional<std::string> username;
    std::optional<std::string> password;
    std::optional<TlsOptions> tls;  // required for ssl:// URIs
    bool clean_session = true;
    std::chrono::seconds keep_alive{30};
    std::chrono::seconds connect_timeout{10};
    Millis reconnect_min{500};
    Millis reconnect_max{30000};
    int max_inflight = 100;
    // Asked (on the executor) before every connect attempt; its result becomes the MQTT last will.
    std::function<std::optional<Message>()> will;
    // (topic filter, qos) subscribed after every successful connect.
    std::vector<std::pair<std::string, int>> subscriptions;
};

class Client {
public:
    using Completion = std::function<void(Status)>;

    // Checks the options (URI scheme, client id, TLS files present for ssl://); errors name the option.
    static Result<std::unique_ptr<Client>> create(boost::asio::any_io_executor executor, ClientOptions options);
    ~Client();  // disconnects without waiting; no handler runs afterwards
    Client(const Client&) = delete;
    Client& operator=(const Client&) = delete;

    // Connects and keeps reconnecting (backoff reconnect_min..reconnect_max) until stop().
    void start();
    // Clean disconnect (the broker does not publish the will); no reconnect afterwards.
    void stop(std::chrono::milliseconds timeout = std::chrono::milliseconds{2000});

    // Publishes; `done` runs once on the executor: ok when the broker acknowledged (QoS 1: PUBACK), an
    // ErrorKind::io error when not connected or the connection dropped first. Call on the executor.
    void publish(Message message, Completion done);
    [[nodiscard]] bool connected() const;
    [[nodiscard]] const ClientOptions& options() const;

    // Handlers (set before start(); run on the executor).
    std::function<void()> on_connected;
    std::function<void(const std::string& cause)> on_connection_lost;
    std::function<void(const Message&)> on_message;
    // Optional; runs on Paho's receive thread for every incoming message before it is queued for the
    // executor, and may fill Message::prepared. For work that is safe on any thread and worth taking off the
    // executor (the server decodes payloads here, in parallel with its database commits). Set before start().
    std::function<void(Message&)> prepare;

    struct Impl;

private:
    explicit Client(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
    std::shared_ptr<Impl> impl_;
};

}  // namespace pvfleet::mqtt
