#pragma once
// The agent's raw telemetry on its way into the store: samples are buffered and committed together, one
// transaction every `commit_interval` (one commit per sample was most of the gateway's flash wear,
// docs/performance.md). A power cut loses at most that interval of the local raw copy; what the sync has
// batched into the outbox meanwhile (every sync.batch_interval_s) still reaches the server.
//
// Never lets SQLite grow the file into a full filesystem: when free space is below `min_free_bytes` and the
// database has too few free pages for the batch, the batch is not written (counted as `skipped`; the sync and
// detection still get every sample — raw history is what goes first). A failed commit (SQLITE_FULL, busy)
// keeps the batch for the next attempt, up to `max_buffered` samples (the oldest beyond are counted as
// `dropped`). Nothing stored before is touched by a failure.
#include <chrono>
#include <cstdint>
#include <vector>

#include "pvfleet/domain/sample.hpp"
#include "pvfleet/store/gateway_store.hpp"
#include "pvfleet/store/retention.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::store {

struct TelemetryWriterOptions {
    Millis commit_interval{300'000};
    std::size_t max_buffered = 4096;
    std::uint64_t min_free_bytes = 0;  // 0: no free-space check
    FreeSpaceFn free_space = statvfs_free_bytes;
};

struct TelemetryWriterStats {
    std::uint64_t written = 0;
    std::uint64_t commits = 0;
    std::uint64_t skipped = 0;  // not stored: the filesystem is below its free-space floor
    std::uint64_t dropped = 0;  // not stored: commits kept failing
    std::uint64_t failures = 0;
};

class TelemetryWriter {
public:
    TelemetryWriter(GatewayStore& store, TelemetryWriterOptions options) : store_(store), options_(std::move(options)) {}

    void add(domain::Sample sample);
    // Commits the buffer when the interval has passed since the last commit (`now`: the wall clock).
    Status flush_if_due(TimePoint now);
    Status flush(TimePoint now);
    [[nodiscard]] std::size_t buffered() const { return buffer_.size(); }
    [[nodiscard]] const TelemetryWriterStats& stats() const { return stats_; }

private:
    [[nodiscard]] bool may_grow(std::size_t rows) const;

    GatewayStore& store_;
    TelemetryWriterOptions options_;
    std::vector<domain::Sample> buffer_;
    TimePoint last_commit_{};
    bool started_ = false;
    TelemetryWriterStats stats_;
};

}  // namespace pvfleet::store
