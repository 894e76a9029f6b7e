#include <cmath>

#include "pvfleet/leads/lead.hpp"
#include "pvfleet/records/field_checks.hpp"

namespace pvfleet::leads {
namespace {

namespace checks = records::detail;

// A number the form may leave out; when given, finite and within [0, hi].
void check_amount(std::vector<Error>& errors, const char* field, const std::optional<double>& v, double hi,
                  const char* unit) {
    if (!v) return;
    if (!std::isfinite(*v) || *v < 0 || *v > hi)
        errors.push_back(Error::at(field, "expected 0.." + std::to_string(static_cast<long long>(hi)) + " " + unit));
}

checks::Problem check_postcode(std::string_view p) {
    if (p.size() > 16) return "at most 16 characters";
    for (const char c : p)
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == ' ' || c == '-'))
            return "letters, digits, blanks and '-' only";
    return std::nullopt;
}

}  // namespace

bool is_open(LeadStatus s) {
    return s == LeadStatus::new_lead || s == LeadStatus::contacted || s == LeadStatus::qualified;
}

std::vector<Error> validate_lead(const Lead& lead) {
    std::vector<Error> errors;
    auto add = [&](const char* field, const checks::Problem& p) {
        if (p) errors.push_back(Error::at(field, *p));
    };
    add("name", checks::check_customer_name(checks::trim(lead.name)));
    const std::string phone = checks::trim(lead.phone);
    const std::string email = checks::trim(lead.email);
    add("phone", checks::check_phone(phone));
    if (!phone.empty() && !checks::check_phone(phone) && !normalise_phone(phone, ""))
        errors.push_back(Error::at("phone", "expected 6 to 15 digits"));
    add("email", checks::check_email(email));
    if (phone.empty() && email.empty())
        errors.push_back(Error::at("phone", "a phone number or an e-mail address is required"));
    add("address", checks::check_text(lead.address, 500));
    add("notes", checks::check_text(lead.notes, 10'000));
    add("postcode", check_postcode(checks::trim(lead.postcode)));
    add("region", checks::check_text(lead.region, 64));
    check_amount(errors, "monthly_bill", lead.monthly_bill, 100'000, "per month");
    check_amount(errors, "annual_consumption_kwh", lead.annual_consumption_kwh, 10'000'000, "kWh");
    check_amount(errors, "desired_kwp", lead.desired_kwp, 1'000, "kWp");
    check_amount(errors, "budget", lead.budget, 1'000'000'000, "");
    const std::pair<const char*, const std::string*> utm[] = {{"utm_source", &lead.utm.source},
                                                              {"utm_medium", &lead.utm.medium},
                                                              {"utm_campaign", &lead.utm.campaign},
                                                              {"utm_term", &lead.utm.term},
                                                              {"utm_content", &lead.utm.content}};
    for (const auto& [field, value] : utm) add(field, checks::check_text(*value, 200));
    if (lead.next_step_on) add("next_step_on", checks::check_date(*lead.next_step_on));
    return errors;
}

void normalise_fields(Lead& lead) {
    for (std::string* s : {&lead.name, &lead.phone, &lead.email, &lead.address, &lead.notes, &lead.postcode,
                           &lead.region, &lead.utm.source, &lead.utm.medium, &lead.utm.campaign, &lead.utm.term,
                           &lead.utm.content})
        *s = checks::trim(*s);
}

std::string normalise_email(std::string_view email) {
    std::string out = checks::trim(email);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

std::optional<std::string> normalise_phone(std::string_view phone, std::string_view default_country_code) {
    std::string text(phone);
    // "+49 (0)171 …": the trunk zero in brackets is not dialled from abroad.
    if (const auto p = text.find("(0)"); p != std::string::npos) text.erase(p, 3);
    std::string digits;
    bool plus = false;
    for (const char c : text) {
        if (c == '+' && digits.empty()) plus = true;
        if (c >= '0' && c <= '9') digits += c;
    }
    if (!plus && digits.rfind("00", 0) == 0) {
        plus = true;
        digits.erase(0, 2);
    } else if (!plus && digits.rfind('0', 0) == 0 && !default_country_code.empty()) {
        plus = true;
        digits = std::string(default_country_code) + digits.substr(1);
    }
    if (digits.size() < 6 || digits.size() > 15) return std::nullopt;
    return plus ? "+" + digits : digits;
}

}  // namespace pvfleet::leads
