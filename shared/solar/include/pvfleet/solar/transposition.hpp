#pragma once
// Plane-of-array irradiance: angle of incidence, beam + sky diffuse (Perez 1990 or Hay-Davies or
// isotropic) + ground-reflected, and the incidence-angle modifier for the beam.
#include <limits>

#include "pvfleet/solar/clear_sky.hpp"

namespace pvfleet::solar {

// A fixed plane. Tilt from horizontal; azimuth clockwise from north, 180 = south-facing.
struct PlaneOrientation {
    double tilt_deg = 0.0;
    double azimuth_deg = 180.0;
};

// Cosine of the angle of incidence of the beam on the plane (may be negative: sun behind the plane).
double cos_angle_of_incidence(const PlaneOrientation& plane, double zenith_deg, double azimuth_deg);
double angle_of_incidence_deg(const PlaneOrientation& plane, double zenith_deg, double azimuth_deg);

enum class SkyDiffuseModel {
    perez,       // Perez et al. 1990, "allsitescomposite1990" coefficients (default)
    hay_davies,  // Hay & Davies 1980
    isotropic,   // Liu & Jordan
};

// Plane-of-array irradiance, W/m².
struct PoaIrradiance {
    double global = 0.0;          // beam + sky_diffuse + ground_diffuse
    double beam = 0.0;
    double sky_diffuse = 0.0;
    double ground_diffuse = 0.0;
};

// Sun geometry the transposition needs.
struct SunGeometry {
    double zenith_deg = 90.0;     // apparent (refraction-corrected)
    double azimuth_deg = 180.0;   // clockwise from north
    double dni_extra = 1361.0;    // W/m²
    double relative_airmass = std::numeric_limits<double>::quiet_NaN();  // Kasten-Young; NaN: computed
};

PoaIrradiance transpose(const PlaneOrientation& plane, const SunGeometry& sun, const Irradiance& irradiance,
                        double albedo = 0.2, SkyDiffuseModel model = SkyDiffuseModel::perez);

// Physical (Fresnel + Beer-Lambert, De Soto 2006) incidence-angle modifier for a glass cover: n = 1.526,
// K = 4 /m, L = 2 mm (the PVWatts v5 values). 1 at normal incidence, 0 at or beyond 90°.
double incidence_angle_modifier(double aoi_deg);

}  // namespace pvfleet::solar
