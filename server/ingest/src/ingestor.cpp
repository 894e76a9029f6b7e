#include "pvfleet/ingest/ingestor.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <atomic>
#include <future>
#include <mutex>
#include <vector>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::ingest {
namespace {
using Decoded = Result<protocol::Message>;
constexpr const char* kLog = "ingest";
// Rejected payloads are logged one by one up to this many per minute, then summarised: a misbehaving client
// must not flood the log.
constexpr std::uint64_t kRejectLogsPerMinute = 20;
}  // namespace

struct Ingestor::Impl {
    Impl(boost::asio::any_io_executor ex, IngestOptions opts, storage::Store& st, const Clock& c)
        : strand(boost::asio::make_strand(ex)),
          options(std::move(opts)),
          store(st),
          clock(c),
          flush_timer(strand),
          gap_timer(strand) {}

    boost::asio::strand<boost::asio::any_io_executor> strand;
    IngestOptions options;
    storage::Store& store;
    const Clock& clock;
    std::unique_ptr<mqtt::Client> client;
    boost::asio::steady_timer flush_timer;
    boost::asio::steady_timer gap_timer;
    bool flush_armed = false;
    bool stopping = false;
    std::vector<mqtt::Message> pending;  // each with its decoded payload (Decoded) in `prepared`
    IngestStats stats;  // the strand's own; published to `snapshot` for other threads
    mutable std::mutex snapshot_mutex;
    IngestStats snapshot;
    std::atomic<bool> is_connected{false};
    TimePoint reject_window_start{};
    std::uint64_t reject_logs_in_window = 0;
    std::uint64_t command_counter = 0;

    void publish_stats() {
        std::lock_guard lock(snapshot_mutex);
        snapshot = stats;
    }

    void on_message(mqtt::Message m) {
        ++stats.received;
        pending.push_back(std::move(m));
        if (pending.size() >= options.max_batch) {
            flush();
            return;
        }
        publish_stats();
        if (!flush_armed) {
            flush_armed = true;
            flush_timer.expires_after(options.max_delay);
            flush_timer.async_wait([this](boost::system::error_code ec) {
                flush_armed = false;
                if (!ec) flush();
            });
        }
    }

    void reject(const mqtt::Message& m, const std::string& reason) {
        ++stats.rejected;
        const TimePoint now = clock.now();
        if (now - reject_window_start > std::chrono::minutes(1)) {
            if (reject_logs_in_window > kRejectLogsPerMinute)
                PVF_LOG(warn, kLog,
                        (reject_logs_in_window - kRejectLogsPerMinute) << " more payloads rejected");
            reject_window_start = now;
            reject_logs_in_window = 0;
        }
        if (++reject_logs_in_window <= kRejectLogsPerMinute)
            PVF_LOG(warn, kLog,
                    "rejected " << m.payload.size() << " B on " << m.topic.substr(0, 200) << ": " << reason);
        if (auto s = store.record_reject(m.topic, m.payload.size(), reason); !s)
            PVF_LOG(error, kLog, "recording a rejected payload: " << s.error().message);
    }

    void flush() {
        if (pending.empty()) return;
        flush_pending();
        publish_stats();
    }

    void flush_pending() {
        std::vector<mqtt::Message> batch;
        batch.swap(pending);
        std::vector<protocol::Message> decoded;
        decoded.reserve(batch.size());
        for (auto& m : batch) {
            auto* prepared = static_cast<Decoded*>(m.prepared.get());
            Decoded d = prepared != nullptr ? std::move(*prepared) : protocol::decode_for_topic(m.topic, m.payload);
            if (!d) {
                reject(m, d.error().message);
                continue;
            }
            decoded.push_back(std::move(*d));
        }
        if (decoded.empty()) return;
        // The rejects are published before the commit makes the batch visible: whoever sees a later message
        // stored also sees the rejects of the messages that came before it.
        publish_stats();
        commit(decoded);
    }

    void commit(const std::vector<protocol::Message>& decoded) {
        for (int attempt = 0;; ++attempt) {
            auto r = store.ingest(decoded);
            if (r) {
                ++stats.commits;
                stats.applied += r->applied;
                stats.duplicates += r->duplicates;
                stats.samples += r->samples;
                stats.points += r->points;
                stats.ticket_events += r->ticket_events;
                stats.work_orders_created += r->work_orders_created;
                stats.work_orders_updated += r->work_orders_updated;
                if (options.on_committed) options.on_committed(decoded);
                return;
            }
            if (r.error().kind == ErrorKind::busy && attempt < 5)
                continue;  // lock or serialisation conflict: retry
            ++stats.store_errors;
            if (decoded.size() == 1) {
                // One message the store cannot take. It is not retried for ever: the gap check asks for it
                // again.
                PVF_LOG(error, kLog,
                        "storing " << protocol::to_string(protocol::kind_of(decoded[0])) << " of site "
                                   << protocol::site_of(decoded[0]) << ": " << r.error().message);
                return;
            }
            // Isolate the message that fails so the rest of the batch is stored.
            PVF_LOG(warn, kLog,
                    "batch of " << decoded.size() << " failed (" << r.error().message << "); one by one");
            for (const auto& m : decoded) commit(std::vector<protocol::Message>{m});
            return;
        }
    }

