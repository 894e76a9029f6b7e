#pragma once
// The agent's raw telemetry on its way into the store. The agent adds a poll cycle's samples and commits them
// right behind it (one transaction for whatever the poll threads delivered together), so every sample polled is
// in the operating system once its cycle is handled: a killed process (kill -9, a crash) loses none. Most of those
// commits are made with synchronous=NORMAL (the WAL is written, not fsynced — no flash write per commit); one at
// least every `durable_interval` is made with synchronous=FULL, which fsyncs the whole WAL, so a power cut loses
// at most that much of the newest raw samples (docs/performance.md). Tickets, their events, acks and config stay
// durable at each commit (the store's other writes are FULL).
//
// Never lets SQLite grow the file into a full filesystem: when free space is below `min_free_bytes` and the
// database has too few free pages for the batch, the batch is not written (counted as `skipped`; the sync and
// detection still get every sample, and the agent then commits the sync's batch to the outbox at once). A failed
// commit (SQLITE_FULL, busy) keeps the batch for the next attempt, up to `max_buffered` samples (the oldest beyond
// are counted as `dropped`). Nothing stored before is touched by a failure.
#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::store {

struct TelemetryWriterOptions {
    Millis durable_interval{60'000};
    std::size_t max_buffered = 4096;
    std::uint64_t min_free_bytes = 0;  // 0: no free-space check
    FreeSpaceFn free_space = statvfs_free_bytes;
};

struct TelemetryWriterStats {
    std::uint64_t written = 0;
    std::uint64_t commits = 0;
    std::uint64_t durable_commits = 0;  // of which with synchronous=FULL
    std::uint64_t skipped = 0;  // not stored: the filesystem is below its free-space floor
    std::uint64_t dropped = 0;  // not stored: commits kept failing
    std::uint64_t failures = 0;
};

class TelemetryWriter {
public:
    TelemetryWriter(GatewayStore& store, TelemetryWriterOptions options) : store_(store), options_(std::move(options)) {}

    void add(domain::Sample sample);
    // Commits everything added since the last commit in one transaction (`now`: the wall clock, for the
    // durable interval).
    Status flush(TimePoint now);
    [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }
    [[nodiscard]] const TelemetryWriterStats& stats() const { return stats_; }

private:
    [[nodiscard]] bool may_grow(std::size_t rows) const;
    [[nodiscard]] bool durable_due(TimePoint now) const;

    GatewayStore& store_;
    TelemetryWriterOptions options_;
    std::vector<domain::Sample> buffer_;
    std::optional<TimePoint> last_durable_;
    TelemetryWriterStats stats_;
};

}  // namespace pvfleet::store
