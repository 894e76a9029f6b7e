#include "pvfleet/solar/clear_sky.hpp"
namespace pvfleet::solar {
MonthlyLinke default_linke_climatology(double, double) { MonthlyLinke m; m.fill(3.0); return m; }
double linke_at(const MonthlyLinke& m, TimePoint) { return m[0]; }
}  // namespace pvfleet::solar
