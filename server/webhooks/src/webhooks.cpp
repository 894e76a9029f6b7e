// Webhooks and their deliveries (webhooks.hpp).
#include "pvfleet/webhooks/webhooks.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <stdexcept>

#include "pvfleet/storage/work_orders.hpp"
#include "pvfleet/util/time.hpp"
#include "pvfleet/webhooks/url_policy.hpp"

namespace pvfleet::webhooks {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 11> kCatalogue{
    "lead.created",        "lead.assigned",   "project.stage_changed", "milestone.overdue",
    "milestone.escalated", "payment.overdue", "work_order.created",    "work_order.assigned",
    "work_order.closed",   "site.offline",    "site.first_production"};

std::string random_secret() {
    std::array<unsigned char, 24> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1)
        throw std::runtime_error("OpenSSL RAND_bytes failed: no secure randomness");
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out = "whsec_";
    for (unsigned char b : bytes) {
        out += kHex[b >> 4];
        out += kHex[b & 0xf];
    }
    return out;
}

bool in_catalogue(std::string_view name) {
    return std::find(kCatalogue.begin(), kCatalogue.end(), name) != kCatalogue.end();
}

Status check_events(const std::vector<std::string>& events, const Limits& limits) {
    if (events.empty()) return Error::at("events", "name at least one event (or \"*\" for all)");
    if (events.size() > limits.max_events)
        return Error::at("events", "at most " + std::to_string(limits.max_events) + " names");
    for (std::size_t i = 0; i < events.size(); ++i) {
        const std::string at = "events/" + std::to_string(i);
        if (events[i] != kEveryEvent && !in_catalogue(events[i]))
            return Error::at(at, "'" + events[i].substr(0, 64) +
                                     "' is not in the event catalogue (docs/webhooks.md), nor \"*\"");
        if (std::find(events.begin(), events.begin() + static_cast<std::ptrdiff_t>(i), events[i]) !=
            events.begin() + static_cast<std::ptrdiff_t>(i))
            return Error::at(at, "'" + events[i] + "' named twice");
    }
    return {};
}

Status check_secret(const std::string& secret, const Limits& limits) {
    if (secret.size() < limits.min_secret_bytes || secret.size() > limits.max_secret_bytes)
        return Error::at("secret", "must be " + std::to_string(limits.min_secret_bytes) + " to " +
                                       std::to_string(limits.max_secret_bytes) + " characters");
    for (char c : secret)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return Error::at("secret", "no control characters");
    return {};
}

std::vector<std::string> events_of(const std::string& text) {
    std::vector<std::string> out;
    auto j = json::parse(text, nullptr, false);
    if (j.is_array())
        for (const auto& e : j)
            if (e.is_string()) out.push_back(e.get<std::string>());
    return out;
}

std::optional<DeliveryState> state_of(std::string_view s) {
    for (auto st :
         {DeliveryState::pending, DeliveryState::delivered, DeliveryState::failed, DeliveryState::cancelled})
        if (to_string(st) == s) return st;
    return std::nullopt;
}

std::optional<TimePoint> opt_time(const storage::Row& row, std::size_t i) {
    auto v = row.opt_integer(i);
    return v ? std::optional<TimePoint>(from_epoch_ms(*v)) : std::nullopt;
}

constexpr std::string_view kWebhookColumns =
    "SELECT w.id, w.url, w.events, w.enabled, w.disabled_reason, w.failing_since_ms, w.version, "
    "w.created_by, "
    "w.created_at_ms, w.updated_at_ms, d.state, "
    "(SELECT MAX(a.attempted_at_ms) FROM webhook_attempts a WHERE a.delivery_id = d.id), "
    "(SELECT a.http_status FROM webhook_attempts a WHERE a.delivery_id = d.id ORDER BY a.id DESC LIMIT 1) "
    "FROM webhooks w LEFT JOIN webhook_deliveries d ON d.id = "
    "(SELECT MAX(d2.id) FROM webhook_deliveries d2 WHERE d2.webhook_id = w.id) ";

