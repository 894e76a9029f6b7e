#pragma once
// A Publisher that records every request and completes them only when the test says so (ack, fail, drop
// the connection), so ordering, in-flight limits and ack handling can be checked step by step.
#include <deque>
#include <string>
#include <vector>

#include "pvfleet/sync/publisher.hpp"

namespace pvfleet::fakes {

class FakePublisher final : public sync::Publisher {
public:
    struct Sent {
        sync::PublishRequest request;
        Completion done;
    };

    void publish(sync::PublishRequest request, Completion done) override {
        all.push_back(request);
        if (!is_connected) {
            done(Error{"fake: not connected", ErrorKind::io});
            return;
        }
        if (request.retained && auto_ack_retained) {
            done({});
            return;
        }
        pending.push_back({std::move(request), std::move(done)});
    }
    [[nodiscard]] bool connected() const override { return is_connected; }

    // Acknowledges the oldest `n` pending publishes (PUBACK).
    void ack(std::size_t n = 1) {
        for (std::size_t i = 0; i < n && !pending.empty(); ++i) {
            auto s = std::move(pending.front());
            pending.pop_front();
            s.done({});
        }
    }
    void ack_all() {
        while (!pending.empty()) ack();
    }
    // The connection drops: every pending publish fails.
    void drop() {
        is_connected = false;
        auto p = std::move(pending);
        pending.clear();
        for (auto& s : p) s.done(Error{"fake: connection lost", ErrorKind::io});
    }
    // Requests published on topics ending with `suffix` (e.g. "/telemetry").
    [[nodiscard]] std::vector<sync::PublishRequest> on(const std::string& suffix) const {
        std::vector<sync::PublishRequest> out;
        for (const auto& r : all)
            if (r.topic.size() >= suffix.size() && r.topic.compare(r.topic.size() - suffix.size(), suffix.size(), suffix) == 0)
                out.push_back(r);
        return out;
    }

    bool is_connected = true;
    // Retained messages (the status) are acknowledged at once, so ack() deals with sequenced messages only.
    bool auto_ack_retained = true;
    std::vector<sync::PublishRequest> all;
    std::deque<Sent> pending;
};

}  // namespace pvfleet::fakes
