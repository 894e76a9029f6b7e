#pragma once
// Field checks shared by the record writers, the CSV imports and other modules' records of people (leads), so
// all say the same thing about the same value. Each returns the problem ("not an e-mail address") or nullopt when the value is fine.
#include <optional>
#include <string>
#include <string_view>

namespace pvfleet::records::detail {

using Problem = std::optional<std::string>;

std::string trim(std::string_view text);
Problem check_customer_name(std::string_view name);
Problem check_email(std::string_view email);  // "" is fine (optional)
Problem check_phone(std::string_view phone);  // "" is fine
Problem check_text(std::string_view text, std::size_t max_bytes);
Problem check_site_id(std::string_view site_id);
Problem check_time_zone(const std::string& zone);
Problem check_date(std::string_view date);  // YYYY-MM-DD, a real calendar day
Problem check_latitude(double v);
Problem check_longitude(double v);
Problem check_kwp(double v);
Problem check_tilt(double v);
Problem check_azimuth(double v);
// A decimal number with a dot ("5.2", "-0.5", "1e3"); nullopt for anything else (including "5,2").
std::optional<double> parse_number(std::string_view text);

// Lower case for search: ASCII, Latin-1, Latin Extended-A pairs, Greek and Cyrillic, so "MÜLLER" finds
// "Müller". Other characters stay as they are.
std::string fold_case(std::string_view utf8);
// Personal data that is not encrypted at rest (site address, role parties) appears in the audit log only as
// its length: enough to see that a value was set or changed, nothing of its content.
std::string mask(std::string_view utf8);

}  // namespace pvfleet::records::detail
