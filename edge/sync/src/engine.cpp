#include "pvfleet/sync/engine.hpp"

#include <algorithm>

#include "pvfleet/protocol/codec.hpp"
#include "pvfleet/protocol/topics.hpp"
#include "pvfleet/util/log.hpp"

namespace pvfleet::sync {
namespace {

constexpr const char* kLog = "sync";

// A stored row as it goes out as backlog: flagged historical, stamped with the new sent_at. A telemetry batch
// stored head-split (protocol::encode_resendable) gets a new head built from these values and keeps its
// compressed rest; anything else (ticket events, quota aggregates, rows stored in another framing) is decoded
// and encoded again.
Result<std::string> historical_payload(const store::OutboxEntry& e, const std::string& site_id, TimePoint now) {
    if (e.kind == store::OutboxKind::telemetry && !e.aggregate && protocol::split_payload_head(e.payload)) {
        const std::string head = protocol::telemetry_head(site_id, e.seq, true, now);
        // Without a kept SplitRest (rows written before it was), the rest is inflated once for its checksum.
        if (auto payload = e.split_rest ? protocol::replace_payload_head(e.payload, head, *e.split_rest)
                                        : protocol::replace_payload_head(e.payload, head))
            return std::move(*payload);
    }
    if (e.kind == store::OutboxKind::telemetry) {
        auto b = protocol::decode_telemetry(e.payload);
        if (!b) return b.error();
        b->historical = true;
        b->sent_at = now;
        return protocol::encode(*b, {.compress = true});
    }
    auto t = protocol::decode_ticket_event(e.payload);
    if (!t) return t.error();
    t->historical = true;
    t->sent_at = now;
    return protocol::encode(*t);
}

}  // namespace

Result<std::unique_ptr<SyncEngine>> SyncEngine::create(SyncConfig config, store::Outbox& outbox, Publisher& publisher,
                                                       const Clock& clock) {
    if (!protocol::is_valid_site_id(config.site_id))
        return Error::at("site_id", "'" + config.site_id + "' is not a valid site id");
    if (config.agent_version.empty() || config.agent_version.size() > 64) return Error::at("agent_version", "must be 1..64 bytes");
    if (config.config_version.empty() || config.config_version.size() > 64)
        return Error::at("config_version", "must be 1..64 bytes (the status message requires it)");
    if (config.batch_interval.count() <= 0) return Error::at("batch_interval", "must be positive");
    if (config.batch_max_samples == 0) return Error::at("batch_max_samples", "must be positive");
    if (config.max_inflight == 0) return Error::at("max_inflight", "must be positive");
    if (config.ack_batch == 0) return Error::at("ack_batch", "must be positive");
    if (config.ack_flush_interval.count() < 0) return Error::at("ack_flush_interval", "must not be negative");
    if (config.backlog_per_second <= 0) return Error::at("backlog_per_second", "must be positive");
    if (config.backlog_burst < 1) return Error::at("backlog_burst", "must be at least 1");
    if (config.heartbeat_interval.count() <= 0) return Error::at("heartbeat_interval", "must be positive");
    if (config.max_payload_bytes < 1024 || config.max_payload_bytes > protocol::kMaxPayloadBytes)
        return Error::at("max_payload_bytes", "must be between 1024 and " + std::to_string(protocol::kMaxPayloadBytes));
    return std::unique_ptr<SyncEngine>(new SyncEngine(std::move(config), outbox, publisher, clock));
}

SyncEngine::SyncEngine(SyncConfig config, store::Outbox& outbox, Publisher& publisher, const Clock& clock)
    : config_(std::move(config)), outbox_(outbox), publisher_(publisher), clock_(clock), started_(clock.now()) {
    for (const auto& d : config_.devices) polls_[d] = std::nullopt;
}

SyncEngine::~SyncEngine() {
    *alive_ = false;
    (void)remove_acked();
}

Status SyncEngine::remove_acked() {
    if (acked_.empty()) return {};
    const std::vector<protocol::Seq> seqs(acked_.begin(), acked_.end());
    if (auto s = outbox_.remove_acked(seqs); !s) {
        PVF_LOG(error, kLog, "removing " << seqs.size() << " acknowledged rows: " << s.error().message);
        return s;
    }
    // Rows read ahead before their PUBACK (a resend, a live message) must not go out again from that copy.
    std::erase_if(backlog_rows_, [this](const store::OutboxEntry& e) { return acked_.count(e.seq) != 0; });
    acked_.clear();
    return {};
}

std::uint64_t SyncEngine::backlog_depth() const {
    // Every seq in acked_ is still an outbox row (only remove_acked() deletes them); the clamp covers a seq
    // acknowledged twice (a late PUBACK from the previous connection after it was resent and removed).
    const std::uint64_t depth = outbox_.depth();
    return depth - std::min<std::uint64_t>(depth, acked_.size());
}

Status SyncEngine::add_sample(domain::Sample sample) {
    if (pending_.empty()) batch_started_ = clock_.now();
    pending_.push_back(std::move(sample));
    if (pending_.size() >= config_.batch_max_samples) return flush();
    return {};
}

Status SyncEngine::flush() {
    if (pending_.empty()) return {};
    auto samples = std::move(pending_);
    pending_.clear();
    std::stable_sort(samples.begin(), samples.end(), [](const auto& a, const auto& b) { return a.t < b.t; });
    auto s = append_telemetry(samples);
    if (!s) {
        // Keep them for the next attempt (the outbox may be busy or the disk full for a moment).
        pending_.insert(pending_.begin(), samples.begin(), samples.end());
        PVF_LOG(warn, kLog, "flush: " << s.error().message);
        return s;
    }
    enforce_quota();
    pump();
    return {};
}

Status SyncEngine::append_telemetry(std::vector<domain::Sample> samples) {
    const TimePoint now = clock_.now();
    bool too_large = false;
    std::string payload_copy;  // what goes out live
    store::AppendCursors cursors;
    for (const auto& s : samples) {
        cursors.telemetry_through = std::max(cursors.telemetry_through.value_or(s.t), s.t);
        cursors.telemetry_from = std::min(cursors.telemetry_from.value_or(s.t), s.t);
    }
    auto seq = outbox_.append(store::OutboxKind::telemetry, now, samples.size(), [&](protocol::Seq q) -> Result<store::EncodedPayload> {
        protocol::TelemetryBatch b;
        b.site_id = config_.site_id;
        b.seq = q;
        b.sent_at = now;
        b.resolution_s = config_.resolution_s;
        b.samples = samples;
        // Encoded once: live, the batch goes out compressed as usual; the outbox keeps it head-split, at a few
        // dozen bytes more, so that sending it as backlog replaces the head instead of inflating and
        // compressing the whole batch again (that was most of the CPU of a drain).
        auto enc = protocol::encode_resendable(b);
        if (!enc) return enc.error().under("telemetry");
        if (std::max(enc->live.size(), enc->stored.size()) > config_.max_payload_bytes && samples.size() > 1) {
            too_large = true;
            return Error{"telemetry: batch too large", ErrorKind::unsupported};
        }
        payload_copy = std::move(enc->live);
        return store::EncodedPayload{std::move(enc->stored), enc->rest};
    }, cursors);
    if (!seq && too_large) {
        const auto half = static_cast<std::ptrdiff_t>(samples.size() / 2);
        std::vector<domain::Sample> first(samples.begin(), samples.begin() + half);
        std::vector<domain::Sample> second(samples.begin() + half, samples.end());
        if (auto s = append_telemetry(std::move(first)); !s) return s;
        return append_telemetry(std::move(second));
    }
    if (!seq) return seq.error();
    queued(store::OutboxEntry{*seq, store::OutboxKind::telemetry, std::move(payload_copy), now, false, samples.size(), {}});
    return {};
}

Result<protocol::Seq> SyncEngine::add_ticket_event(const domain::TicketEvent& event, std::optional<long long> store_event_id) {
    const TimePoint now = clock_.now();
    std::string payload_copy;
    auto seq = outbox_.append(
        store::OutboxKind::ticket_event, now, 0,
        [&](protocol::Seq q) -> Result<store::EncodedPayload> {
            protocol::TicketEventMessage m{config_.site_id, q, false, now, event};
            auto enc = protocol::encode(m);
            if (!enc) return enc.error().under("ticket_event");
            payload_copy = *enc;
            return store::EncodedPayload{std::move(*enc)};
        },
        store::AppendCursors{store_event_id, std::nullopt, std::nullopt});
    if (!seq) return seq.error();
    queued(store::OutboxEntry{*seq, store::OutboxKind::ticket_event, std::move(payload_copy), now, false, 0, {}});
    enforce_quota();
    pump();
    return *seq;
}

void SyncEngine::queued(store::OutboxEntry entry) {
    if (connected_) live_.push_back(std::move(entry));
}

void SyncEngine::enforce_quota() {
    if (outbox_.bytes() <= config_.quota_bytes) return;
    // Acknowledged rows must not be counted, nor downsampled.
    if (!acked_.empty() && remove_acked().ok() && outbox_.bytes() <= config_.quota_bytes) return;
    const auto before = outbox_.quota_report();
    auto r = outbox_.enforce_quota(config_.quota_bytes);
    if (!r) {
        PVF_LOG(error, kLog, "quota: " << r.error().message);
        return;
    }
    if (!(*r == before)) {
        backlog_rows_.clear();  // rows read ahead may have been rewritten
        PVF_LOG(warn, kLog, "quota " << config_.quota_bytes << " B reached: " << r->downsampled_samples
                                     << " samples downsampled, " << r->dropped_samples << " dropped so far");
        publish_status();  // status reports the change
    }
}

Result<std::size_t> SyncEngine::resend(protocol::Seq from, protocol::Seq to) {
    if (from < 1) return Error::at("from_seq", "must be at least 1");
    if (to < from) return Error::at("to_seq", std::to_string(to) + " is below from_seq " + std::to_string(from));
    (void)remove_acked();
    // Acknowledged rows included: the broker's PUBACK is not the server's commit, and the server asks for
    // exactly what it lacks.
    auto rows = outbox_.range(from, to, static_cast<std::size_t>(std::min<protocol::Seq>(to - from + 1, 100'000)));
    if (!rows) return rows.error();
    std::size_t n = 0;
    for (auto& r : *rows) {
        if (inflight_.count(r.seq) != 0 || queued_resends_.count(r.seq) != 0) continue;
        queued_resends_.insert(r.seq);
        resend_rows_.push_back(std::move(r));
        ++n;
    }
    pump();
    return n;
}

void SyncEngine::note_poll_ok(const std::string& device_id, TimePoint t) { polls_[device_id] = t; }
void SyncEngine::set_config_version(std::string version) {
    if (version.empty() || version.size() > 64 || version == config_.config_version) return;
    config_.config_version = std::move(version);
    publish_status();  // status on change
}

void SyncEngine::tick() {
    const TimePoint now = clock_.now();
    if (!pending_.empty() && now - batch_started_ >= config_.batch_interval) (void)flush();
    if (!acked_.empty() && now - acked_since_ >= config_.ack_flush_interval) (void)remove_acked();
    if (connected_ && (!last_status_ || now - *last_status_ >= config_.heartbeat_interval)) publish_status();
    pump();
}

void SyncEngine::on_connected() {
    connected_ = true;
    ++epoch_;
    inflight_.clear();
    live_.clear();
    (void)remove_acked();
    backlog_cursor_ = 0;
    backlog_rows_.clear();
    tokens_ = config_.backlog_burst;
    refilled_at_ = clock_.now();
    publish_status();
    pump();
}

void SyncEngine::on_disconnected() {
    connected_ = false;
    ++epoch_;
    inflight_.clear();
    live_.clear();  // still in the outbox: backlog after the reconnect
    backlog_rows_.clear();
    (void)remove_acked();
}

void SyncEngine::refill(TimePoint now) {
    if (now > refilled_at_) {
        const double secs = std::chrono::duration<double>(now - refilled_at_).count();
        tokens_ = std::min(config_.backlog_burst, tokens_ + secs * config_.backlog_per_second);
        refilled_at_ = now;
    }
}

void SyncEngine::pump() {
    if (pumping_) {
        pump_again_ = true;
        return;
    }
    pumping_ = true;
    // One clock read per pump (it fills the whole in-flight window at once), not two per message.
    const TimePoint now = clock_.now();
    do {
        pump_again_ = false;
        while (connected_ && inflight_.size() < config_.max_inflight) {
            if (!live_.empty()) {
                auto e = std::move(live_.front());
                live_.pop_front();
                publish_entry(e, false, now);
                continue;
            }
            refill(now);
            if (tokens_ < 1.0) break;
            if (!resend_rows_.empty()) {
                // Asked for by the server: before the rest of the backlog, paced like it.
                auto e = std::move(resend_rows_.front());
                resend_rows_.pop_front();
                queued_resends_.erase(e.seq);
                if (inflight_.count(e.seq) != 0) continue;
                tokens_ -= 1.0;
                publish_entry(e, true, now);
                if (!connected_) break;
                continue;
            }
            if (backlog_rows_.empty()) {
                // One read of the outbox serves many backlog messages (reading it again for every message
                // costs more than the publish).
                constexpr std::size_t kReadAhead = 64;
                auto rows = outbox_.after(backlog_cursor_, kReadAhead);
                if (!rows) {
                    PVF_LOG(error, kLog, "backlog: " << rows.error().message);
                    break;
                }
                if (rows->empty()) break;  // backlog done
                backlog_rows_.assign(std::make_move_iterator(rows->begin()),
                                     std::make_move_iterator(rows->end()));
            }
            auto e = std::move(backlog_rows_.front());
            backlog_rows_.pop_front();
            backlog_cursor_ = e.seq;
            // Live messages sent on this connection: in flight, or acknowledged and waiting for removal.
            if (inflight_.count(e.seq) != 0 || acked_.count(e.seq) != 0) continue;
            tokens_ -= 1.0;
            publish_entry(e, true, now);
            // Refused at once (the publisher is not connected after all): on_done moved the cursor back; try
            // again on the next tick or event rather than spin here.
            if (!connected_ || backlog_cursor_ < e.seq) {
                pump_again_ = false;
                break;
            }
        }
    } while (pump_again_);
    pumping_ = false;
}

void SyncEngine::publish_entry(const store::OutboxEntry& e, bool historical, TimePoint now) {
    std::string payload;
    if (e.payload.empty()) {
        // Deleted by the quota policy: an empty batch closes the gap at the server.
        protocol::TelemetryBatch b;
        b.site_id = config_.site_id;
        b.seq = e.seq;
        b.historical = true;
        b.sent_at = now;
        auto enc = protocol::encode(b);
        if (!enc) {
            PVF_LOG(error, kLog, "seq " << e.seq << ": " << enc.error().message);
            return;
        }
        payload = std::move(*enc);
    } else if (historical || e.aggregate) {
        auto enc = historical_payload(e, config_.site_id, now);
        if (enc) {
            payload = std::move(*enc);
        } else {
            PVF_LOG(warn, kLog, "seq " << e.seq << ": sent as stored: " << enc.error().message);
            payload = e.payload;
        }
    } else {
        payload = e.payload;
    }
    const auto kind = e.kind == store::OutboxKind::telemetry ? protocol::MessageKind::telemetry : protocol::MessageKind::ticket_event;
    inflight_.insert(e.seq);
    if (historical) ++stats_.backlog_published;
    else ++stats_.live_published;
    publisher_.publish(PublishRequest{protocol::topic_for(config_.site_id, kind), std::move(payload), 1, false},
                       [this, alive = std::weak_ptr<bool>(alive_), seq = e.seq, epoch = epoch_](Status s) {
                           if (alive.expired()) return;
                           on_done(seq, epoch, s);
                       });
}

void SyncEngine::on_done(protocol::Seq seq, std::uint64_t epoch, const Status& s) {
    if (s) {
        ++stats_.acked;
        if (acked_.empty()) acked_since_ = clock_.now();
        acked_.insert(seq);
    } else {
        ++stats_.failed;
        PVF_LOG(debug, kLog, "seq " << seq << " not acknowledged: " << s.error().message);
    }
    if (epoch != epoch_) {  // a connection ago: its in-flight set is gone already
        if (acked_.size() >= config_.ack_batch) (void)remove_acked();
        return;
    }
    inflight_.erase(seq);
    if (!s && seq - 1 < backlog_cursor_) {  // send it again (as backlog)
        backlog_cursor_ = seq - 1;
        backlog_rows_.clear();
    }
    // Refill the in-flight window before the outbox transaction: the broker works on those messages while
    // the removal commits, instead of the window running dry behind it.
    pump();
    if (acked_.size() >= config_.ack_batch || inflight_.empty()) (void)remove_acked();  // a full batch, or idle
    // The moment everything has reached the broker, say so: the status carries last_seq, which is how the
    // server finds a tail gap (messages lost after the broker took them) without waiting for the heartbeat.
    if (s && inflight_.empty() && backlog_depth() == 0 && outbox_.last_seq() != last_seq_reported_) publish_status();
}

protocol::StatusMessage SyncEngine::status(protocol::SiteState state) const {
    const TimePoint now = clock_.now();
    protocol::StatusMessage m;
    m.site_id = config_.site_id;
    m.state = state;
    m.sent_at = now;
    m.agent_version = config_.agent_version;
    m.config_version = config_.config_version;
    if (state == protocol::SiteState::offline) return m;
    m.uptime_s = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - started_).count());
    m.backlog_depth = backlog_depth();
    if (outbox_.last_seq() > 0) m.last_seq = outbox_.last_seq();
    std::set<std::string> seen;
    for (const auto& d : config_.devices) {
        auto it = polls_.find(d);
        m.devices.push_back({d, it == polls_.end() ? std::nullopt : it->second, {}});
        if (auto w = config_.wired_inputs.find(d); w != config_.wired_inputs.end()) m.devices.back().wired_inputs = w->second;
        seen.insert(d);
    }
    for (const auto& [d, t] : polls_)
        if (seen.count(d) == 0) m.devices.push_back({d, t, {}});
    const auto q = outbox_.quota_report();
    if (!(q == protocol::QuotaReport{})) m.quota = q;
    return m;
}

void SyncEngine::publish_status() {
    if (!connected_) return;
    (void)remove_acked();  // the reported depth is then what the outbox holds
    last_status_ = clock_.now();
    last_seq_reported_ = outbox_.last_seq();
    auto enc = protocol::encode(status(protocol::SiteState::online));
    if (!enc) {
        PVF_LOG(error, kLog, "status: " << enc.error().message);
        return;
    }
    ++stats_.status_published;
    publisher_.publish(PublishRequest{protocol::topic_for(config_.site_id, protocol::MessageKind::status), std::move(*enc), 1, true},
                       [](Status s) {
                           if (!s) PVF_LOG(debug, kLog, "status not acknowledged: " << s.error().message);
                       });
}

}  // namespace pvfleet::sync
