// The notification module's pure parts (catalogue.hpp, settings.hpp, email.hpp).
#include <doctest/doctest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "pvfleet/notifications/catalogue.hpp"
#include "pvfleet/notifications/email.hpp"
#include "pvfleet/notifications/settings.hpp"
#include "pvfleet/util/time.hpp"
#include "support/paths.hpp"

using namespace pvfleet;
using namespace pvfleet::notifications;

namespace {

std::string base64_decode(std::string_view in) {
    auto value = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;
    };
    std::string out;
    int bits = 0, acc = 0;
    for (char c : in) {
        const int v = value(c);
        if (v < 0) continue;  // '=', line breaks
        acc = (acc << 6) | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xFF);
        }
    }
    return out;
}

// An RFC 2047 header value of B-encoded words back to UTF-8; each word must be at most 75 characters.
std::string decode_words(const std::string& value) {
    std::string out;
    std::size_t i = 0;
    while ((i = value.find("=?UTF-8?B?", i)) != std::string::npos) {
        const auto end = value.find("?=", i + 10);
        REQUIRE(end != std::string::npos);
        CHECK(end + 2 - i <= 75);
        out += base64_decode(value.substr(i + 10, end - i - 10));
        i = end + 2;
    }
    return out;
}

storage::Event overdue_event() {
    storage::Event e;
    e.id = 41;
    e.name = "milestone.overdue";
    e.data = {{"project_id", 12},
              {"project", "Li Roof"},
              {"milestone_id", 7},
              {"milestone", "Grid approval"},
              {"rule", "grid_slow"},
              {"days", 7},
              {"after", "grid_application_submitted"}};
    return e;
}

TimePoint utc(const char* iso) {
    auto t = parse_iso8601(iso);
    REQUIRE(t);
    return *t;
}

}  // namespace

TEST_CASE(
    "notifications: an event renders in the recipient's language, with a link only when a public URL is "
    "set") {
    const auto e = overdue_event();
    const auto en = render_event(e, Language::en, "https://pv.example.com/");
    CHECK(en.subject == "Overdue: Grid approval — Li Roof");
    CHECK(en.body.find("not done 7 days after grid_application_submitted (rule grid_slow)") !=
          std::string::npos);
    CHECK(en.link == "#/projects/12");
    CHECK(en.body.ends_with("\n\nhttps://pv.example.com/#/projects/12"));
    const auto zh = render_event(e, Language::zh_cn, "https://pv.example.com");
    CHECK(zh.subject == "逾期：Grid approval — Li Roof");
    CHECK(zh.body.find("7 天仍未完成") != std::string::npos);
    CHECK(zh.body.ends_with("https://pv.example.com/#/projects/12"));
    // No public URL: the inbox link stays, the body has none.
    const auto plain = render_event(e, Language::en, "");
    CHECK(plain.link == "#/projects/12");
    CHECK(plain.body.find("http") == std::string::npos);
    // A link needs every field it names.
    storage::Event offline;
    offline.name = "site.offline";
    offline.data = {{"site_id", "roof-7"}, {"since", "2026-07-01T10:00:00Z"}};
    CHECK(render_event(offline, Language::en, "https://pv.example.com").link.empty());
    // Values from data cannot break the subject line.
    storage::Event evil = e;
    evil.data["project"] = "Roof\r\nBcc: victim@example.com";
    const auto r = render_event(evil, Language::en, "");
    CHECK(r.subject.find_first_of("\r\n") == std::string::npos);
    // Every catalogue event has texts in both languages that differ.
    for (const auto& c : event_catalogue()) {
        storage::Event any;
        any.name = std::string(c.name);
        CHECK_MESSAGE(
            render_event(any, Language::en, "").subject != render_event(any, Language::zh_cn, "").subject,
            c.name);
    }
}

TEST_CASE("notifications: subjects outside ASCII become UTF-8 encoded words of whole characters") {
    CHECK(encode_header_text("Overdue: Grid approval") == "Overdue: Grid approval");
    const std::string zh = "逾期：电网审批 — 李家屋顶的光伏项目，已经超过七天没有完成，请尽快处理";
    const std::string encoded = encode_header_text(zh);
    CHECK(encoded.rfind("=?UTF-8?B?", 0) == 0);
    CHECK(encoded.find("\r\n ") != std::string::npos);  // folded into several words
    CHECK(decode_words(encoded) == zh);
    // Each word decodes to whole UTF-8 characters on its own.
    std::size_t i = 0;
    while ((i = encoded.find("=?UTF-8?B?", i)) != std::string::npos) {
        const auto end = encoded.find("?=", i);
        const std::string part = base64_decode(encoded.substr(i + 10, end - i - 10));
        CHECK((static_cast<unsigned char>(part.front()) & 0xC0) != 0x80);
        i = end;
    }
}

