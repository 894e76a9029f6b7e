#include "pvfleet/solar/expected_power.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace pvfleet::solar {
namespace {

struct SapmParameters {
    double a, b, delta_t;
};

SapmParameters sapm(Mounting m) {
    switch (m) {
    case Mounting::open_rack_glass_polymer: return {-3.56, -0.075, 3.0};
    case Mounting::open_rack_glass_glass: return {-3.47, -0.0594, 3.0};
    case Mounting::close_mount_glass_glass: return {-2.98, -0.0471, 1.0};
    case Mounting::insulated_back_glass_polymer: return {-2.81, -0.0455, 0.0};
    }
    return {-2.98, -0.0471, 1.0};
}

bool finite(double x) { return std::isfinite(x); }

}  // namespace

double cell_temperature_sapm(double poa_wm2, double ambient_c, double wind_ms, Mounting mounting) {
    const auto p = sapm(mounting);
    const double e = std::max(poa_wm2, 0.0);
    const double module = e * std::exp(p.a + p.b * std::max(wind_ms, 0.0)) + ambient_c;
    return module + e / 1000.0 * p.delta_t;
}

double pvwatts_dc(double dc_kwp, double effective_poa_wm2, double cell_temperature_c, double gamma_per_c, double losses) {
    const double dc = dc_kwp * effective_poa_wm2 * (1.0 + gamma_per_c * (cell_temperature_c - 25.0)) * (1.0 - losses);
    return std::max(dc, 0.0);
}

double pvwatts_ac(double dc_w, double ac_limit_w, double nominal_efficiency) {
    if (!(dc_w > 0.0) || !(ac_limit_w > 0.0)) return 0.0;
    constexpr double reference_efficiency = 0.9637;  // PVWatts v5 (Dobos 2014) curve reference
    const double dc_rating = ac_limit_w / nominal_efficiency;
    const double zeta = dc_w / dc_rating;
    const double efficiency = nominal_efficiency / reference_efficiency * (-0.0162 * zeta - 0.0059 / zeta + 0.9858);
    return std::clamp(efficiency * dc_w, 0.0, ac_limit_w);
}

ExpectedPowerModel::ExpectedPowerModel(SiteModel site) : site_(std::move(site)) {}

