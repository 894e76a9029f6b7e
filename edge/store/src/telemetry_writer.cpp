#include "pvfleet/store/telemetry_writer.hpp"

#include <filesystem>

#include "pvfleet/util/log.hpp"

namespace pvfleet::store {
namespace {
constexpr const char* kWriterLog = "store";
// What one raw row may take in the file (its compact body, key and B-tree overhead), doubled for page splits.
constexpr std::uint64_t kRowBytesEstimate = 2 * 200;
}  // namespace

void TelemetryWriter::add(domain::Sample sample) { buffer_.push_back(std::move(sample)); }

bool TelemetryWriter::may_grow(std::size_t rows) const {
    if (options_.min_free_bytes == 0 || !options_.free_space) return true;
    const auto dir = std::filesystem::path(store_.path()).parent_path();
    const auto free = options_.free_space(dir.empty() ? std::filesystem::path(".") : dir);
    if (!free || *free >= options_.min_free_bytes) return true;
    // Below the floor: only pages already free inside the file may take the batch.
    auto use = store_.page_use();
    return use && use->free_bytes() >= rows * kRowBytesEstimate;
}

bool TelemetryWriter::durable_due(TimePoint now) const {
    // A step of the wall clock back counts as due: the bound is kept either way.
    return !last_durable_ || now - *last_durable_ >= options_.durable_interval || now < *last_durable_;
}

Status TelemetryWriter::flush(TimePoint now) {
    if (buffer_.empty()) return {};
    if (!may_grow(buffer_.size())) {
        if (stats_.skipped == 0)
            PVF_LOG(warn, kWriterLog, "free space below the floor: raw telemetry not stored until the disk budget frees pages");
        stats_.skipped += buffer_.size();
        buffer_.clear();
        return {};
    }
    const bool durable = durable_due(now);
    auto s = store_.insert_samples(buffer_, durable);
    if (!s) {
        ++stats_.failures;
        if (buffer_.size() > options_.max_buffered) {
            const auto extra = buffer_.size() - options_.max_buffered;
            stats_.dropped += extra;
            buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(extra));
        }
        // Logged at the first failure and then every 100th.
        if (stats_.failures % 100 == 1)
            PVF_LOG(error, kWriterLog, "telemetry not stored (kept for the next commit, " << buffer_.size()
                                                                                      << " buffered): " << s.error().message);
        return s;
    }
    ++stats_.commits;
    if (durable) {
        ++stats_.durable_commits;
        last_durable_ = now;
    }
    stats_.written += buffer_.size();
    buffer_.clear();
    return {};
}

}  // namespace pvfleet::store
