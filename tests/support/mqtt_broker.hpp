#pragma once
// A real mosquitto on a free loopback port, a subscriber that counts what arrives by (site, seq), and a loop
// helper: for the tests of the sync, the agent, the server's ingest and the API.
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pvfleet/asio/asio.hpp"
#include "pvfleet/mqtt/client.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "support/process.hpp"
#include "support/wait.hpp"

namespace pvfleet::sync::itest {

// mosquitto with a generated config; `extra` is appended (listener settings, TLS, ACL). Adds `user root`
// when running as root (mosquitto refuses to drop to a missing "mosquitto" user otherwise).
class Mosquitto {
public:
    Mosquitto(std::filesystem::path dir, int port, std::vector<std::string> extra);
    ~Mosquitto();
    bool start();  // false if mosquitto did not accept connections in time
    void stop();   // SIGTERM: persists its state, as a clean broker restart would
    [[nodiscard]] int port() const { return port_; }
    [[nodiscard]] std::string log() const;

private:
    std::filesystem::path dir_;
    int port_;
    std::vector<std::string> extra_;
    std::unique_ptr<::pvfleet::test::ChildProcess> proc_;
    int starts_ = 0;
};

// What a test subscriber saw on the sequenced topics: per (site, seq) every arrival's content fingerprint
// (the message without its `historical` and `sent_at`), plus the status messages.
struct Arrival {
    std::string topic;
    bool historical = false;
    std::string fingerprint;
};

class Recorder {
public:
    void record(const mqtt::Message& m);
    [[nodiscard]] std::map<std::pair<std::string, protocol::Seq>, std::vector<Arrival>> seqs() const;
    [[nodiscard]] std::set<protocol::Seq> seqs_of(const std::string& site) const;
    [[nodiscard]] std::vector<protocol::StatusMessage> statuses() const;
    [[nodiscard]] std::size_t undecodable() const;
    [[nodiscard]] std::vector<std::string> topics() const;

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, protocol::Seq>, std::vector<Arrival>> seqs_;
    std::vector<protocol::StatusMessage> statuses_;
    std::vector<std::string> topics_;
    std::size_t undecodable_ = 0;
};

// An io_context running on its own thread (for subscribers the test thread does not drive).
class IoThread {
public:
    IoThread();
    ~IoThread();
    boost::asio::io_context& context() { return ioc_; }
    // Runs `f` on the io thread and waits for it.
    void run(const std::function<void()>& f);

private:
    boost::asio::io_context ioc_;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
    std::thread thread_;
};

// Runs `ioc` on the calling thread until `done()` or the timeout; returns done().
bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds timeout);
using ::pvfleet::test::wait_until;

// A subscriber over pvfleet::mqtt on an IoThread, recording into a Recorder.
class Subscriber {
public:
    Subscriber(mqtt::ClientOptions options, Recorder& recorder);
    ~Subscriber();
    [[nodiscard]] bool connected();
    IoThread& io() { return io_; }

private:
    IoThread io_;
    std::unique_ptr<mqtt::Client> client_;
};

std::vector<std::pair<std::string, int>> all_uplink_subscriptions();

}  // namespace pvfleet::sync::itest
