#pragma once
// Outbound webhooks (docs/webhooks.md): an admin subscribes a URL to names of the event catalogue; the
// dispatcher hands each event of the log (storage/events.hpp) to WebhookConsumer, which writes one delivery
// per enabled, subscribed webhook — keyed (webhook, event), its JSON body fixed then — and the sender
// (sender.hpp) POSTs them. The secret signs the bodies, so it cannot be hashed: it is stored encrypted with
// the field cipher of customers' personal data and never returned after creation. Tables `webhooks`,
// `webhook_deliveries`, `webhook_attempts`.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pvfleet/records/crypto.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::webhooks {

// The names a webhook may subscribe to ("*": every event, also names added later); docs/webhooks.md.
std::span<const std::string_view> event_catalogue();
inline constexpr std::string_view kEveryEvent = "*";
// The ping of POST /api/webhooks/{id}/test: sent to that webhook only, never subscribed to.
inline constexpr std::string_view kTestEvent = "webhook.test";

// Where a webhook may point (config section `webhooks`). Loopback, link-local and cloud metadata addresses
// are refused unless allow_loopback (loopback only: tests, a receiver on the same host); private ranges
// unless allow_private_networks.
struct NetworkPolicy {
    bool allow_private_networks = false;
    bool allow_loopback = false;
};

struct Limits {
    int max_webhooks = 50;
    std::size_t max_url_bytes = 2048;
    std::size_t min_secret_bytes = 16;
    std::size_t max_secret_bytes = 256;
    std::size_t max_events = 32;  // names per webhook
    int concurrency = 4;          // deliveries in flight at once
    int max_attempts = 8;         // then the delivery has failed (the schedule spans about a day)
    Millis connect_timeout{5'000};
    Millis total_timeout{10'000};
    std::size_t excerpt_bytes = 1024;            // of each response, kept in the log
    std::size_t max_response_bytes = 64 * 1024;  // read at most; the rest is cut off
    std::chrono::hours retention{24 * 30};       // finished deliveries and their attempts, then purged
    // A webhook whose attempts all failed for this long (and at least disable_min_failures of them) is
    // disabled with the reason.
    std::chrono::hours disable_after{24};
    int disable_min_failures = 10;
};

struct Settings {
    NetworkPolicy network;
    Limits limits;
};

enum class DeliveryState { pending, delivered, failed, cancelled };
std::string_view to_string(DeliveryState s);

struct Attempt {
    std::int64_t id = 0;
    TimePoint at{};
    std::optional<int> http_status;  // none: no answer (error says why)
    std::string error;
    Millis duration{0};
    std::string response_excerpt;
};

struct Delivery {
    std::int64_t id = 0;
    std::int64_t webhook_id = 0;
    std::optional<std::int64_t> event_id;  // none: a test ping
    std::string event_name;
    std::string body;
    DeliveryState state = DeliveryState::pending;
    int attempts = 0;
    std::optional<TimePoint> next_attempt_at;
    TimePoint created_at{};
    std::optional<TimePoint> finished_at;
    std::vector<Attempt> log;  // filled by list_deliveries, newest attempt last
};

struct Webhook {
    std::int64_t id = 0;
    std::string url;
    std::vector<std::string> events;
    bool enabled = true;
    std::string disabled_reason;  // why the sender disabled it ("" when an admin did, or enabled)
    std::optional<TimePoint> failing_since;
    std::int64_t version = 1;
    std::string created_by;
    TimePoint created_at{};
    TimePoint updated_at{};
    // The newest delivery, for the list: its state, time and last HTTP status.
    std::optional<DeliveryState> last_state;
    std::optional<TimePoint> last_attempt_at;
    std::optional<int> last_status;
};

struct NewWebhook {
    std::string url;
    std::optional<std::string> secret;  // none: one is generated and returned once
    std::vector<std::string> events;
};

struct Created {
    Webhook webhook;
    std::string generated_secret;  // "" when the caller gave one
};

struct WebhookChange {
    std::optional<std::string> url;
    std::optional<std::vector<std::string>> events;
    std::optional<bool> enabled;
    std::optional<std::string> secret;  // rotation
};

// Checks (errors name the key: "url", "secret", "events/2"): the URL by url_policy.hpp's rules, the secret's
// length, the names against the catalogue, no repeats. Creation refuses a 51st webhook (conflict).
Result<Created> create_webhook(storage::Db& db, const records::FieldCipher& cipher, const Settings& settings,
                               const NewWebhook& in, const std::string& actor, TimePoint now);
Result<std::vector<Webhook>> list_webhooks(storage::Db& db);
Result<std::optional<Webhook>> get_webhook(storage::Db& db, std::int64_t id);
// At `expected_version` (conflict otherwise). Disabling cancels its pending deliveries; enabling clears the
// failure run and the reason.
Result<Webhook> update_webhook(storage::Db& db, const records::FieldCipher& cipher, const Settings& settings,
                               std::int64_t id, std::int64_t expected_version, const WebhookChange& change,
                               const std::string& actor, TimePoint now);
Status delete_webhook(storage::Db& db, std::int64_t id, const std::string& actor, TimePoint now);

// The webhook's deliveries newest first, with their attempts; `before_id` pages (0: from the newest).
Result<std::vector<Delivery>> list_deliveries(storage::Db& db, std::int64_t webhook_id,
                                              std::int64_t before_id, int limit);
Result<std::optional<Delivery>> get_delivery(storage::Db& db, std::int64_t id);
// A webhook.test ping to this webhook only, due now (the webhook must be enabled: conflict otherwise).
Result<Delivery> enqueue_test(storage::Db& db, std::int64_t webhook_id, const std::string& actor,
                              TimePoint now);
// A failed or cancelled delivery due again now, with a fresh run of attempts (its log kept).
Result<Delivery> retry_delivery(storage::Db& db, std::int64_t delivery_id, const std::string& actor,
                                TimePoint now);
// Finished deliveries created before now - retention, with their attempts; returns how many.
Result<int> purge_deliveries(storage::Db& db, const Settings& settings, TimePoint now);

// The body of a delivery: {"id", "event", "occurred_at", "data"} (id: the delivery's).
std::string delivery_body(std::int64_t delivery_id, std::string_view event, TimePoint occurred_at,
                          const nlohmann::json& data);

// The dispatcher's consumer: one delivery per enabled webhook subscribed to the event's name and made
// before it; a repeated event writes nothing twice.
class WebhookConsumer final : public storage::EventConsumer {
public:
    [[nodiscard]] std::string_view consumer_name() const override { return "webhooks"; }
    Status consume(storage::Db& db, const storage::Event& event, TimePoint now) override;
};

}  // namespace pvfleet::webhooks
