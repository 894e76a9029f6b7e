#include "pvfleet/store/telemetry_writer.hpp"

#include <filesystem>

#include "pvfleet/util/log.hpp"

namespace pvfleet::store {
namespace {
constexpr const char* kWriterLog = "store";
// What one raw row may take in the file (body of ~500 B, key and B-tree overhead), doubled for page splits.
constexpr std::uint64_t kRowBytesEstimate = 2 * 700;
}  // namespace

void TelemetryWriter::add(domain::Sample sample) { buffer_.push_back(std::move(sample)); }

Status TelemetryWriter::flush_if_due(TimePoint now) {
    if (!started_) {
        started_ = true;
        last_commit_ = now;
    }
    if (buffer_.empty() || now - last_commit_ < options_.commit_interval) return {};
    return flush(now);
}

bool TelemetryWriter::may_grow(std::size_t rows) const {
    if (options_.min_free_bytes == 0 || !options_.free_space) return true;
    const auto dir = std::filesystem::path(store_.path()).parent_path();
    const auto free = options_.free_space(dir.empty() ? std::filesystem::path(".") : dir);
    if (!free || *free >= options_.min_free_bytes) return true;
    // Below the floor: only pages already free inside the file may take the batch.
    auto use = store_.page_use();
    return use && use->free_bytes() >= rows * kRowBytesEstimate;
}

Status TelemetryWriter::flush(TimePoint now) {
    last_commit_ = now;
    started_ = true;
    if (buffer_.empty()) return {};
    if (!may_grow(buffer_.size())) {
        if (stats_.skipped == 0)
            PVF_LOG(warn, kWriterLog, "free space below the floor: raw telemetry not stored until the disk budget frees pages");
        stats_.skipped += buffer_.size();
        buffer_.clear();
        return {};
    }
    auto s = store_.insert_samples(buffer_);
    if (!s) {
        ++stats_.failures;
        if (buffer_.size() > options_.max_buffered) {
            const auto extra = buffer_.size() - options_.max_buffered;
            stats_.dropped += extra;
            buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(extra));
        }
        PVF_LOG(error, kWriterLog, "telemetry not stored (kept for the next commit, " << buffer_.size()
                                                                                 << " buffered): " << s.error().message);
        return s;
    }
    ++stats_.commits;
    stats_.written += buffer_.size();
    buffer_.clear();
    return {};
}

}  // namespace pvfleet::store
