#include "pvfleet/solar/expected_power.hpp"
namespace pvfleet::solar {
ExpectedPowerModel::ExpectedPowerModel(SiteModel site) : site_(std::move(site)) {}
Result<ExpectedPowerModel> ExpectedPowerModel::create(SiteModel site) { return ExpectedPowerModel(std::move(site)); }
ExpectedPower ExpectedPowerModel::at(TimePoint t, const Conditions& c) const { ExpectedPower out; at(t, c, out); return out; }
void ExpectedPowerModel::at(TimePoint, const Conditions&, ExpectedPower& out) const { out = {}; }
DailyEnergy ExpectedPowerModel::energy_between(TimePoint, TimePoint, std::chrono::seconds) const { return {}; }
DailyEnergy ExpectedPowerModel::daily_energy(std::chrono::year_month_day, std::chrono::minutes, std::chrono::seconds) const { return {}; }
DailyEnergy ExpectedPowerModel::daily_energy_around(TimePoint, std::chrono::seconds) const { return {}; }
bool ExpectedPowerModel::sun_high_enough(TimePoint, double) const { return false; }
double cell_temperature_sapm(double, double ambient_c, double, Mounting) { return ambient_c; }
double pvwatts_dc(double, double, double, double, double) { return 0.0; }
double pvwatts_ac(double, double, double) { return 0.0; }
}  // namespace pvfleet::solar
