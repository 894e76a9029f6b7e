#pragma once
// The in-app inbox (table `notifications`): one row per event and recipient who wants the inbox for it, its
// title and body in the recipient's language; listing, the unread count, marking read.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pvfleet/storage/events.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::notifications {

// One message to one user.
struct Notification {
    std::int64_t id = 0;
    std::string recipient;  // a user name
    std::string event;      // the catalogue's name, e.g. "milestone.overdue"
    std::string title;
    std::string body;
    std::string link;  // the web app's page of the thing ("#/projects/12"); empty: none
    std::optional<std::int64_t> event_id, project_id, milestone_id;
    TimePoint created_at;
    std::optional<TimePoint> read_at;
};

// The inbox of a user, newest first (keyset paging below `before_id`, 0: from the top).
Result<std::vector<Notification>> list_inbox(storage::Db& db, const std::string& user, bool unread_only,
                                             std::int64_t before_id, int limit);
Result<std::int64_t> unread_count(storage::Db& db, const std::string& user);
// Marks one notification of `user` read (not_found for another's); idempotent.
Status mark_read(storage::Db& db, const std::string& user, std::int64_t id, TimePoint now);
Result<std::int64_t> mark_all_read(storage::Db& db, const std::string& user, TimePoint now);

// Writes an inbox row for each of the event's recipients who is active and wants the inbox for it (the
// catalogue's default or their choice), rendered in their language; unique per (event, recipient), so a
// repeated event writes nothing twice.
class InboxConsumer final : public storage::EventConsumer {
public:
    [[nodiscard]] std::string_view consumer_name() const override { return "inbox"; }
    Status consume(storage::Db& db, const storage::Event& event, TimePoint now) override;
};

}  // namespace pvfleet::notifications