TEST_CASE(
    "notifications: the message has its headers, a base64 UTF-8 body, and refuses line breaks in headers") {
    MailMessage m{"pvfleet@example.com",       "li@example.com",
                  "逾期：Grid approval",       "第一行\n第二行",
                  utc("2026-07-09T08:30:05Z"), "pvfleet.event-41.li@example.com"};
    auto text = build_message(m);
    REQUIRE(text);
    const auto split = text->find("\r\n\r\n");
    REQUIRE(split != std::string::npos);
    const std::string headers = text->substr(0, split + 2);
    CHECK(headers.find("From: pvfleet@example.com\r\n") != std::string::npos);
    CHECK(headers.find("To: li@example.com\r\n") != std::string::npos);
    CHECK(headers.find("Date: Thu, 09 Jul 2026 08:30:05 +0000\r\n") != std::string::npos);
    CHECK(headers.find("Message-ID: <pvfleet.event-41.li@example.com>\r\n") != std::string::npos);
    CHECK(headers.find("Content-Type: text/plain; charset=UTF-8\r\n") != std::string::npos);
    CHECK(headers.find("Content-Transfer-Encoding: base64\r\n") != std::string::npos);
    CHECK(headers.find("Auto-Submitted: auto-generated\r\n") != std::string::npos);
    const auto subject = headers.find("Subject: ");
    CHECK(decode_words(headers.substr(subject, headers.find("\r\nDate:") - subject)) ==
          "逾期：Grid approval");
    CHECK(base64_decode(text->substr(split + 4)) == "第一行\r\n第二行");
    for (auto* field : {&m.from, &m.to, &m.subject}) {
        auto bad = m;
        std::string& f = field == &m.from ? bad.from : field == &m.to ? bad.to : bad.subject;
        f += "\r\nBcc: victim@example.com";
        CHECK_FALSE(build_message(bad));
    }
}

TEST_CASE("notifications: quiet hours across midnight and across DST changes") {
    const QuietHours night{22 * 60, 7 * 60};
    auto end = [&](const char* zone, const char* at) {
        auto r = end_of_quiet_hours(night, zone, utc(at));
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        return format_iso8601(*r);
    };
    // Shanghai (UTC+8, no DST): 23:00 local → 07:00 next day; 03:00 → 07:00 same day; 12:00 → now.
    CHECK(end("Asia/Shanghai", "2026-07-01T15:00:00Z") == "2026-07-01T23:00:00.000Z");
    CHECK(end("Asia/Shanghai", "2026-07-01T19:00:00Z") == "2026-07-01T23:00:00.000Z");
    CHECK(end("Asia/Shanghai", "2026-07-01T04:00:00Z") == "2026-07-01T04:00:00.000Z");
    CHECK(end("Asia/Shanghai", "2026-07-01T13:59:59Z") == "2026-07-01T13:59:59.000Z");  // 21:59:59: not yet
    CHECK(end("Asia/Shanghai", "2026-07-01T14:00:00Z") == "2026-07-01T23:00:00.000Z");  // 22:00 sharp: quiet
    CHECK(end("Asia/Shanghai", "2026-07-01T23:00:00Z") == "2026-07-01T23:00:00.000Z");  // 07:00 sharp: over
    // Berlin, spring forward (29 March 2026, 02:00 CET → 03:00 CEST): 23:00 CET → 07:00 CEST, 8 hours later.
    CHECK(end("Europe/Berlin", "2026-03-28T22:00:00Z") == "2026-03-29T05:00:00.000Z");
    // Autumn back (25 October 2026, 03:00 CEST → 02:00 CET): 23:00 CEST → 07:00 CET, 9 hours later.
    CHECK(end("Europe/Berlin", "2026-10-24T21:00:00Z") == "2026-10-25T06:00:00.000Z");
    // An end the spring change skips (02:30) becomes the change itself (03:00 CEST = 01:00 UTC).
    const QuietHours to_0230{0, 2 * 60 + 30};
    auto skipped = end_of_quiet_hours(to_0230, "Europe/Berlin", utc("2026-03-29T00:30:00Z"));  // 01:30 CET
    REQUIRE(skipped);
    CHECK(format_iso8601(*skipped) == "2026-03-29T01:00:00.000Z");
    // A window within one day (12:00–14:00) and an unknown zone.
    CHECK(format_iso8601(*end_of_quiet_hours({12 * 60, 14 * 60}, "UTC", utc("2026-07-01T13:00:00Z"))) ==
          "2026-07-01T14:00:00.000Z");
    CHECK_FALSE(end_of_quiet_hours(night, "Mars/Olympus", utc("2026-07-01T13:00:00Z")));
}

