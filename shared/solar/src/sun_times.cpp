#include "pvfleet/solar/position.hpp"
namespace pvfleet::solar {
SunTimes sun_times(std::chrono::year_month_day, std::chrono::minutes, const Location&, const PositionOptions&) { return {}; }
SunTimes sun_times_around(TimePoint, const Location&, const PositionOptions&) { return {}; }
}  // namespace pvfleet::solar
