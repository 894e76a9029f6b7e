#include "pvfleet/workorders/policy.hpp"

#include <array>
#include <string>

namespace pvfleet::workorders {

const SeverityRule& Policy::rule_for(domain::Severity s) const {
    switch (s) {
        case domain::Severity::critical:
            return for_critical;
        case domain::Severity::major:
            return for_major;
        case domain::Severity::minor:
            return for_minor;
        case domain::Severity::info:
            return for_info;
    }
    return for_minor;  // unreachable with a valid enum value
}

Status validate(const Policy& policy) {
    struct Named {
        const char* key;
        const SeverityRule& rule;
    };
    // From least to most severe.
    const std::array<Named, 4> rules{{{"for_info", policy.for_info},
                                      {"for_minor", policy.for_minor},
                                      {"for_major", policy.for_major},
                                      {"for_critical", policy.for_critical}}};
    for (std::size_t i = 0; i < rules.size(); ++i) {
        const auto& [key, rule] = rules[i];
        if (rule.response_time.count() <= 0) {
            return Error::at(std::string(key) + "/response_time", "must be positive");
        }
        if (i == 0) continue;
        const auto& [lesser_key, lesser] = rules[i - 1];
        if (rule.priority < lesser.priority) {
            return Error::at(std::string(key) + "/priority", "'" + std::string(to_string(rule.priority)) +
                                                                 "' is lower than " + lesser_key + "'s '" +
                                                                 std::string(to_string(lesser.priority)) +
                                                                 "' (escalation must not lower priority)");
        }
        if (rule.response_time > lesser.response_time) {
            return Error::at(
                std::string(key) + "/response_time",
                "longer than " + std::string(lesser_key) + "'s (escalation must not move due later)");
        }
    }
    if (policy.reopen_window.count() < 0) return Error::at("reopen_window", "must not be negative");
    if (policy.preventive_lead.count() < 0) return Error::at("preventive_lead", "must not be negative");
    return {};
}

}  // namespace pvfleet::workorders
