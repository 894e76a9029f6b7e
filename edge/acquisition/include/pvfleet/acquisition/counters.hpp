#pragma once
// Energy counters only move forward. An inverter waking up often reports 0 (or garbage) for its lifetime
// counter for a poll or two; booking that as a drop and the next value as production would invent energy.
// A reading below the last accepted one is dropped (absent in the sample) and flagged. A counter that stays
// consistently lower (e.g. the inverter was replaced or reset) is accepted as a new baseline after
// `rebase_after` consecutive readings that agree with each other.
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace pvfleet::acquisition {

class MonotonicCounters {
public:
    explicit MonotonicCounters(int rebase_after = 12) : rebase_after_(rebase_after) {}

    enum class Verdict { accepted, dropped, rebased };
    // Filters one reading of counter `name`; `dropped` means: leave it out of the sample.
    Verdict check(std::string_view name, double value);
    [[nodiscard]] std::optional<double> last(std::string_view name) const;

    // True for the canonical lifetime counters (energy_total_wh, grid_import_wh, ...); energy_today_wh resets
    // every night by design and is not one of them.
    static bool is_lifetime_counter(std::string_view name);

private:
    struct State {
        double last = 0.0;
        int lower_in_row = 0;
        double lower_last = 0.0;
    };
    int rebase_after_;
    std::map<std::string, State, std::less<>> counters_;
};

}  // namespace pvfleet::acquisition
