#include "pvfleet/ingest/group_committer.hpp"

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::ingest {
namespace {
constexpr const char* kCommitLog = "ingest";
// Rejected payloads are logged one by one up to this many per minute, then summarised: a misbehaving client
// must not flood the log.
constexpr std::uint64_t kRejectLogsPerMinute = 20;
}  // namespace

GroupCommitter::GroupCommitter(const IngestOptions& options, storage::Store& store, Ledger& ledger, TimeSystem& time,
                               Downlink downlink)
    : options_(options),
      store_(store),
      ledger_(ledger),
      time_(time),
      downlink_(std::move(downlink)),
      flush_timer_(time.make_timer()),
      gap_timer_(time.make_timer()) {}

GroupCommitter::~GroupCommitter() = default;

void GroupCommitter::publish_stats() {
    std::lock_guard lock(snapshot_mutex_);
    snapshot_ = stats_;
}

IngestStats GroupCommitter::stats() const {
    std::lock_guard lock(snapshot_mutex_);
    return snapshot_;
}

void GroupCommitter::start() {
    schedule_gap_check();
}

void GroupCommitter::add(Received received) {
    ++stats_.received;
    pending_.push_back(std::move(received));
    if (pending_.size() >= options_.max_batch) {
        flush();
        return;
    }
    publish_stats();
    // Armed by the first message held; a flush by size leaves it armed (it then finds little or nothing).
    if (!flush_timer_->armed()) flush_timer_->arm(options_.max_delay, [this] { flush(); });
}

void GroupCommitter::reject(const Received& r, const std::string& reason) {
    ++stats_.rejected;
    const TimePoint now = time_.now();
    if (now - reject_window_start_ > std::chrono::minutes(1)) {
        if (reject_logs_in_window_ > kRejectLogsPerMinute)
            PVF_LOG(warn, kCommitLog, (reject_logs_in_window_ - kRejectLogsPerMinute) << " more payloads rejected");
        reject_window_start_ = now;
        reject_logs_in_window_ = 0;
    }
    if (++reject_logs_in_window_ <= kRejectLogsPerMinute)
        PVF_LOG(warn, kCommitLog, "rejected " << r.bytes << " B on " << r.topic.substr(0, 200) << ": " << reason);
    if (auto s = store_.record_reject(r.topic, r.bytes, reason); !s)
        PVF_LOG(error, kCommitLog, "recording a rejected payload: " << s.error().message);
}

void GroupCommitter::flush() {
    if (pending_.empty()) return;
    std::vector<Received> batch;
    batch.swap(pending_);
    std::vector<protocol::Message> decoded;
    decoded.reserve(batch.size());
    for (auto& r : batch) {
        if (!r.decoded) {
            reject(r, r.decoded.error().message);
            continue;
        }
        decoded.push_back(std::move(*r.decoded));
    }
    if (!decoded.empty()) {
        // The rejects are published before the commit makes the batch visible: whoever sees a later message
        // stored also sees the rejects of the messages that came before it.
        publish_stats();
        commit(decoded);
    }
    publish_stats();
}

void GroupCommitter::commit(const std::vector<protocol::Message>& decoded) {
    for (int attempt = 0;; ++attempt) {
        auto r = ledger_.ingest(decoded);
        if (r) {
            ++stats_.commits;
            stats_.applied += r->applied;
            stats_.duplicates += r->duplicates;
            stats_.samples += r->samples;
            stats_.points += r->points;
            stats_.ticket_events += r->ticket_events;
            stats_.work_orders_created += r->work_orders_created;
            stats_.work_orders_updated += r->work_orders_updated;
            if (options_.on_committed) options_.on_committed(decoded);
            return;
        }
        if (r.error().kind == ErrorKind::busy && attempt < 5) continue;  // lock or serialisation conflict: retry
        ++stats_.store_errors;
        if (decoded.size() == 1) {
            // One message the store cannot take. It is not retried for ever: the gap check asks for it again.
            PVF_LOG(error, kCommitLog,
                    "storing " << protocol::to_string(protocol::kind_of(decoded[0])) << " of site "
                               << protocol::site_of(decoded[0]) << ": " << r.error().message);
            return;
        }
        // Isolate the message that fails so the rest of the batch is stored.
        PVF_LOG(warn, kCommitLog, "batch of " << decoded.size() << " failed (" << r.error().message << "); one by one");
        for (const auto& m : decoded) commit(std::vector<protocol::Message>{m});
        return;
    }
}

void GroupCommitter::stop_timers() {
    stopping_ = true;
    flush_timer_->cancel();
    gap_timer_->cancel();
}

void GroupCommitter::schedule_gap_check() {
    if (stopping_) return;
    gap_timer_->arm(options_.gap_check_interval, [this] {
        if (stopping_) return;
        check_gaps();
        schedule_gap_check();
    });
}

void GroupCommitter::check_gaps() {
    if (!downlink_.connected || !downlink_.connected()) return;  // a resend now would only queue up
    flush();
    auto due = ledger_.due_resends(options_.gaps);
    if (!due) {
        PVF_LOG(error, kCommitLog, "gap check: " << due.error().message);
        return;
    }
    for (const auto& req : *due) {
        protocol::Command cmd;
        cmd.site_id = req.site_id;
        cmd.issued_at = time_.now();
        cmd.command_id = "resend-" + std::to_string(to_epoch_ms(cmd.issued_at)) + "-" +
                         std::to_string(++command_counter_) + "-" + options_.mqtt.client_id;
        cmd.expires_at = cmd.issued_at + std::chrono::minutes(10);
        cmd.body = protocol::ResendCommand{req.from_seq, req.to_seq};
        PVF_LOG(info, kCommitLog,
                "site " << req.site_id << ": asking for seq " << req.from_seq << ".." << req.to_seq << " (attempt "
                        << req.attempt << ")");
        if (auto s = downlink_.send(cmd); !s) PVF_LOG(warn, kCommitLog, "resend command: " << s.error().message);
        ++stats_.resend_requests;
    }
    publish_stats();
}

}  // namespace pvfleet::ingest