Webhook webhook_of(const storage::Row& row) {
    Webhook w;
    w.id = row.integer(0);
    w.url = row.text(1);
    w.events = events_of(row.text(2));
    w.enabled = row.integer(3) != 0;
    w.disabled_reason = row.text(4);
    w.failing_since = opt_time(row, 5);
    w.version = row.integer(6);
    w.created_by = row.text(7);
    w.created_at = from_epoch_ms(row.integer(8));
    w.updated_at = from_epoch_ms(row.integer(9));
    if (auto s = row.opt_text(10)) w.last_state = state_of(*s);
    w.last_attempt_at = opt_time(row, 11);
    if (auto st = row.opt_integer(12)) w.last_status = static_cast<int>(*st);
    return w;
}

// What the audit log keeps of a webhook: never the secret.
std::string audit_json(const Webhook& w) {
    return json{{"url", w.url}, {"events", w.events}, {"enabled", w.enabled}}.dump();
}

constexpr std::string_view kDeliveryColumns =
    "SELECT id, webhook_id, event_id, event_name, body, state, attempts, next_attempt_at_ms, created_at_ms, "
    "finished_at_ms FROM webhook_deliveries ";

Delivery delivery_of(const storage::Row& row) {
    Delivery d;
    d.id = row.integer(0);
    d.webhook_id = row.integer(1);
    d.event_id = row.opt_integer(2);
    d.event_name = row.text(3);
    d.body = row.text(4);
    d.state = state_of(row.text(5)).value_or(DeliveryState::failed);
    d.attempts = static_cast<int>(row.integer(6));
    d.next_attempt_at = opt_time(row, 7);
    d.created_at = from_epoch_ms(row.integer(8));
    d.finished_at = opt_time(row, 9);
    return d;
}

Status cancel_pending(storage::Db& db, std::int64_t webhook_id, TimePoint now) {
    auto r = db.run(
        "UPDATE webhook_deliveries SET state = 'cancelled', next_attempt_at_ms = NULL, finished_at_ms = $1 "
        "WHERE webhook_id = $2 AND state = 'pending'",
        {std::int64_t{to_epoch_ms(now)}, webhook_id});
    if (!r) return r.error();
    return {};
}

// Inserts a delivery whose body names its own id; nothing when (webhook, event) has one already.
Result<std::optional<std::int64_t>> insert_delivery(storage::Db& db, std::int64_t webhook_id,
                                                    std::optional<std::int64_t> event_id,
                                                    std::string_view name, TimePoint occurred_at,
                                                    const json& data, TimePoint now) {
    const storage::Value event_value = event_id ? storage::Value(*event_id) : storage::Value(nullptr);
    auto r = db.run(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_name, body, state, attempts, "
        "next_attempt_at_ms, created_at_ms) VALUES ($1, $2, $3, '', 'pending', 0, $4, $4) "
        "ON CONFLICT DO NOTHING RETURNING id",
        {webhook_id, event_value, std::string(name), std::int64_t{to_epoch_ms(now)}});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<std::int64_t>{};
    const std::int64_t id = r->rows.at(0).integer(0);
    auto body = db.run("UPDATE webhook_deliveries SET body = $1 WHERE id = $2",
                       {delivery_body(id, name, occurred_at, data), id});
    if (!body) return body.error();
    return std::optional<std::int64_t>{id};
}

}  // namespace

std::span<const std::string_view> event_catalogue() {
    return kCatalogue;
}

std::string_view to_string(DeliveryState s) {
    switch (s) {
        case DeliveryState::pending:
            return "pending";
        case DeliveryState::delivered:
            return "delivered";
        case DeliveryState::failed:
            return "failed";
        case DeliveryState::cancelled:
            return "cancelled";
    }
    return "failed";
}

