#include "support/mqtt_broker.hpp"

#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>

#include <doctest/doctest.h>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "support/paths.hpp"

namespace pvfleet::sync::itest {

Mosquitto::Mosquitto(std::filesystem::path dir, int port, std::vector<std::string> extra)
    : dir_(std::move(dir)), port_(port), extra_(std::move(extra)) {
    std::filesystem::create_directories(dir_ / "data");
    std::ofstream conf(dir_ / "mosquitto.conf");
    if (geteuid() == 0) conf << "user root\n";
    conf << "persistence true\npersistence_location " << (dir_ / "data").string() << "/\n"
         << "max_queued_messages 100000\nmax_inflight_messages 100\nlog_type all\n";
    for (const auto& line : extra_) conf << line << "\n";
}

Mosquitto::~Mosquitto() { stop(); }

bool Mosquitto::start() {
    const auto exe = ::pvfleet::test::find_program("mosquitto");
    if (exe.empty()) return false;
    ++starts_;
    proc_ = std::make_unique<::pvfleet::test::ChildProcess>(std::vector<std::string>{exe, "-c", (dir_ / "mosquitto.conf").string()},
                                                 dir_ / ("mosquitto-" + std::to_string(starts_) + ".log"));
    return ::pvfleet::test::wait_for_tcp_port(port_, std::chrono::seconds{10});
}

void Mosquitto::stop() {
    if (proc_) {
        proc_->stop();
        proc_.reset();
    }
}

std::string Mosquitto::log() const {
    std::string all;
    for (int i = 1; i <= starts_; ++i) all += ::pvfleet::test::read_file(dir_ / ("mosquitto-" + std::to_string(i) + ".log"));
    return all;
}

namespace {

std::string fingerprint(protocol::Message m) {
    if (auto* t = std::get_if<protocol::TelemetryBatch>(&m)) {
        t->historical = false;
        t->sent_at = {};
        auto e = protocol::encode(*t);
        return e ? *e : "?";
    }
    if (auto* t = std::get_if<protocol::TicketEventMessage>(&m)) {
        t->historical = false;
        t->sent_at = {};
        auto e = protocol::encode(*t);
        return e ? *e : "?";
    }
    return {};
}

}  // namespace

void Recorder::record(const mqtt::Message& msg) {
    auto m = protocol::decode_for_topic(msg.topic, msg.payload);
    std::lock_guard lock(mu_);
    topics_.push_back(msg.topic);
    if (!m) {
        ++undecodable_;
        return;
    }
    if (auto* s = std::get_if<protocol::StatusMessage>(&*m)) {
        statuses_.push_back(*s);
        return;
    }
    protocol::Seq seq = 0;
    bool historical = false;
    if (auto* t = std::get_if<protocol::TelemetryBatch>(&*m)) {
        seq = t->seq;
        historical = t->historical;
    } else if (auto* e = std::get_if<protocol::TicketEventMessage>(&*m)) {
        seq = e->seq;
        historical = e->historical;
    } else {
        return;
    }
    const std::string site = protocol::site_of(*m);
    seqs_[{site, seq}].push_back(Arrival{msg.topic, historical, fingerprint(std::move(*m))});
}

std::map<std::pair<std::string, protocol::Seq>, std::vector<Arrival>> Recorder::seqs() const {
    std::lock_guard lock(mu_);
    return seqs_;
}

std::set<protocol::Seq> Recorder::seqs_of(const std::string& site) const {
    std::lock_guard lock(mu_);
    std::set<protocol::Seq> out;
    for (const auto& [key, v] : seqs_)
        if (key.first == site) out.insert(key.second);
    return out;
}

std::vector<protocol::StatusMessage> Recorder::statuses() const {
    std::lock_guard lock(mu_);
    return statuses_;
}

std::size_t Recorder::undecodable() const {
    std::lock_guard lock(mu_);
    return undecodable_;
}

std::vector<std::string> Recorder::topics() const {
    std::lock_guard lock(mu_);
    return topics_;
}

IoThread::IoThread() : guard_(boost::asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}

IoThread::~IoThread() {
    guard_.reset();
    ioc_.stop();
    thread_.join();
}

void IoThread::run(const std::function<void()>& f) {
    std::promise<void> done;
    boost::asio::post(ioc_, [&] {
        f();
        done.set_value();
    });
    done.get_future().wait();
}

bool run_until(boost::asio::io_context& ioc, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        ioc.restart();
        ioc.run_for(std::chrono::milliseconds{20});
    }
    return true;
}

Subscriber::Subscriber(mqtt::ClientOptions options, Recorder& recorder) {
    io_.run([&] {
        auto c = mqtt::Client::create(io_.context().get_executor(), std::move(options));
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
        client_ = std::move(*c);
        client_->on_message = [&recorder](const mqtt::Message& m) { recorder.record(m); };
        client_->start();
    });
}

Subscriber::~Subscriber() {
    io_.run([&] { client_.reset(); });
}

bool Subscriber::connected() {
    bool c = false;
    io_.run([&] { c = client_->connected(); });
    return c;
}

std::vector<std::pair<std::string, int>> all_uplink_subscriptions() {
    return {{protocol::subscription_for(protocol::MessageKind::telemetry), 1},
            {protocol::subscription_for(protocol::MessageKind::ticket_event), 1},
            {protocol::subscription_for(protocol::MessageKind::status), 1}};
}

}  // namespace pvfleet::sync::itest
