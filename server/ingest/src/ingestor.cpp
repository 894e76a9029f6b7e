#include "pvfleet/ingest/ingestor.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <atomic>
#include <future>
#include <vector>

#include "pvfleet/asio/time_system.hpp"
#include "pvfleet/ingest/group_committer.hpp"
#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::ingest {
namespace {
using Decoded = Result<protocol::Message>;
constexpr const char* kIngestLog = "ingest";
}  // namespace

struct Ingestor::Impl {
    Impl(boost::asio::any_io_executor ex, IngestOptions opts, storage::Store& st, const Clock& c)
        : strand(boost::asio::make_strand(ex)),
          options(std::move(opts)),
          store(st),
          ledger(st.db(), c),
          time(strand),
          committer(options, store, ledger, time,
                    Downlink{[this] { return client != nullptr && client->connected(); },
                             [this](const protocol::Command& cmd) { return send(cmd, "ingest"); }}) {}

    boost::asio::strand<boost::asio::any_io_executor> strand;
    IngestOptions options;
    storage::Store& store;
    Ledger ledger;
    asio::AsioTimeSystem time;  // on the strand: the committer's timers fire beside everything else
    GroupCommitter committer;
    std::unique_ptr<mqtt::Client> client;
    std::atomic<bool> is_connected{false};
    bool stopping = false;

    void on_message(mqtt::Message m) {
        auto* prepared = static_cast<Decoded*>(m.prepared.get());
        Decoded d = prepared != nullptr ? std::move(*prepared) : protocol::decode_for_topic(m.topic, m.payload);
        committer.add(Received{std::move(m.topic), m.payload.size(), std::move(d)});
    }

    Status send(const protocol::Command& cmd, const std::string& issued_by) {
        auto payload = protocol::encode(cmd);
        if (!payload) return payload.error();
        if (auto s = store.record_command(cmd, issued_by, *payload); !s) return s;
        mqtt::Message m{protocol::topic_for(cmd.site_id, protocol::MessageKind::command), std::move(*payload),
                        1, false};
        client->publish(std::move(m), [id = cmd.command_id](Status s) {
            if (!s)
                PVF_LOG(warn, kIngestLog,
                        "command " << id << " not delivered to the broker: " << s.error().message);
        });
        return {};
    }
};

Result<std::unique_ptr<Ingestor>> Ingestor::create(boost::asio::any_io_executor executor,
                                                   IngestOptions options, storage::Store& store,
                                                   const Clock& clock, storage::TicketEventSink* ticket_sink) {
    auto impl = std::make_unique<Impl>(executor, std::move(options), store, clock);
    impl->ledger.set_ticket_sink(ticket_sink);
    // What a power cut may take from the last fraction of a second of commits, the gap check asks the gateways
    // for again (they keep sent messages).
    if (auto s = store.relax_commit_durability(); !s) return s.error();
    auto& mo = impl->options.mqtt;
    mo.subscriptions.clear();
    for (auto kind : {protocol::MessageKind::telemetry, protocol::MessageKind::ticket_event,
                      protocol::MessageKind::status, protocol::MessageKind::command_ack}) {
        std::string filter = protocol::subscription_for(kind);
        if (!impl->options.shared_group.empty())
            filter = "$share/" + impl->options.shared_group + "/" + filter;
        mo.subscriptions.emplace_back(std::move(filter), 1);
    }
    auto client = mqtt::Client::create(impl->strand, mo);
    if (!client) return client.error();
    impl->client = std::move(*client);
    Impl* raw = impl.get();
    impl->client->on_message = [raw](const mqtt::Message& m) { raw->on_message(m); };
    // Payloads are inflated and parsed on Paho's receive thread, beside the commits on the strand.
    impl->client->prepare = [](mqtt::Message& m) {
        m.prepared = std::make_shared<Decoded>(protocol::decode_for_topic(m.topic, m.payload));
    };
    impl->client->on_connected = [raw] {
        raw->is_connected = true;
        PVF_LOG(info, kIngestLog,
                "connected to " << raw->options.mqtt.server_uri << " as " << raw->options.mqtt.client_id
                                << (raw->options.mqtt.clean_session ? "" : " (persistent session)"));
    };
    impl->client->on_connection_lost = [raw](const std::string& cause) {
        raw->is_connected = false;
        PVF_LOG(warn, kIngestLog, "broker connection lost: " << cause);
    };
    return std::unique_ptr<Ingestor>(new Ingestor(std::move(impl)));
}

Ingestor::Ingestor(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Ingestor::~Ingestor() {
    if (impl_ && impl_->client) impl_->client->stop(std::chrono::milliseconds(500));
}

void Ingestor::start() {
    boost::asio::post(impl_->strand, [i = impl_.get()] {
        i->client->start();
        i->committer.start();
    });
}

void Ingestor::stop(std::function<void()> done) {
    boost::asio::post(impl_->strand, [i = impl_.get(), done = std::move(done)] {
        i->stopping = true;
        i->committer.stop_timers();
        // Disconnect first so nothing new arrives, then commit what is held.
        i->client->stop(std::chrono::milliseconds(1000));
        i->is_connected = false;
        i->committer.flush();
        const IngestStats s = i->committer.stats();
        PVF_LOG(info, kIngestLog,
                "stopped: " << s.received << " received, " << s.applied << " stored, " << s.duplicates
                            << " duplicates, " << s.rejected << " rejected");
        if (done) done();
    });
}

Status Ingestor::send_command(const protocol::Command& command, const std::string& issued_by, Millis timeout) {
    if (impl_->strand.running_in_this_thread()) return impl_->send(command, issued_by);
    // The command is recorded on the ingest's database connection, which only the strand uses. A caller that
    // gave up waiting was told "not sent": the strand must then not send it after all (a retry would send it
    // twice), so whichever comes first — the strand taking it or the caller giving up — decides.
    enum : int { kPending, kTaken, kAbandoned };
    struct Handoff {
        std::promise<Status> done;
        std::atomic<int> state{kPending};
    };
    auto handoff = std::make_shared<Handoff>();
    auto result = handoff->done.get_future();
    boost::asio::post(impl_->strand, [i = impl_.get(), handoff, command, issued_by] {
        int expected = kPending;
        if (!handoff->state.compare_exchange_strong(expected, kTaken)) return;
        if (i->stopping) {
            handoff->done.set_value(Error{"ingest is stopping: command not sent", ErrorKind::busy});
            return;
        }
        handoff->done.set_value(i->send(command, issued_by));
    });
    if (result.wait_for(timeout) != std::future_status::ready) {
        int expected = kPending;
        if (handoff->state.compare_exchange_strong(expected, kAbandoned))
            return Error{"ingest did not take the command within " + std::to_string(timeout.count()) + " ms",
                         ErrorKind::busy};
        result.wait();  // taken meanwhile: recording and queueing it is quick
    }
    return result.get();
}
IngestStats Ingestor::stats() const {
    return impl_->committer.stats();
}
bool Ingestor::connected() const {
    return impl_->is_connected;
}

}  // namespace pvfleet::ingest