    void schedule_gap_check() {
        if (stopping) return;
        gap_timer.expires_after(options.gap_check_interval);
        gap_timer.async_wait([this](boost::system::error_code ec) {
            if (ec || stopping) return;
            check_gaps();
            schedule_gap_check();
        });
    }

    void check_gaps() {
        if (client == nullptr || !client->connected()) return;  // a resend now would only queue up
        flush();
        auto due = store.due_resends(options.gaps);
        if (!due) {
            PVF_LOG(error, kLog, "gap check: " << due.error().message);
            return;
        }
        for (const auto& req : *due) {
            protocol::Command cmd;
            cmd.site_id = req.site_id;
            cmd.issued_at = clock.now();
            cmd.command_id = "resend-" + std::to_string(to_epoch_ms(cmd.issued_at)) + "-" +
                             std::to_string(++command_counter) + "-" + options.mqtt.client_id;
            cmd.expires_at = cmd.issued_at + std::chrono::minutes(10);
            cmd.body = protocol::ResendCommand{req.from_seq, req.to_seq};
            PVF_LOG(info, kLog,
                    "site " << req.site_id << ": asking for seq " << req.from_seq << ".." << req.to_seq
                            << " (attempt " << req.attempt << ")");
            if (auto s = send(cmd, "ingest"); !s)
                PVF_LOG(warn, kLog, "resend command: " << s.error().message);
            ++stats.resend_requests;
        }
        publish_stats();
    }

    Status send(const protocol::Command& cmd, const std::string& issued_by) {
        auto payload = protocol::encode(cmd);
        if (!payload) return payload.error();
        if (auto s = store.record_command(cmd, issued_by, *payload); !s) return s;
        mqtt::Message m{protocol::topic_for(cmd.site_id, protocol::MessageKind::command), std::move(*payload),
                        1, false};
        client->publish(std::move(m), [id = cmd.command_id](Status s) {
            if (!s)
                PVF_LOG(warn, kLog,
                        "command " << id << " not delivered to the broker: " << s.error().message);
        });
        return {};
    }
};

Result<std::unique_ptr<Ingestor>> Ingestor::create(boost::asio::any_io_executor executor,
                                                   IngestOptions options, storage::Store& store,
                                                   const Clock& clock) {
    auto impl = std::make_unique<Impl>(executor, std::move(options), store, clock);
    if (store.db().engine() == storage::Engine::postgres) {
        // Like SQLite's synchronous=NORMAL: a commit is not waited on to reach the disk. A power cut may take
        // the last fraction of a second of commits with it, which the gap check then asks the gateways for
        // again (they keep sent messages); a crash of the server or of PostgreSQL itself loses nothing.
        if (auto s = store.db().run("SET synchronous_commit TO off"); !s) return s.error();
    }
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
        PVF_LOG(info, kLog,
                "connected to " << raw->options.mqtt.server_uri << " as " << raw->options.mqtt.client_id
                                << (raw->options.mqtt.clean_session ? "" : " (persistent session)"));
    };
    impl->client->on_connection_lost = [raw](const std::string& cause) {
        raw->is_connected = false;
        PVF_LOG(warn, kLog, "broker connection lost: " << cause);
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
        i->schedule_gap_check();
    });
}

void Ingestor::stop(std::function<void()> done) {
    boost::asio::post(impl_->strand, [i = impl_.get(), done = std::move(done)] {
        i->stopping = true;
        i->flush_timer.cancel();
        i->gap_timer.cancel();
        // Disconnect first so nothing new arrives, then commit what is held.
        i->client->stop(std::chrono::milliseconds(1000));
        i->is_connected = false;
        i->flush();
        PVF_LOG(info, kLog,
                "stopped: " << i->stats.received << " received, " << i->stats.applied << " stored, "
                            << i->stats.duplicates << " duplicates, " << i->stats.rejected << " rejected");
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
    std::lock_guard lock(impl_->snapshot_mutex);
    return impl_->snapshot;
}
bool Ingestor::connected() const {
    return impl_->is_connected;
}

}  // namespace pvfleet::ingest
