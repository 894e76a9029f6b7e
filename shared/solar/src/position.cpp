#include "pvfleet/solar/position.hpp"
namespace pvfleet::solar {
double estimate_delta_t_seconds(double) { return 69.0; }
double julian_day(TimePoint t) { return static_cast<double>(t.time_since_epoch().count()) / 86400000.0 + 2440587.5; }
SolarPosition solar_position(TimePoint, const Location&, const PositionOptions&) { return {}; }
}  // namespace pvfleet::solar