Result<ExpectedPowerModel> ExpectedPowerModel::create(SiteModel site) {
    if (!finite(site.latitude_deg) || site.latitude_deg < -90.0 || site.latitude_deg > 90.0)
        return Error::at("latitude_deg", "must be within -90..90");
    if (!finite(site.longitude_deg) || site.longitude_deg < -180.0 || site.longitude_deg > 180.0)
        return Error::at("longitude_deg", "must be within -180..180");
    if (!finite(site.elevation_m) || site.elevation_m < -500.0 || site.elevation_m > 9000.0)
        return Error::at("elevation_m", "must be within -500..9000 m");
    if (!finite(site.albedo) || site.albedo < 0.0 || site.albedo > 1.0) return Error::at("albedo", "must be within 0..1");
    if (site.linke_monthly) {
        for (std::size_t m = 0; m < 12; ++m) {
            const double v = (*site.linke_monthly)[m];
            if (!finite(v) || v < 1.0 || v > 10.0)
                return Error::at("linke_monthly/" + std::to_string(m), "Linke turbidity must be within 1..10");
        }
    }
    if (site.ambient_monthly_c) {
        for (std::size_t m = 0; m < 12; ++m) {
            const double v = (*site.ambient_monthly_c)[m];
            if (!finite(v) || v < -60.0 || v > 60.0)
                return Error::at("ambient_monthly_c/" + std::to_string(m), "must be within -60..60 °C");
        }
    }
    if (site.inverters.empty()) return Error::at("inverters", "a site needs at least one inverter");
    if (site.arrays.empty()) return Error::at("arrays", "a site needs at least one array");
    std::set<std::string> inverter_ids;
    for (std::size_t i = 0; i < site.inverters.size(); ++i) {
        const auto& inv = site.inverters[i];
        const std::string path = "inverters/" + std::to_string(i);
        if (inv.id.empty()) return Error::at(path + "/id", "must not be empty");
        if (!inverter_ids.insert(inv.id).second) return Error::at(path + "/id", "duplicate inverter '" + inv.id + "'");
        if (!finite(inv.ac_kw) || inv.ac_kw <= 0.0) return Error::at(path + "/ac_kw", "must be > 0");
        if (!finite(inv.nominal_efficiency) || inv.nominal_efficiency <= 0.5 || inv.nominal_efficiency > 1.0)
            return Error::at(path + "/nominal_efficiency", "must be within 0.5..1");
    }
    std::set<std::string> array_ids;
    std::vector<std::size_t> links;
    for (std::size_t i = 0; i < site.arrays.size(); ++i) {
        const auto& a = site.arrays[i];
        const std::string path = "arrays/" + std::to_string(i);
        if (a.id.empty()) return Error::at(path + "/id", "must not be empty");
        if (!array_ids.insert(a.id).second) return Error::at(path + "/id", "duplicate array '" + a.id + "'");
        if (!finite(a.dc_kwp) || a.dc_kwp <= 0.0) return Error::at(path + "/dc_kwp", "must be > 0");
        if (!finite(a.tilt_deg) || a.tilt_deg < 0.0 || a.tilt_deg > 90.0) return Error::at(path + "/tilt_deg", "must be within 0..90");
        if (!finite(a.azimuth_deg) || a.azimuth_deg < 0.0 || a.azimuth_deg >= 360.0)
            return Error::at(path + "/azimuth_deg", "must be within 0..360 (clockwise from north, 180 = south)");
        if (!finite(a.gamma_per_c) || a.gamma_per_c < -0.02 || a.gamma_per_c > 0.0)
            return Error::at(path + "/gamma_per_c", "must be within -0.02..0 per °C");
        if (!finite(a.losses) || a.losses < 0.0 || a.losses >= 1.0) return Error::at(path + "/losses", "must be within 0..1");
        const auto it = std::find_if(site.inverters.begin(), site.inverters.end(),
                                     [&](const InverterConfig& inv) { return inv.id == a.inverter_id; });
        if (it == site.inverters.end()) return Error::at(path + "/inverter_id", "unknown inverter '" + a.inverter_id + "'");
        links.push_back(static_cast<std::size_t>(it - site.inverters.begin()));
    }
    ExpectedPowerModel model(std::move(site));
    model.array_inverter_ = std::move(links);
    model.linke_ = model.site_.linke_monthly ? *model.site_.linke_monthly
                                             : default_linke_climatology(model.site_.latitude_deg, model.site_.elevation_m);
    model.pressure_pa_ = pressure_from_elevation(model.site_.elevation_m);
    return model;
}

ExpectedPower ExpectedPowerModel::at(TimePoint t, const Conditions& conditions) const {
    // A one-off call: the exact SPA is cheaper than filling a fresh cache's two nodes.
    ExpectedPower out;
    evaluate(t, conditions, solar_position(t, location(), site_.position), out);
    return out;
}

void ExpectedPowerModel::at(TimePoint t, const Conditions& conditions, ExpectedPower& out) const {
    evaluate(t, conditions, out.position_cache.at(t, location(), site_.position), out);
}

