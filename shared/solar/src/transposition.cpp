#include "pvfleet/solar/transposition.hpp"
namespace pvfleet::solar {
double cos_angle_of_incidence(const PlaneOrientation&, double, double) { return 0.0; }
double angle_of_incidence_deg(const PlaneOrientation&, double, double) { return 90.0; }
PoaIrradiance transpose(const PlaneOrientation&, const SunGeometry&, const Irradiance&, double, SkyDiffuseModel) { return {}; }
double incidence_angle_modifier(double) { return 1.0; }
}  // namespace pvfleet::solar