TEST_CASE("notifications: e-mail addresses are checked before they reach a header") {
    for (const char* good : {"li@example.com", "anna.k+pv@mail.example.co.uk", "ops@localhost"})
        CHECK_MESSAGE(check_email_address(good), good);
    for (const char* bad :
         {"", "li", "@example.com", "li@", "li@@example.com", "li@exa mple.com",
          "li\r\nBcc: x@example.com@example.com", "li@example.com\r\n", "a,b@example.com", "<li@example.com>",
          "li@-example.com", "li@example..com", ".li@example.com", "李@example.com"})
        CHECK_MESSAGE(!check_email_address(bad), bad);
    CHECK(check_email_address(std::string(250, 'a') + "@x.io").error().message.find("email: ") == 0);
}

TEST_CASE("notifications: a settings change is read with its problems at their key paths") {
    auto change = parse_settings_change(nlohmann::json::parse(
        R"({"email": "li@example.com", "language": "zh-CN", "time_zone": "Asia/Shanghai",
            "quiet_hours": {"from": "22:00", "to": "07:00"},
            "channels": {"lead.created": {"inbox": true, "email": true}}})"));
    REQUIRE(change);
    CHECK(change->email == std::optional<std::optional<std::string>>(std::string("li@example.com")));
    CHECK(change->language == Language::zh_cn);
    CHECK(change->quiet_hours == std::optional<std::optional<QuietHours>>(QuietHours{22 * 60, 7 * 60}));
    CHECK(change->channels.at("lead.created") == Channels{true, true});
    auto error_of = [](const char* body) {
        auto r = parse_settings_change(nlohmann::json::parse(body));
        REQUIRE_FALSE(r);
        return r.error().message;
    };
    CHECK(error_of(R"({"email": "li@example.com\r\nBcc: x@y.z"})").rfind("email: ", 0) == 0);
    CHECK(error_of(R"({"language": "fr"})") == "language: expected \"en\" or \"zh-CN\"");
    CHECK(error_of(R"({"time_zone": "Mars/Olympus"})").rfind("time_zone: unknown time zone", 0) == 0);
    CHECK(error_of(R"({"quiet_hours": {"from": "24:00", "to": "07:00"}})").rfind("quiet_hours/from: ", 0) ==
          0);
    CHECK(error_of(R"({"quiet_hours": {"from": "07:00", "to": "07:00"}})") ==
          "quiet_hours/to: must differ from quiet_hours/from");
    CHECK(error_of(R"({"channels": {"lead.sold": {"inbox": true, "email": true}}})") ==
          "channels/lead.sold: not an event of the catalogue");
    CHECK(error_of(R"({"channels": {"lead.created": {"inbox": true}}})") ==
          "channels/lead.created/email: required");
    CHECK(error_of(R"({"channels": {"lead.created": {"inbox": 1, "email": true}}})") ==
          "channels/lead.created/inbox: expected true or false");
    CHECK(error_of(R"({"quiet_hours": {"from": 0, "to": "07:00"}})") == "quiet_hours/from: expected HH:MM");
    CHECK(error_of(R"({"colour": "red"})").rfind("colour: unknown field", 0) == 0);
}

TEST_CASE("notifications: the smtp section — every error at its key path, the password read from its file") {
    test::TempDir dir("smtp-config");
    { std::ofstream(dir / "smtp-password") << "s3cret\n"; }
    auto ok = parse_smtp_config(nlohmann::json::parse(R"({"url": "smtps://mail.example.com:465",
        "from": "pvfleet@example.com", "username": "pvfleet", "password_file": "smtp-password"})"),
                                dir.path());
    REQUIRE_MESSAGE(ok, (ok ? "" : ok.error().message));
    CHECK(ok->password_file == (dir / "smtp-password").string());
    const std::string described = describe(*ok).dump();
    CHECK(described.find("s3cret") == std::string::npos);
    CHECK(describe(*ok)["require_tls"] == true);  // credentials: STARTTLS or TLS required
    auto errors =
        parse_smtp_config(nlohmann::json::parse(R"({"url": "http://mail.example.com", "from": "no-at",
        "username": "pvfleet", "password_file": "missing", "timeout_s": 0, "colour": 1})"),
                          dir.path());
    REQUIRE_FALSE(errors);
    const std::string& text = errors.error().message;
    for (const char* key :
         {"smtp/url: expected smtp://HOST[:PORT] or smtps://HOST[:PORT]",
          "smtp/from: ", "smtp/password_file: cannot read", "smtp/timeout_s: ", "smtp/colour: unknown key"})
        CHECK_MESSAGE(text.find(key) != std::string::npos, key << " in: " << text);
    auto missing = parse_smtp_config(nlohmann::json::parse(R"({"from": "pvfleet@example.com"})"), dir.path());
    REQUIRE_FALSE(missing);
    CHECK(missing.error().message.find("smtp/url: required") != std::string::npos);
    auto creds = parse_smtp_config(
        nlohmann::json::parse(R"({"url": "smtp://user:pw@mail.example.com", "from": "pvfleet@example.com"})"),
        dir.path());
    REQUIRE_FALSE(creds);
    CHECK(creds.error().message.find("smtp/url: credentials go in") != std::string::npos);
}
