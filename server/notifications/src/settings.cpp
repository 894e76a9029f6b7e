// Users' notification settings, quiet hours and address checks.
#include "pvfleet/notifications/settings.hpp"

#include <date/tz.h>

#include <nlohmann/json.hpp>

#include "pvfleet/storage/work_orders.hpp"

namespace pvfleet::notifications {
namespace {

bool domain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

bool local_char(char c) {
    if (c <= ' ' || c >= 0x7f) return false;  // controls (CR, LF), space, non-ASCII
    return std::string_view("\"(),:;<>@[\\]").find(c) == std::string_view::npos;
}

}  // namespace

Status check_email_address(std::string_view address, const std::string& path) {
    if (address.empty()) return Error::at(path, "required");
    if (address.size() > 254) return Error::at(path, "at most 254 characters");
    const auto at = address.find('@');
    if (at == std::string_view::npos || at == 0 || address.find('@', at + 1) != std::string_view::npos)
        return Error::at(path, "expected one address as local@domain");
    const auto local = address.substr(0, at);
    const auto domain = address.substr(at + 1);
    if (local.size() > 64) return Error::at(path, "the part before '@' is at most 64 characters");
    for (char c : local)
        if (!local_char(c))
            return Error::at(path,
                             "the part before '@' has a character not allowed in an address (space, quote, "
                             "bracket, comma, semicolon, control or non-ASCII)");
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
        return Error::at(path, "the part before '@' has a misplaced '.'");
    if (domain.empty()) return Error::at(path, "no domain after '@'");
    std::size_t start = 0;
    while (start <= domain.size()) {
        auto dot = domain.find('.', start);
        if (dot == std::string_view::npos) dot = domain.size();
        const auto label = domain.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
            return Error::at(path, "the domain '" + std::string(domain.size() <= 64 ? domain : "…") +
                                       "' is not a host name");
        for (char c : label)
            if (!domain_char(c))
                return Error::at(path, "the domain has a character other than a-z, 0-9, '-', '.'");
        start = dot + 1;
    }
    return {};
}

Result<int> parse_clock_time(std::string_view text, const std::string& path) {
    auto digit = [&](std::size_t i) { return text[i] >= '0' && text[i] <= '9'; };
    if (text.size() != 5 || text[2] != ':' || !digit(0) || !digit(1) || !digit(3) || !digit(4))
        return Error::at(path, "expected HH:MM");
    const int h = (text[0] - '0') * 10 + (text[1] - '0');
    const int m = (text[3] - '0') * 10 + (text[4] - '0');
    if (h > 23 || m > 59) return Error::at(path, "expected HH:MM between 00:00 and 23:59");
    return h * 60 + m;
}

std::string format_clock_time(int minute) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%02d:%02d", (minute / 60) % 24, minute % 60);
    return buf;
}

Result<TimePoint> end_of_quiet_hours(const QuietHours& quiet, const std::string& time_zone, TimePoint t) {
    const date::time_zone* zone = nullptr;
    try {
        zone = date::locate_zone(time_zone);
    } catch (const std::exception&) {
        return Error::at("time_zone", "unknown time zone '" + time_zone + "'");
    }
    using namespace std::chrono;
    const auto local = zone->to_local(t);
    const auto day = date::floor<date::days>(local);
    const int minute = static_cast<int>(duration_cast<minutes>(local - day).count());
    const bool wraps = quiet.from_minute > quiet.to_minute;  // 22:00–07:00
    const bool inside = wraps ? (minute >= quiet.from_minute || minute < quiet.to_minute)
                              : (minute >= quiet.from_minute && minute < quiet.to_minute);
    if (!inside) return t;
    // The end is today's `to`, or tomorrow's when the window began today and wraps past midnight.
    auto end_day = day;
    if (wraps && minute >= quiet.from_minute) end_day += date::days{1};
    const auto end_local = date::local_time<Millis>(end_day) + minutes{quiet.to_minute};
    // An ambiguous end (the hour repeated in autumn) is read at its first occurrence; a skipped one (spring)
    // becomes the instant of the change (date's choose gives the transition for a nonexistent local time).
    const auto end = zone->to_sys(end_local, date::choose::earliest);
    return end > t ? end : t;
}

