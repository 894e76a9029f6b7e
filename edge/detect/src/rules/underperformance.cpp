#include <algorithm>
#include <cmath>

#include "pvfleet/util/time.hpp"
#include "rule.hpp"

namespace pvfleet::detect::rules {

using domain::FaultKind;
using domain::Severity;

// Underperformance judged on clear 15-minute periods (clear_periods.cpp). Each usable day gives a performance ratio
// PR = Σ measured / Σ clear-sky expected energy over its clear periods. Three checks on the series of PRs:
//  (a) floor: the recent median against the model's bias across the fleet (a prior from the site config), from
//      day one — a site wired wrong or shaded since commissioning is never below its own baseline;
//  (b) step: the recent median against the site's own baseline (learned usable days of the last weeks);
//  (c) drift: that baseline against the site's commissioning bias, for slow losses the baseline follows.
// One underperformance ticket carries whichever checks hold; inverters without per-input data also get the
// lost-string ticket when every recent day is far below the baseline.
namespace {
constexpr double kDayMs = 86'400'000.0;

struct Judgement {
    std::vector<const PrDay*> recent;  // the recent usable days, newest first (complete or empty)
    double recent_pr = 0;              // their median PR
    double measured_wh = 0, expected_wh = 0;
    std::optional<double> baseline;    // the site baseline PR, when enough learned days
    int baseline_days = 0;
};

std::string date_of(long long day) { return format_iso8601(from_epoch_ms(day * 86'400'000LL)).substr(0, 10); }

TimePoint noon_of(const PerfState& p, long long day) {
    return from_epoch_ms(static_cast<long long>(std::llround((static_cast<double>(day) + 0.5) * kDayMs - p.solar_offset_ms)));
}

Judgement judge(const UnderperformanceConfig& cfg, const PerfState& p, long long today) {
    Judgement j;
    for (auto it = p.days.rbegin(); it != p.days.rend() && static_cast<int>(j.recent.size()) < cfg.recent_days; ++it) {
        if (today - it->day >= cfg.recent_span_days) break;
        j.recent.push_back(&*it);
    }
    if (static_cast<int>(j.recent.size()) < cfg.recent_days) j.recent.clear();
    std::vector<double> prs, base;
    for (const auto* d : j.recent) {
        prs.push_back(d->pr);
        j.measured_wh += d->measured_wh;
        j.expected_wh += d->expected_wh;
    }
    j.recent_pr = median(prs);
    // The baseline: learned days of the last weeks, the recent ones left out (the bias drifts with the season).
    const std::size_t skip = std::min<std::size_t>(p.days.size(), static_cast<std::size_t>(cfg.recent_days));
    for (std::size_t i = 0; i + skip < p.days.size(); ++i) {
        const PrDay& d = p.days[i];
        if (d.learned && today - d.day <= cfg.baseline_span_days) base.push_back(d.pr);
    }
    j.baseline_days = static_cast<int>(base.size());
    if (j.baseline_days >= cfg.baseline_min_days) j.baseline = median(base);
    return j;
}

// The day's clear-period PR, or nothing when the day is not usable.
std::optional<PrDay> usable_day(const RuleContext& c, const PerfState& p, double reference) {
    const auto& cfg = c.cfg.underperformance;
    const ClearPeriods cp = clear_periods_of_day(c, p);
    if (cp.bins < cfg.usable_min_bins || cp.expected_wh <= 0) return std::nullopt;
    if (p.cold_day >= p.bins.day - 1) return std::nullopt;  // snow possible
    const double pr = cp.measured_wh / cp.expected_wh;
    // A smooth, uniformly dim day can pass the shape test: a low day counts only if clear on both sides of noon or
    // clear for twice the usable minimum.
    if (pr < cfg.dim_day_fraction * reference && !(cp.morning && cp.afternoon) && cp.bins < 2 * cfg.usable_min_bins) {
        return std::nullopt;
    }
    return PrDay{p.bins.day, pr, cp.bins, cp.measured_wh, cp.expected_wh, false};
}

// Hysteresis of the three checks; true when a judgement was possible today.
bool update_checks(const UnderperformanceConfig& cfg, PerfState& p, const Judgement& j, long long today) {
    if (j.recent.empty()) return false;
    const double abs_pr = j.recent_pr / cfg.model_bias_prior;
    if (abs_pr < cfg.floor_pr) p.floor_active = true;
    if (abs_pr >= cfg.floor_clear_pr) p.floor_active = false;
    if (!p.step_active && j.baseline && j.recent_pr < (1 - cfg.drop_fraction) * *j.baseline) {
        p.step_active = true;
        p.step_baseline = *j.baseline;
    } else if (p.step_active && j.recent_pr >= (1 - cfg.clear_fraction) * p.step_baseline) {
        p.step_active = false;
    }
    if (p.site_bias > 0 && j.baseline && *j.baseline < (1 - cfg.drift_fraction) * p.site_bias) {
        if (p.drift_since < 0) p.drift_since = today;
        if (today - p.drift_since >= cfg.drift_days) p.drift_active = true;
    } else if (j.baseline) {
        p.drift_since = -1;
        if (*j.baseline >= (1 - 0.5 * cfg.drift_fraction) * p.site_bias) p.drift_active = false;
    }
    return true;
}

std::string days_text(const Judgement& j) {
    std::string s;
    int bins = 0;
    for (auto it = j.recent.rbegin(); it != j.recent.rend(); ++it) {
        s += (s.empty() ? "" : ", ") + date_of((*it)->day);
        bins += (*it)->bins;
    }
    return s + " (" + std::to_string(bins) + " clear 15-min periods)";
}

// The ticket text and evidence: the check that holds, expected vs measured energy, the days and the thresholds.
void raise_ticket(RuleContext& c, const PerfState& p, const Judgement& j) {
    const auto& cfg = c.cfg.underperformance;
    double reference = cfg.model_bias_prior;
    std::string summary;
    std::vector<domain::EvidenceItem> ev;
    if (p.floor_active) {
        summary = "clear-period production " + fmt(100 * j.recent_pr / reference) + "% of the model (fleet model bias " +
                  fmt(reference, 2) + ", floor " + fmt(100 * cfg.floor_pr) + "%)";
        ev.push_back(evidence("performance_ratio_vs_prior", j.recent_pr / reference, cfg.floor_pr, "", c.t));
    } else if (p.step_active) {
        reference = p.step_baseline;
        summary = "clear-period production " + fmt(100 * j.recent_pr / reference) + "% of this site's baseline (PR " +
                  fmt(j.recent_pr, 2) + " vs " + fmt(reference, 2) + ", threshold " + fmt(100 * (1 - cfg.drop_fraction)) + "%)";
        ev.push_back(evidence("performance_ratio_vs_baseline", j.recent_pr / reference, 1 - cfg.drop_fraction, "", c.t));
    } else {
        reference = p.site_bias;
        const double b = j.baseline.value_or(p.step_baseline);
        summary = "gradual loss: baseline PR " + fmt(b, 2) + " is " + fmt(100 * b / reference) +
                  "% of the commissioning PR " + fmt(reference, 2) + " for " + std::to_string(cfg.drift_days) +
                  "+ days (threshold " + fmt(100 * (1 - cfg.drift_fraction)) + "%)";
        ev.push_back(evidence("baseline_vs_commissioning", b / reference, 1 - cfg.drift_fraction, "", c.t));
    }
    summary += " on " + days_text(j) + ": " + fmt(j.measured_wh / 1000, 1) + " kWh measured, " +
               fmt(j.expected_wh * reference / 1000, 1) + " kWh expected";
    summary += p.floor_active ? " — wiring, string, orientation or site data" : " — soiling, degradation or partial failure";
    ev.push_back(evidence("clear_period_energy_wh", j.measured_wh, j.expected_wh * reference, "Wh", c.t));
    for (const auto* d : j.recent) ev.push_back(evidence("pr_day", d->pr, reference, "", noon_of(p, d->day)));
    ev.push_back(evidence("model_bias_prior", cfg.model_bias_prior, std::nullopt, "", c.t));
    if (j.baseline) ev.push_back(evidence("baseline_pr", *j.baseline, std::nullopt, "", c.t));
    if (p.site_bias > 0) ev.push_back(evidence("site_bias", p.site_bias, std::nullopt, "", noon_of(p, p.site_bias_day)));
    push(c.out, c.book.raise(c.device, FaultKind::underperformance, p.floor_active ? Severity::major : Severity::minor,
                             summary, std::move(ev), c.t));
}

// Inverters without per-input data: every recent day far below the baseline is a lost string.
void day_string_check(RuleContext& c, const PerfState& p, const Judgement& j, const PrDay& today) {
    const double base = p.step_active ? p.step_baseline : j.baseline.value_or(0);
    if (base <= 0 || j.recent.empty()) return;
    double best = 0;
    for (const auto* d : j.recent) best = std::max(best, d->pr);
    const double limit = 1 - c.cfg.string_fault.day_drop_fraction;
    if (best < limit * base) {
        push(c.out, c.book.raise(c.device, FaultKind::string_fault, Severity::major,
                                 "clear-period production " + fmt(100 * best / base) +
                                     "% of the learned baseline on " + days_text(j) + ": lost string or partial failure",
                                 {evidence("clear_period_pr", best, base, "", c.t)}, c.t));
        return;
    }
    const auto* t = c.book.find(c.device, FaultKind::string_fault);
    if (t != nullptr && c.book.is_live(c.device, FaultKind::string_fault) && !t->evidence.empty() &&
        t->evidence.back().name == "clear_period_pr" && today.pr >= (1 - c.cfg.underperformance.drop_fraction) * base) {
        push(c.out, c.book.clear(c.device, FaultKind::string_fault, c.t, {evidence("clear_period_pr", today.pr, base, "", c.t)}));
    }
}

// The first usable days after commissioning give the site's own model bias (once, and only when not floored).
void learn_site_bias(const UnderperformanceConfig& cfg, PerfState& p) {
    ++p.usable_count;
    if (p.site_bias > 0 || p.floor_active || p.usable_count < cfg.commissioning_days) return;
    std::vector<double> first;
    for (auto it = p.days.rbegin(); it != p.days.rend() && static_cast<int>(first.size()) < cfg.commissioning_days; ++it) {
        first.push_back(it->pr);
    }
    p.site_bias = median(first);
    p.site_bias_day = p.days.back().day;
}
}  // namespace

void underperformance(RuleContext& c, DeviceState& s) {
    const auto& cfg = c.cfg.underperformance;
    PerfState& p = s.perf;
    if (p.bins.day != s.today.day || p.bins.day < 0) return;
    const long long today = p.bins.day;
    const Judgement before = judge(cfg, p, today);
    const double reference = before.baseline.value_or(cfg.model_bias_prior);
    const auto day = usable_day(c, p, reference);
    if (!day) return;
    // Learned into the baseline only while nothing is live and the day agrees with the baseline (or, before one
    // exists, with the floor).
    const bool live = c.book.is_live(c.device, FaultKind::underperformance) ||
                      c.book.is_live(c.device, FaultKind::string_fault);
    PrDay d = *day;
    d.learned = !live && (before.baseline ? d.pr >= (1 - cfg.learn_fraction) * *before.baseline
                                          : d.pr / cfg.model_bias_prior >= cfg.floor_pr);
    p.days.push_back(d);
    while (static_cast<int>(p.days.size()) > 2 * (cfg.baseline_span_days + cfg.recent_days)) p.days.pop_front();
    learn_site_bias(cfg, p);

    const Judgement j = judge(cfg, p, today);
    if (!update_checks(cfg, p, j, today)) return;
    day_string_check(c, p, j, d);
    if (p.floor_active || p.step_active || p.drift_active) {
        raise_ticket(c, p, j);
    } else {
        push(c.out, c.book.clear(c.device, FaultKind::underperformance, c.t,
                                 {evidence("clear_period_pr", j.recent_pr, j.baseline.value_or(cfg.model_bias_prior), "", c.t)}));
    }
}

}  // namespace pvfleet::detect::rules
