#pragma once
// The edge sync engine: turns samples and ticket events into sequenced outbox rows and publishes them.
//
// - Samples accumulate into one columnar batch, flushed to the outbox every `batch_interval` or at
//   `batch_max_samples` (split further if the encoded batch would pass `max_payload_bytes`); telemetry is
//   zlib-compressed. Ticket events go to the outbox at once. Both get the site's next seq there, BEFORE any
//   publish.
// - Publishing is QoS 1 with at most `max_inflight` unacknowledged messages; a row leaves the outbox only on
//   PUBACK. Acknowledged rows are removed in batches, one outbox transaction per `ack_batch`
//   acknowledgements, at the first tick after the oldest has waited `ack_flush_interval`, and whenever the
//   engine runs out of work in flight, connects, disconnects, stops or is destroyed (one commit per PUBACK
//   was the bottleneck of draining a backlog). Until then they stay in the outbox but are never sent again by
//   this engine; a crash in between only sends them once more (same seq, which the server drops). What was
//   queued while connected is "live" and goes first, unflagged; everything else in the outbox (what a
//   previous run or an outage left, what failed) is the backlog: sent in seq order with `historical: true`,
//   paced by a token bucket (`backlog_per_second`, `backlog_burst`). After a reconnect every unacknowledged
//   row is backlog again, so nothing is lost and duplicates only ever repeat a seq.
// - Disk quota: after each append, when the outbox passes `quota_bytes` the outbox's quota policy runs
//   (ticket events kept, oldest raw telemetry → 5-minute aggregates, then oldest aggregates emptied).
// - Status: retained `online` status at every connect, every `heartbeat_interval` and whenever the outbox has
//   drained past the last_seq last reported (agent version, uptime,
//   backlog depth = rows not yet acknowledged: acknowledged rows awaiting their batched removal do not count,
//   last seq, last successful poll per device, config version, quota report); `status(offline)`
//   is the last will.
//
// Restart: the outbox keeps, with every row, the store's ticket event_id (ticket_event_cursor()) and the
// newest sample time written (telemetry_through()); samples still buffered when the process died are not in
// the outbox, so the agent re-feeds GatewayStore::samples() after telemetry_through() and
// GatewayStore::events_after() the ticket cursor at start-up. While running, the agent hands each ticket event
// to add_ticket_event() with its event_id as it is recorded.
//
// Single-threaded: call every member (and deliver Publisher completions) on one executor. Time comes from
// the Clock; tick() does the timed work and is driven by SyncService's timer in production, by tests
// directly with a ManualClock.
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/domain/ticket.hpp"
#include "pvfleet/protocol/messages.hpp"
#include "pvfleet/store/outbox.hpp"
#include "pvfleet/sync/publisher.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::sync {

struct SyncConfig {
    std::string site_id;
    std::string agent_version = "0.1.0";
    std::string config_version;  // required (1..64 bytes): reported in every status
    std::vector<std::string> devices;  // reported in status, in this order
    std::map<std::string, std::vector<int>> wired_inputs;  // inverters' wired MPPT inputs (site config), in status
    Millis batch_interval{60000};
    std::size_t batch_max_samples = 720;
    std::optional<std::uint32_t> resolution_s = 10;
    std::size_t max_payload_bytes = 512 * 1024;  // split batches above this (the wire limit is 1 MiB)
    std::size_t max_inflight = 16;
    std::size_t ack_batch = 64;  // acknowledged rows removed from the outbox per transaction (at most)
    Millis ack_flush_interval{1000};  // longest an acknowledged row waits for its batch (checked on tick)
    double backlog_per_second = 5.0;
    double backlog_burst = 10.0;
    Millis heartbeat_interval{300000};
    std::uint64_t quota_bytes = 256ull * 1024 * 1024;
};

struct SyncStats {
    std::uint64_t live_published = 0;
    std::uint64_t backlog_published = 0;
    std::uint64_t acked = 0;
    std::uint64_t failed = 0;
    std::uint64_t status_published = 0;
};

class SyncEngine {
public:
    // Checks the config (site id rule, positive intervals and limits); errors name the field.
    static Result<std::unique_ptr<SyncEngine>> create(SyncConfig config, store::Outbox& outbox, Publisher& publisher,
                                                      const Clock& clock);
    ~SyncEngine();
    SyncEngine(const SyncEngine&) = delete;
    SyncEngine& operator=(const SyncEngine&) = delete;