namespace {

Result<std::vector<std::pair<std::string, Channels>>> chosen_channels(storage::Db& db,
                                                                      const std::string& user) {
    auto r =
        db.run("SELECT event, inbox, email FROM notification_preferences WHERE user_name = $1 ORDER BY event",
               {user});
    if (!r) return r.error();
    std::vector<std::pair<std::string, Channels>> out;
    for (const auto& row : r->rows)
        out.emplace_back(row.text(0), Channels{row.integer(1) != 0, row.integer(2) != 0});
    return out;
}

nlohmann::json settings_json(const NotificationSettings& s) {
    nlohmann::json chosen = nlohmann::json::object();
    for (const auto& [event, channels] : s.channels)
        if (s.chosen.at(event)) chosen[event] = {{"inbox", channels.inbox}, {"email", channels.email}};
    return {{"email", s.email ? nlohmann::json(*s.email) : nlohmann::json(nullptr)},
            {"language", to_string(s.language)},
            {"time_zone", s.time_zone},
            {"quiet_hours", s.quiet_hours
                                ? nlohmann::json{{"from", format_clock_time(s.quiet_hours->from_minute)},
                                                 {"to", format_clock_time(s.quiet_hours->to_minute)}}
                                : nlohmann::json(nullptr)},
            {"channels", chosen}};
}

}  // namespace

Result<NotificationSettings> load_settings(storage::Db& db, const std::string& user) {
    auto r =
        db.run("SELECT email, language, time_zone, quiet_from, quiet_to FROM users WHERE name = $1", {user});
    if (!r) return r.error();
    if (r->rows.empty()) return Error{"user '" + user + "': not found", ErrorKind::not_found};
    const auto& row = r->rows[0];
    NotificationSettings s;
    s.email = row.opt_text(0);
    s.language = parse_language(row.text(1)).value_or(Language::en);
    s.time_zone = row.text(2);
    auto from = row.opt_text(3), to = row.opt_text(4);
    if (from && to) {
        auto f = parse_clock_time(*from, "quiet_hours/from");
        auto t = parse_clock_time(*to, "quiet_hours/to");
        if (f && t) s.quiet_hours = QuietHours{*f, *t};
    }
    for (const auto& e : event_catalogue()) {
        s.channels[std::string(e.name)] = e.defaults;
        s.chosen[std::string(e.name)] = false;
    }
    auto chosen = chosen_channels(db, user);
    if (!chosen) return chosen.error();
    for (const auto& [event, channels] : *chosen) {
        if (!s.channels.count(event)) continue;  // an event since dropped from the catalogue
        s.channels[event] = channels;
        s.chosen[event] = true;
    }
    return s;
}

Result<SettingsChange> parse_settings_change(const nlohmann::json& body) {
    if (!body.is_object()) return Error::at("body", "expected a JSON object");
    SettingsChange c;
    for (const auto& [key, value] : body.items()) {
        if (key == "email") {
            if (value.is_null() || (value.is_string() && value.get<std::string>().empty())) {
                c.email.emplace(std::nullopt);
            } else {
                if (!value.is_string()) return Error::at("email", "expected a string or null");
                PVF_CHECK(check_email_address(value.get<std::string>(), "email"));
                c.email.emplace(value.get<std::string>());
            }
        } else if (key == "language") {
            auto l = value.is_string() ? parse_language(value.get<std::string>()) : std::nullopt;
            if (!l) return Error::at("language", "expected \"en\" or \"zh-CN\"");
            c.language = *l;
        } else if (key == "time_zone") {
            if (!value.is_string() || value.get<std::string>().size() > 64)
                return Error::at("time_zone", "expected an IANA time zone name");
            try {
                (void)date::locate_zone(value.get<std::string>());
            } catch (const std::exception&) {
                return Error::at("time_zone", "unknown time zone '" + value.get<std::string>() +
                                                  "' (expected an IANA name such as Asia/Shanghai)");
            }
            c.time_zone = value.get<std::string>();
        } else if (key == "quiet_hours") {
            if (value.is_null()) {
                c.quiet_hours.emplace(std::nullopt);
                continue;
            }
            if (!value.is_object())
                return Error::at("quiet_hours", "expected {\"from\": \"HH:MM\", \"to\": \"HH:MM\"} or null");
            for (const auto& [k, v] : value.items())
                if (k != "from" && k != "to")
                    return Error::at("quiet_hours/" + k.substr(0, 64), "unknown field (expected from, to)");
            int minutes[2] = {0, 0};
            for (int i = 0; i < 2; ++i) {
                const char* name = i == 0 ? "from" : "to";
                const std::string path = std::string("quiet_hours/") + name;
                if (!value.contains(name)) return Error::at(path, "required");
                if (!value[name].is_string()) return Error::at(path, "expected HH:MM");
                PVF_TRY(minutes[i], parse_clock_time(value[name].get<std::string>(), path));
            }
            if (minutes[0] == minutes[1])
                return Error::at("quiet_hours/to", "must differ from quiet_hours/from");
            c.quiet_hours.emplace(QuietHours{minutes[0], minutes[1]});
        } else if (key == "channels") {
            if (!value.is_object()) return Error::at("channels", "expected an object of events");
            for (const auto& [event, ch] : value.items()) {
                const std::string path =
                    "channels/" + (event.size() <= 64 ? event : event.substr(0, 64) + "…");
                if (!find_catalogue_event(event)) return Error::at(path, "not an event of the catalogue");
                if (!ch.is_object())
                    return Error::at(path, "expected {\"inbox\": true|false, \"email\": true|false}");
                for (const auto& [k, v] : ch.items())
                    if (k != "inbox" && k != "email")
                        return Error::at(path + "/" + k.substr(0, 64),
                                         "unknown field (expected inbox, email)");
                bool flags[2] = {false, false};
                for (int i = 0; i < 2; ++i) {
                    const char* name = i == 0 ? "inbox" : "email";
                    if (!ch.contains(name)) return Error::at(path + "/" + name, "required");
                    if (!ch[name].is_boolean()) return Error::at(path + "/" + name, "expected true or false");
                    flags[i] = ch[name].get<bool>();
                }
                c.channels[event] = Channels{flags[0], flags[1]};
            }
        } else {
            return Error::at(key.size() <= 64 ? key : key.substr(0, 64) + "…",
                             "unknown field (expected email, language, time_zone, quiet_hours, channels)");
        }
    }
    return c;
}

