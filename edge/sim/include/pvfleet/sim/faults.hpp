#pragma once
// Fault injection: what can go wrong with a simulated device, parsed from control-port lines and
// scenario files.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet::sim {

enum class FaultType {
    offline,          // no reply at all (the device is unreachable)
    string_loss,      // one MPPT input delivers nothing (string disconnected, blown fuse)
    event,            // a named fault event (ground_fault, over_temperature, ...) shown in the event registers
    slow,             // every reply delayed by `delay` (wall time)
    exception,        // every request answered with exception `code`
    truncate,         // replies cut in half
    drop_connection,  // the TCP connection closes instead of a reply
    counter_reset,    // energy counters restart from zero (instant)
};

std::string_view to_string(FaultType type);
std::optional<FaultType> parse_fault_type(std::string_view text);

struct FaultSpec {
    FaultType type = FaultType::offline;
    int mppt = 0;                 // string_loss: 1-based input
    std::string event;            // event: name
    Millis delay{0};              // slow: per reply
    uint8_t exception_code = 4;   // exception
    // Sim-time duration; none = until cleared. truncate and drop_connection without a duration act once.
    std::optional<Millis> duration;
};

// "1500ms", "30s", "10m", "2h", "1d"; plain numbers are seconds.
Result<Millis> parse_duration(std::string_view text);
std::string format_duration(Millis d);

// Parses the words after the device name: "offline 2h", "string_loss mppt=2", "event ground_fault 30m",
// "slow 1500ms", "exception 4", "truncate", "drop_connection", "counter_reset".
Result<FaultSpec> parse_fault_words(const std::vector<std::string>& words);

// A scenario entry: at a sim time (absolute) or an offset from the start.
struct ScenarioEntry {
    std::variant<TimePoint, Millis> at;
    std::string device;
    std::optional<FaultSpec> fault;  // none: clear
    std::optional<std::string> clear_type;  // clear only this type ("" = all) when fault is none
};

// JSON: {"events": [{"at": "+30m" | "2026-06-21T10:00:00Z", "device": "inv1", "fault": "offline",
//                   "duration": "2h", "mppt": 2, "event": "ground_fault", "delay": "1500ms", "code": 4}, ...]}
// "fault": "clear" clears (optionally "clear": "<type>").
Result<std::vector<ScenarioEntry>> parse_scenario(const std::string& json_text);
Result<std::vector<ScenarioEntry>> load_scenario(const std::filesystem::path& file);

}  // namespace pvfleet::sim