std::string delivery_body(std::int64_t delivery_id, std::string_view event, TimePoint occurred_at,
                          const json& data) {
    json body = {{"id", delivery_id},
                 {"event", event},
                 {"occurred_at", format_iso8601(occurred_at)},
                 {"data", data.is_object() ? data : json::object()}};
    return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Created> create_webhook(storage::Db& db, const records::FieldCipher& cipher, const Settings& settings,
                               const NewWebhook& in, const std::string& actor, TimePoint now) {
    if (auto u = parse_url(in.url, settings.network, settings.limits.max_url_bytes); !u) return u.error();
    Created out;
    std::string secret;
    if (in.secret) {
        PVF_CHECK(check_secret(*in.secret, settings.limits));
        secret = *in.secret;
    } else {
        secret = out.generated_secret = random_secret();
    }
    PVF_CHECK(check_events(in.events, settings.limits));
    auto made = storage::in_transaction(db, [&]() -> Result<std::int64_t> {
        auto count = db.run("SELECT COUNT(*), (SELECT COALESCE(MAX(id), 0) FROM events) FROM webhooks");
        if (!count) return count.error();
        if (count->rows.at(0).integer(0) >= settings.limits.max_webhooks)
            return Error{"at most " + std::to_string(settings.limits.max_webhooks) + " webhooks",
                         ErrorKind::conflict};
        const std::int64_t t = to_epoch_ms(now);
        auto r = db.run(
            "INSERT INTO webhooks (url, secret, events, enabled, after_event_id, version, created_by, "
            "created_at_ms, updated_at_ms) VALUES ($1, $2, $3, 1, $4, 1, $5, $6, $6) RETURNING id",
            {in.url, cipher.encrypt(secret), json(in.events).dump(), count->rows.at(0).integer(1), actor, t});
        if (!r) return r.error();
        const std::int64_t id = r->rows.at(0).integer(0);
        Webhook w;
        w.url = in.url;
        w.events = in.events;
        PVF_CHECK(storage::append_audit(db, now, actor, "webhook created", "webhook", std::to_string(id),
                                        std::nullopt, audit_json(w)));
        return id;
    });
    if (!made) return made.error();
    auto w = get_webhook(db, *made);
    if (!w) return w.error();
    if (!*w) return Error{"webhook " + std::to_string(*made) + " vanished", ErrorKind::not_found};
    out.webhook = std::move(**w);
    return out;
}

Result<std::vector<Webhook>> list_webhooks(storage::Db& db) {
    auto r = db.run(std::string(kWebhookColumns) + "ORDER BY w.id");
    if (!r) return r.error();
    std::vector<Webhook> out;
    for (const auto& row : r->rows) out.push_back(webhook_of(row));
    return out;
}

Result<std::optional<Webhook>> get_webhook(storage::Db& db, std::int64_t id) {
    auto r = db.run(std::string(kWebhookColumns) + "WHERE w.id = $1", {id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Webhook>{};
    return std::optional<Webhook>{webhook_of(r->rows.at(0))};
}

Result<Webhook> update_webhook(storage::Db& db, const records::FieldCipher& cipher, const Settings& settings,
                               std::int64_t id, std::int64_t expected_version, const WebhookChange& change,
                               const std::string& actor, TimePoint now) {
    if (change.url)
        if (auto u = parse_url(*change.url, settings.network, settings.limits.max_url_bytes); !u)
            return u.error();
    if (change.secret) PVF_CHECK(check_secret(*change.secret, settings.limits));
    if (change.events) PVF_CHECK(check_events(*change.events, settings.limits));
    auto done = storage::in_transaction(db, [&]() -> Status {
        auto current = get_webhook(db, id);
        if (!current) return current.error();
        if (!*current) return Error{"no webhook " + std::to_string(id), ErrorKind::not_found};
        Webhook before = **current;
        if (before.version != expected_version)
            return Error{"webhook " + std::to_string(id) + " was changed meanwhile", ErrorKind::conflict};
        Webhook after = before;
        if (change.url) after.url = *change.url;
        if (change.events) after.events = *change.events;
        if (change.enabled) after.enabled = *change.enabled;
        const bool reenabled = after.enabled && !before.enabled;
        const std::int64_t t = to_epoch_ms(now);
        auto r = db.run(
            "UPDATE webhooks SET url = $1, events = $2, enabled = $3, version = version + 1, updated_at_ms = "
            "$4 "
            "WHERE id = $5 AND version = $6",
            {after.url, json(after.events).dump(), std::int64_t{after.enabled ? 1 : 0}, t, id,
             expected_version});
        if (!r) return r.error();
        // Enabled again by an admin: the sender's reason and its run of failures are history.
        if (reenabled)
            if (auto c = db.run("UPDATE webhooks SET disabled_reason = '', failing_since_ms = NULL, "
                                "failed_attempts = 0 WHERE id = $1",
                                {id});
                !c)
                return c.error();
        if (r->affected == 0)
            return Error{"webhook " + std::to_string(id) + " was changed meanwhile", ErrorKind::conflict};
        if (change.secret) {
            auto s =
                db.run("UPDATE webhooks SET secret = $1 WHERE id = $2", {cipher.encrypt(*change.secret), id});
            if (!s) return s.error();
        }
        if (!after.enabled && before.enabled) PVF_CHECK(cancel_pending(db, id, now));
        std::string action = "webhook changed";
        if (change.secret) action += " (secret rotated)";
        return storage::append_audit(db, now, actor, action, "webhook", std::to_string(id),
                                     audit_json(before), audit_json(after));
    });
    if (!done) return done.error();
    auto w = get_webhook(db, id);
    if (!w) return w.error();
    if (!*w) return Error{"no webhook " + std::to_string(id), ErrorKind::not_found};
    return std::move(**w);
}

Status delete_webhook(storage::Db& db, std::int64_t id, const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Status {
        auto current = get_webhook(db, id);
        if (!current) return current.error();
        if (!*current) return Error{"no webhook " + std::to_string(id), ErrorKind::not_found};
        // Attempts and deliveries go with it (ON DELETE CASCADE; stated, as SQLite enforces it per
        // connection).
        for (const char* sql :
             {"DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE "
              "webhook_id = $1)",
              "DELETE FROM webhook_deliveries WHERE webhook_id = $1", "DELETE FROM webhooks WHERE id = $1"})
            if (auto r = db.run(sql, {id}); !r) return r.error();
        return storage::append_audit(db, now, actor, "webhook deleted", "webhook", std::to_string(id),
                                     audit_json(**current), std::nullopt);
    });
}

Result<std::vector<Delivery>> list_deliveries(storage::Db& db, std::int64_t webhook_id,
                                              std::int64_t before_id, int limit) {
    if (limit < 1 || limit > 200) return Error::at("limit", "must be between 1 and 200");
    auto r = db.run(std::string(kDeliveryColumns) +
                        "WHERE webhook_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3",
                    {webhook_id, before_id, std::int64_t{limit}});
    if (!r) return r.error();
    std::vector<Delivery> out;
    for (const auto& row : r->rows) out.push_back(delivery_of(row));
    if (out.empty()) return out;
    auto a = db.run(
        "SELECT a.id, a.delivery_id, a.attempted_at_ms, a.http_status, a.error, a.duration_ms, "
        "a.response_excerpt "
        "FROM webhook_attempts a WHERE a.delivery_id <= $1 AND a.delivery_id >= $2 AND a.delivery_id IN "
        "(SELECT id FROM webhook_deliveries WHERE webhook_id = $3) ORDER BY a.id",
        {out.front().id, out.back().id, webhook_id});
    if (!a) return a.error();
    for (const auto& row : a->rows) {
        const std::int64_t delivery = row.integer(1);
        auto it = std::find_if(out.begin(), out.end(), [&](const Delivery& d) { return d.id == delivery; });
        if (it == out.end()) continue;
        Attempt at;
        at.id = row.integer(0);
        at.at = from_epoch_ms(row.integer(2));
        if (auto st = row.opt_integer(3)) at.http_status = static_cast<int>(*st);
        at.error = row.text(4);
        at.duration = Millis{row.integer(5)};
        at.response_excerpt = row.text(6);
        it->log.push_back(std::move(at));
    }
    return out;
}

Result<std::optional<Delivery>> get_delivery(storage::Db& db, std::int64_t id) {
    auto r = db.run(std::string(kDeliveryColumns) + "WHERE id = $1", {id});
    if (!r) return r.error();
    if (r->rows.empty()) return std::optional<Delivery>{};
    return std::optional<Delivery>{delivery_of(r->rows.at(0))};
}

Result<Delivery> enqueue_test(storage::Db& db, std::int64_t webhook_id, const std::string& actor,
                              TimePoint now) {
    auto made = storage::in_transaction(db, [&]() -> Result<std::int64_t> {
        auto w = get_webhook(db, webhook_id);
        if (!w) return w.error();
        if (!*w) return Error{"no webhook " + std::to_string(webhook_id), ErrorKind::not_found};
        if (!(*w)->enabled)
            return Error{"webhook " + std::to_string(webhook_id) + " is disabled", ErrorKind::conflict};
        auto id = insert_delivery(db, webhook_id, std::nullopt, kTestEvent, now,
                                  {{"webhook_id", webhook_id}, {"requested_by", actor}}, now);
        if (!id) return id.error();
        if (!*id) return Error{"the test delivery was not written"};
        PVF_CHECK(storage::append_audit(db, now, actor, "webhook test sent", "webhook",
                                        std::to_string(webhook_id), std::nullopt, std::nullopt));
        return **id;
    });
    if (!made) return made.error();
    auto d = get_delivery(db, *made);
    if (!d) return d.error();
    if (!*d) return Error{"the test delivery vanished", ErrorKind::not_found};
    return std::move(**d);
}

Result<Delivery> retry_delivery(storage::Db& db, std::int64_t delivery_id, const std::string& actor,
                                TimePoint now) {
    auto done = storage::in_transaction(db, [&]() -> Status {
        auto d = get_delivery(db, delivery_id);
        if (!d) return d.error();
        if (!*d) return Error{"no delivery " + std::to_string(delivery_id), ErrorKind::not_found};
        if ((*d)->state != DeliveryState::failed && (*d)->state != DeliveryState::cancelled)
            return Error{"delivery " + std::to_string(delivery_id) + " is " +
                             std::string(to_string((*d)->state)) +
                             ": only a failed or cancelled one is retried",
                         ErrorKind::conflict};
        auto w = get_webhook(db, (*d)->webhook_id);
        if (!w) return w.error();
        if (!*w || !(*w)->enabled)
            return Error{"its webhook is disabled: enable it first", ErrorKind::conflict};
        auto r = db.run(
            "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at_ms = $1, "
            "finished_at_ms = NULL WHERE id = $2",
            {std::int64_t{to_epoch_ms(now)}, delivery_id});
        if (!r) return r.error();
        return storage::append_audit(db, now, actor, "webhook delivery retried", "webhook",
                                     std::to_string((*d)->webhook_id), std::nullopt,
                                     json{{"delivery_id", delivery_id}}.dump());
    });
    if (!done) return done.error();
    auto d = get_delivery(db, delivery_id);
    if (!d) return d.error();
    if (!*d) return Error{"no delivery " + std::to_string(delivery_id), ErrorKind::not_found};
    return std::move(**d);
}

Result<int> purge_deliveries(storage::Db& db, const Settings& settings, TimePoint now) {
    const std::int64_t cutoff = to_epoch_ms(now - settings.limits.retention);
    return storage::in_transaction(db, [&]() -> Result<int> {
        auto a = db.run(
            "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE "
            "created_at_ms < $1 AND state <> 'pending')",
            {cutoff});
        if (!a) return a.error();
        auto d = db.run("DELETE FROM webhook_deliveries WHERE created_at_ms < $1 AND state <> 'pending'",
                        {cutoff});
        if (!d) return d.error();
        return static_cast<int>(d->affected);
    });
}

Status WebhookConsumer::consume(storage::Db& db, const storage::Event& event, TimePoint now) {
    if (event.name == kTestEvent) return {};  // pings are written by enqueue_test, never from the log
    auto hooks = db.run(
        "SELECT id, events FROM webhooks WHERE enabled = 1 AND after_event_id < $1 ORDER BY id", {event.id});
    if (!hooks) return hooks.error();
    for (const auto& row : hooks->rows) {
        const auto events = events_of(row.text(1));
        const bool subscribed = std::any_of(events.begin(), events.end(), [&](const std::string& e) {
            return e == kEveryEvent || e == event.name;
        });
        if (!subscribed) continue;
        auto made =
            insert_delivery(db, row.integer(0), event.id, event.name, event.occurred_at, event.data, now);
        if (!made) return made.error();
    }
    return {};
}

}  // namespace pvfleet::webhooks
