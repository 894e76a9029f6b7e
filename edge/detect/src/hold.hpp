#pragma once
// How long a condition has held, counted over judged observations only (night and gaps do not count),
// so debounces are times and work the same for 10-second and 15-minute samples.
#include <optional>

#include <nlohmann/json.hpp>

#include "pvfleet/util/clock.hpp"

namespace pvfleet::detect {

struct Hold {
    double bad_ms = 0;   // time the condition has held (0 at its first observation)
    double good_ms = 0;  // time it has been absent
    std::optional<long long> last_ms;
    bool last_bad = false;

    // A judged observation. A gap longer than max_gap restarts the count.
    void observe(bool bad, TimePoint t, double max_gap_ms) {
        const long long now = to_epoch_ms(t);
        const bool continuous = last_ms && static_cast<double>(now - *last_ms) <= max_gap_ms && now >= *last_ms;
        const double dt = continuous ? static_cast<double>(now - *last_ms) : 0.0;
        if (bad) {
            bad_ms = (continuous && last_bad) ? bad_ms + dt : 0;
            good_ms = 0;
        } else {
            good_ms = (continuous && !last_bad) ? good_ms + dt : 0;
            bad_ms = 0;
        }
        last_bad = bad;
        last_ms = now;
    }
    [[nodiscard]] bool bad_for(double minutes) const { return last_bad && bad_ms >= minutes * 60000.0; }
    [[nodiscard]] bool good_for(double minutes) const { return !last_bad && last_ms && good_ms >= minutes * 60000.0; }
    void reset() { *this = Hold{}; }
};

inline void to_json(nlohmann::json& j, const Hold& h) {
    j = nlohmann::json{{"bad_ms", h.bad_ms}, {"good_ms", h.good_ms}, {"last_bad", h.last_bad}};
    if (h.last_ms) j["last_ms"] = *h.last_ms;
}
inline void from_json(const nlohmann::json& j, Hold& h) {
    h.bad_ms = j.at("bad_ms").get<double>();
    h.good_ms = j.at("good_ms").get<double>();
    h.last_bad = j.at("last_bad").get<bool>();
    if (j.contains("last_ms")) h.last_ms = j.at("last_ms").get<long long>();
}

}  // namespace pvfleet::detect
