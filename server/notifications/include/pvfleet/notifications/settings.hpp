#pragma once
// A user's notification settings (docs/notifications.md): e-mail address, language, the time zone their quiet
// hours are read in, the quiet hours, and the channels (inbox, e-mail) of each catalogue event.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pvfleet/notifications/catalogue.hpp"
#include "pvfleet/storage/db.hpp"
#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::notifications {

// An address we will put in an envelope and a To: header: local@domain, at most 254 characters of printable
// ASCII, no spaces, quotes, angle brackets, commas, semicolons, CR or LF; the domain's labels letters, digits
// and '-'. Problems are named at `path`.
Status check_email_address(std::string_view address, const std::string& path = "email");

// Minutes after local midnight; `from` == `to` is refused (no window, or all day: say which by leaving it
// out).
struct QuietHours {
    int from_minute = 0;
    int to_minute = 0;
    bool operator==(const QuietHours&) const = default;
};
// "HH:MM" (00:00–23:59).
Result<int> parse_clock_time(std::string_view text, const std::string& path);
std::string format_clock_time(int minute);
// The first instant at or after `t` outside the quiet hours, read in the IANA `time_zone`: `t` itself when it
// is outside them. Across midnight (22:00–07:00) and across a DST change (the end is the local end time on
// the right local day; an end time the change skips becomes the instant of the change).
Result<TimePoint> end_of_quiet_hours(const QuietHours& quiet, const std::string& time_zone, TimePoint t);

struct NotificationSettings {
    std::optional<std::string> email;
    Language language = Language::en;
    std::string time_zone = "UTC";
    std::optional<QuietHours> quiet_hours;
    std::map<std::string, Channels> channels;  // every catalogue event: the user's choice or the default
    std::map<std::string, bool> chosen;        // which of them the user chose (false: the default)
};
// ErrorKind::not_found for an unknown user.
Result<NotificationSettings> load_settings(storage::Db& db, const std::string& user);

// A change of one's own settings; absent fields stay. Channels of events outside the catalogue are refused.
struct SettingsChange {
    std::optional<std::optional<std::string>> email;  // nullopt inside: remove the address
    std::optional<Language> language;
    std::optional<std::string> time_zone;
    std::optional<std::optional<QuietHours>> quiet_hours;
    std::map<std::string, Channels> channels;
};
// Reads {"email", "language", "time_zone", "quiet_hours": {"from","to"} | null, "channels": {event: {"inbox",
// "email"}}} (unknown keys refused), every problem at its key path.
Result<SettingsChange> parse_settings_change(const nlohmann::json& body);
// Applies the change in one transaction and audits it (before/after without the channels' defaults).
Status save_settings(storage::Db& db, const std::string& user, const SettingsChange& change,
                     const std::string& actor, TimePoint now);

// What a consumer needs about one recipient for one event.
struct Recipient {
    std::string name;
    bool active = false;  // exists and is not disabled
    std::optional<std::string> email;
    Language language = Language::en;
    Channels channels;
};
Result<Recipient> recipient_for(storage::Db& db, const std::string& user, std::string_view event);

}  // namespace pvfleet::notifications
