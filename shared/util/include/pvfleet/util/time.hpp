#pragma once
// ISO-8601 text for UTC timestamps; parsing accepts an explicit UTC offset.
#include <string>
#include <string_view>

#include "pvfleet/util/clock.hpp"
#include "pvfleet/util/result.hpp"

namespace pvfleet {

// "2016-07-01T06:15:00.000Z"
std::string format_iso8601(TimePoint t);

// Accepts "YYYY-MM-DD[T ]HH:MM[:SS[.fff]]" followed by "Z", "+HH:MM", "-HH:MM", "+HHMM" or "+HH".
// A timestamp without an offset is refused: local times are ambiguous across DST changes.
Result<TimePoint> parse_iso8601(std::string_view text);

}  // namespace pvfleet
