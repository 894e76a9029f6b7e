#include "pvfleet/solar/clear_sky.hpp"
namespace pvfleet::solar {
double extraterrestrial_normal_irradiance(int) { return 1366.1; }
double extraterrestrial_normal_irradiance(TimePoint) { return 1366.1; }
double relative_airmass(double) { return 1.0; }
double absolute_airmass(double am, double p) { return am * p / 101325.0; }
double pressure_from_elevation(double) { return 101325.0; }
Irradiance ineichen_perez(double, double, double, double, double) { return {}; }
double haurwitz_ghi(double) { return 0.0; }
Irradiance erbs_decomposition(double ghi, double, double) { return {ghi, 0.0, ghi}; }
}  // namespace pvfleet::solar
