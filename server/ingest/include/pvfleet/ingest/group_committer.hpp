#pragma once
// The timing half of ingest, without MQTT: received payloads wait at most max_delay (or until max_batch are
// held) for their group commit through the Ledger; a failed batch is retried when the database was busy, else
// stored one by one so a single bad message does not hold up the rest; every gap_check_interval the due gaps
// become resend commands. Both timers come from the TimeSystem, so tests advance a SimulatedTimeSystem instead
// of sleeping.
//
// Not thread-safe: every call, and every timer callback, must run on one serialised context (the Ingestor
// gives it an AsioTimeSystem on its strand). stats() may be called from any thread.
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "pvfleet/ingest/ledger.hpp"
#include "pvfleet/ingest/options.hpp"
#include "pvfleet/storage/store.hpp"
#include "pvfleet/util/time_system.hpp"

namespace pvfleet::ingest {

// One payload as received: its topic and size (for the reject record) and what decoding it gave.
struct Received {
    std::string topic;
    std::size_t bytes = 0;
    Result<protocol::Message> decoded;
};

// How resend commands leave: the Ingestor records and publishes them over MQTT.
struct Downlink {
    std::function<bool()> connected;  // a resend asked for while disconnected would only queue up
    std::function<Status(const protocol::Command&)> send;
};

class GroupCommitter {
public:
    GroupCommitter(const IngestOptions& options, storage::Store& store, Ledger& ledger, TimeSystem& time,
                   Downlink downlink);
    ~GroupCommitter();
    GroupCommitter(const GroupCommitter&) = delete;
    GroupCommitter& operator=(const GroupCommitter&) = delete;

    // Arms the periodic gap check.
    void start();
    void add(Received received);
    // Commits what is held now.
    void flush();
    // Cancels both timers for good (what is held stays until flush()).
    void stop_timers();
    // One gap check now: due gaps become resend commands.
    void check_gaps();

    // A snapshot, updated after each message, commit and gap check.
    [[nodiscard]] IngestStats stats() const;

private:
    void publish_stats();
    void reject(const Received& r, const std::string& reason);
    void commit(const std::vector<protocol::Message>& decoded);
    void schedule_gap_check();

    const IngestOptions& options_;
    storage::Store& store_;
    Ledger& ledger_;
    TimeSystem& time_;
    Downlink downlink_;
    std::unique_ptr<Timer> flush_timer_;
    std::unique_ptr<Timer> gap_timer_;
    bool stopping_ = false;
    std::vector<Received> pending_;
    IngestStats stats_;  // this context's own; published to snapshot_ for other threads
    mutable std::mutex snapshot_mutex_;
    IngestStats snapshot_;
    TimePoint reject_window_start_{};
    std::uint64_t reject_logs_in_window_ = 0;
    std::uint64_t command_counter_ = 0;
};

}  // namespace pvfleet::ingest