    // Buffers one sample; flushes when the batch is full.
    Status add_sample(domain::Sample sample);
    // Writes the ticket event to the outbox now (with the store's event_id as cursor when given) and returns
    // its seq.
    Result<protocol::Seq> add_ticket_event(const domain::TicketEvent& event, std::optional<long long> store_event_id = {});
    // Writes the buffered samples to the outbox now.
    Status flush();

    // The server's `resend` command: sends the rows of from..to the outbox still holds (acknowledged ones too,
    // see Outbox::range) again, as backlog, ahead of the rest of the backlog
    // (historical, original seq; rows the quota policy emptied go as empty batches). Rows acknowledged by the
    // broker are gone from the outbox and are not sent. Returns how many rows of the range will be sent.
    Result<std::size_t> resend(protocol::Seq from, protocol::Seq to);

    void note_poll_ok(const std::string& device_id, TimePoint t);
    void set_config_version(std::string version);

    // Timed work: flush a due batch, remove acknowledged rows, heartbeat, pace the backlog. Call often (e.g.
    // every second).
    void tick();
    // Removes the acknowledged rows still waiting for their batch from the outbox now (SyncService::stop()
    // calls it; the engine also does on its own, see above). On failure they stay queued for the next try.
    Status remove_acked();
    // Connection events from the MQTT side.
    void on_connected();
    void on_disconnected();

    [[nodiscard]] protocol::StatusMessage status(protocol::SiteState state) const;
    [[nodiscard]] const SyncStats& stats() const { return stats_; }
    [[nodiscard]] std::size_t inflight() const { return inflight_.size(); }
    // Outbox rows not yet acknowledged (what status reports as backlog_depth).
    [[nodiscard]] std::uint64_t backlog_depth() const;
    // Acknowledged rows still in the outbox, waiting for their batched removal.
    [[nodiscard]] std::size_t acked_pending() const { return acked_.size(); }
    [[nodiscard]] std::size_t buffered_samples() const { return pending_.size(); }
    [[nodiscard]] const SyncConfig& config() const { return config_; }
    // When the last status message was published (nullopt: none since start).
    [[nodiscard]] std::optional<TimePoint> last_status_at() const { return last_status_; }

private:
    SyncEngine(SyncConfig config, store::Outbox& outbox, Publisher& publisher, const Clock& clock);
    Status append_telemetry(std::vector<domain::Sample> samples);
    void queued(store::OutboxEntry entry);
    void enforce_quota();
    void pump();
    void publish_entry(const store::OutboxEntry& entry, bool historical, TimePoint now);
    void on_done(protocol::Seq seq, std::uint64_t epoch, const Status& s);
    void publish_status();
    void refill(TimePoint now);

    SyncConfig config_;
    store::Outbox& outbox_;
    Publisher& publisher_;
    const Clock& clock_;
    TimePoint started_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

    std::vector<domain::Sample> pending_;
    TimePoint batch_started_{};
    std::map<std::string, std::optional<TimePoint>> polls_;

    bool connected_ = false;
    std::uint64_t epoch_ = 0;
    std::set<protocol::Seq> inflight_;
    std::deque<store::OutboxEntry> live_;
    protocol::Seq backlog_cursor_ = 0;
    // Rows read ahead from the outbox after backlog_cursor_ (one read serves many publishes); dropped
    // whenever the cursor moves back or the quota policy rewrites rows.
    std::deque<store::OutboxEntry> backlog_rows_;
    std::set<protocol::Seq> acked_;  // acknowledged, not yet removed from the outbox
    std::deque<store::OutboxEntry> resend_rows_;  // rows a `resend` command asked for, acknowledged or not
    std::set<protocol::Seq> queued_resends_;
    protocol::Seq last_seq_reported_ = 0;  // last_seq in the newest status sent
    TimePoint acked_since_{};        // when the oldest of acked_ was acknowledged
    double tokens_ = 0;
    TimePoint refilled_at_{};
    std::optional<TimePoint> last_status_;
    bool pumping_ = false;
    bool pump_again_ = false;
    SyncStats stats_;
};

}  // namespace pvfleet::sync