Status save_settings(storage::Db& db, const std::string& user, const SettingsChange& change,
                     const std::string& actor, TimePoint now) {
    return storage::in_transaction(db, [&]() -> Status {
        PVF_TRY(const auto before, load_settings(db, user));
        auto after = before;
        if (change.email) after.email = *change.email;
        if (change.language) after.language = *change.language;
        if (change.time_zone) after.time_zone = *change.time_zone;
        if (change.quiet_hours) after.quiet_hours = *change.quiet_hours;
        auto opt = [](const std::optional<std::string>& v) {
            return v ? storage::Value{*v} : storage::Value{nullptr};
        };
        std::optional<std::string> from, to;
        if (after.quiet_hours) {
            from = format_clock_time(after.quiet_hours->from_minute);
            to = format_clock_time(after.quiet_hours->to_minute);
        }
        auto u = db.run(
            "UPDATE users SET email = $2, language = $3, time_zone = $4, quiet_from = $5, quiet_to = $6 "
            "WHERE name = $1",
            {user, opt(after.email), std::string(to_string(after.language)), after.time_zone, opt(from),
             opt(to)});
        if (!u) return u.error();
        for (const auto& [event, channels] : change.channels) {
            auto p = db.run(
                "INSERT INTO notification_preferences (user_name, event, inbox, email) VALUES ($1, $2, $3, "
                "$4) ON "
                "CONFLICT (user_name, event) DO UPDATE SET inbox = excluded.inbox, email = excluded.email",
                {user, event, std::int64_t{channels.inbox ? 1 : 0}, std::int64_t{channels.email ? 1 : 0}});
            if (!p) return p.error();
            after.channels[event] = channels;
            after.chosen[event] = true;
        }
        return storage::append_audit(db, now, actor, "notification-settings", "user", user,
                                     settings_json(before).dump(), settings_json(after).dump());
    });
}

Result<Recipient> recipient_for(storage::Db& db, const std::string& user, std::string_view event) {
    auto r = db.run(
        "SELECT u.disabled, u.email, u.language, p.inbox, p.email FROM users u LEFT JOIN "
        "notification_preferences p "
        "ON p.user_name = u.name AND p.event = $2 WHERE u.name = $1",
        {user, std::string(event)});
    if (!r) return r.error();
    Recipient out;
    out.name = user;
    if (r->rows.empty()) return out;
    const auto& row = r->rows[0];
    out.active = row.integer(0) == 0;
    out.email = row.opt_text(1);
    out.language = parse_language(row.text(2)).value_or(Language::en);
    if (!row.is_null(3)) {
        out.channels = Channels{row.integer(3) != 0, row.integer(4) != 0};
    } else if (const auto* e = find_catalogue_event(event)) {
        out.channels = e->defaults;
    } else {
        out.channels = Channels{true, false};  // an event outside the catalogue: the inbox only
    }
    return out;
}

}  // namespace pvfleet::notifications