void ExpectedPowerModel::evaluate(TimePoint t, const Conditions& conditions, const SolarPosition& sun,
                                  ExpectedPower& out) const {
    out.sun = sun;
    out.dni_extra = extraterrestrial_normal_irradiance(t);
    const double zenith = out.sun.zenith_deg;
    const double am_rel = relative_airmass(zenith);

    if (conditions.measured) {
        out.from_measured = true;
        const Irradiance& m = *conditions.measured;
        if (std::isnan(m.dni) || std::isnan(m.dhi)) {
            out.irradiance = erbs_decomposition(m.ghi, zenith, out.dni_extra);
        } else {
            out.irradiance = m;
        }
    } else {
        out.from_measured = false;
        if (site_.clear_sky == ClearSkyModel::haurwitz) {
            out.irradiance = erbs_decomposition(haurwitz_ghi(zenith), zenith, out.dni_extra);
        } else {
            out.irradiance = ineichen_perez(zenith, absolute_airmass(am_rel, pressure_pa_), linke_at(linke_, t),
                                            site_.elevation_m, out.dni_extra);
        }
    }

    double ambient = site_.default_ambient_c;
    if (conditions.ambient_c) {
        ambient = *conditions.ambient_c;
    } else if (site_.ambient_monthly_c) {
        const unsigned month = static_cast<unsigned>(std::chrono::year_month_day{std::chrono::floor<std::chrono::days>(t)}.month());
        ambient = (*site_.ambient_monthly_c)[month - 1];
    }
    const double wind = conditions.wind_ms.value_or(site_.default_wind_ms);

    const SunGeometry geometry{zenith, out.sun.azimuth_deg, out.dni_extra, am_rel};
    out.arrays.resize(site_.arrays.size());
    out.inverters.assign(site_.inverters.size(), InverterPower{});
    out.total_dc_w = 0.0;
    out.total_ac_w = 0.0;
    for (std::size_t i = 0; i < site_.arrays.size(); ++i) {
        const ArrayConfig& a = site_.arrays[i];
        ArrayPower& p = out.arrays[i];
        const PlaneOrientation plane{a.tilt_deg, a.azimuth_deg};
        p.poa = transpose(plane, geometry, out.irradiance, site_.albedo, site_.sky_diffuse);
        double beam = p.poa.beam;
        if (site_.incidence_angle_modifier && beam > 0.0)
            beam *= incidence_angle_modifier(angle_of_incidence_deg(plane, zenith, out.sun.azimuth_deg));
        p.effective_poa = beam + p.poa.sky_diffuse + p.poa.ground_diffuse;
        p.cell_temperature_c = cell_temperature_sapm(p.poa.global, ambient, wind, a.mounting);
        p.dc_w = pvwatts_dc(a.dc_kwp, p.effective_poa, p.cell_temperature_c, a.gamma_per_c, a.losses);
        out.inverters[array_inverter_[i]].dc_w += p.dc_w;
        out.total_dc_w += p.dc_w;
    }
    for (std::size_t j = 0; j < site_.inverters.size(); ++j) {
        const InverterConfig& inv = site_.inverters[j];
        InverterPower& ip = out.inverters[j];
        const double limit_w = inv.ac_kw * 1000.0;
        ip.ac_w = pvwatts_ac(ip.dc_w, limit_w, inv.nominal_efficiency);
        ip.clipped = ip.ac_w >= limit_w * (1.0 - 1e-9);
        out.total_ac_w += ip.ac_w;
    }
}

DailyEnergy ExpectedPowerModel::energy_between(TimePoint from, TimePoint to, std::chrono::seconds step) const {
    DailyEnergy e = integrate(from, to, step);
    e.sun = sun_times_around(from + (to - from) / 2, location(), site_.position);
    return e;
}

DailyEnergy ExpectedPowerModel::integrate(TimePoint from, TimePoint to, std::chrono::seconds step) const {
    DailyEnergy e;
    e.inverter_ac_wh.assign(site_.inverters.size(), 0.0);
    if (!(to > from) || step.count() <= 0) return e;
    ExpectedPower p;
    std::vector<double> previous(site_.inverters.size(), 0.0);
    bool first = true;
    TimePoint t = from;
    double previous_dt_h = 0.0;
    while (true) {
        at(t, {}, p);
        e.peak_ac_w = std::max(e.peak_ac_w, p.total_ac_w);
        if (!first) {
            for (std::size_t j = 0; j < previous.size(); ++j) {
                const double wh = 0.5 * (previous[j] + p.inverters[j].ac_w) * previous_dt_h;
                e.inverter_ac_wh[j] += wh;
                e.total_ac_wh += wh;
            }
        }
        for (std::size_t j = 0; j < previous.size(); ++j) previous[j] = p.inverters[j].ac_w;
        first = false;
        if (t >= to) break;
        const TimePoint next = std::min(to, t + std::chrono::duration_cast<Millis>(step));
        previous_dt_h = std::chrono::duration<double, std::ratio<3600>>(next - t).count();
        t = next;
    }
    return e;
}

DailyEnergy ExpectedPowerModel::daily_energy(std::chrono::year_month_day local_date, std::chrono::minutes utc_offset,
                                             std::chrono::seconds step) const {
    const TimePoint start = TimePoint{std::chrono::sys_days{local_date}} - utc_offset;
    DailyEnergy e = integrate(start, start + std::chrono::hours(24), step);
    e.sun = sun_times(local_date, utc_offset, location(), site_.position);
    return e;
}

DailyEnergy ExpectedPowerModel::daily_energy_around(TimePoint t, std::chrono::seconds step) const {
    const SunTimes s = sun_times_around(t, location(), site_.position);
    DailyEnergy e = integrate(s.transit - std::chrono::hours(12), s.transit + std::chrono::hours(12), step);
    e.sun = s;
    return e;
}

bool ExpectedPowerModel::sun_high_enough(TimePoint t, double min_elevation_deg) const {
    return sun_above(solar_position(t, location(), site_.position), min_elevation_deg);
}

}  // namespace pvfleet::solar
