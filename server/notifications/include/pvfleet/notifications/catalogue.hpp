#pragma once
// The event catalogue (docs/notifications.md): every event the server produces, the channels a user gets it
// on unless they chose otherwise, and its texts in en and zh-CN — a subject (the inbox title, the e-mail
// subject) and a plain-text body filled from the event's data, rendered in the recipient's language at
// consume time.
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pvfleet/storage/events.hpp"

namespace pvfleet::notifications {

enum class Language { en, zh_cn };
std::string_view to_string(Language language);  // "en", "zh-CN"
std::optional<Language> parse_language(std::string_view text);

struct Channels {
    bool inbox = true;
    bool email = false;
    bool operator==(const Channels&) const = default;
};

struct CatalogueEvent {
    std::string_view name;
    Channels defaults;
};
std::span<const CatalogueEvent> event_catalogue();
const CatalogueEvent* find_catalogue_event(std::string_view name);

struct Rendered {
    std::string subject;  // one line: no CR, LF or other control characters
    std::string body;     // plain text, ends with the link when there is one
    std::string link;     // the web app's page of the thing ("#/projects/12"); empty: none
};
// `public_url`: the address users reach the web app at (http/public_url); empty: the body carries no link.
// Values from the event's data are cut to 200 characters and their control characters become spaces. An
// event outside the catalogue is rendered with its name as subject.
Rendered render_event(const storage::Event& event, Language language, std::string_view public_url);

}  // namespace pvfleet::notifications
