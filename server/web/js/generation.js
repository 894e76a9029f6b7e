// Generation chart of one site: day (5-minute AC power), month (daily energy), year (daily energy summed by
// month). Measured against the server's clear-sky expectation (GET /api/sites/{id}/expected: the site's location
// and arrays; an upper bound on a sunny day), and specific yield (kWh/kWp) from the site's array kWp.
import { h, mount } from './dom.js';
import { t, fmtNumber, fmtWith, fmtDate } from './i18n.js';
import { get, qs } from './api.js';
import { lineChart, barChart } from './charts.js';
import { zonedMidnight, zonedDate, isoDay, daysInMonth, validZone } from './time.js';
import { loading, errorBox } from './ui.js';

export const siteKwp = (site) => (site.arrays || []).reduce((a, x) => a + (Number(x.kwp) || 0), 0);

/** Energy per local day (kWh) from day-resolution items: per device last − first of energy_total_wh. */
export function energyByDay(items) {
  const out = new Map();
  for (const it of items) {
    if (it.point !== 'energy_total_wh' || it.day == null) continue;
    const wh = Math.max(0, (it.last ?? 0) - (it.first ?? 0));
    out.set(it.day, (out.get(it.day) || 0) + wh / 1000);
  }
  return out;
}

// The server's clear-sky expectation, or null when the site has no location or arrays on record (404).
async function expectedOf(site, params, signal) {
  try {
    return await get(`/api/sites/${encodeURIComponent(site.site_id)}/expected${qs(params)}`, { signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    return null;
  }
}

export function generationCard(site, { signal } = {}) {
  const tz = validZone(site.time_zone || 'UTC');
  const kwp = siteKwp(site);
  const today = zonedDate(Date.now(), tz);
  const state = { mode: 'day', ...today };
  const body = h('div', { class: 'gen-body', testid: 'generation-chart' });
  const summary = h('div', { class: 'gen-summary' });
  const label = h('span', { class: 'gen-period', testid: 'gen-period' });
  const tabs = h('div', { class: 'seg', role: 'tablist' });
  const nav = h('div', { class: 'gen-nav' },
    h('button', { class: 'btn btn-ghost btn-icon', type: 'button', testid: 'gen-prev', 'aria-label': t('gen.prev'), onClick: () => step(-1) }, '‹'),
    label,
    h('button', { class: 'btn btn-ghost btn-icon', type: 'button', testid: 'gen-next', 'aria-label': t('gen.next'), onClick: () => step(1) }, '›'));

  function drawTabs() {
    mount(tabs, ['day', 'month', 'year'].map((m) => h('button', {
      type: 'button', role: 'tab', class: state.mode === m ? 'active' : '', 'aria-selected': String(state.mode === m), testid: `gen-mode-${m}`,
      onClick: () => { state.mode = m; load(); },
    }, t(`gen.${m}`))));
  }

  function step(dir) {
    if (state.mode === 'day') Object.assign(state, zonedDate(zonedMidnight(state.y, state.m, state.d + dir, tz) + 12 * 3600e3, tz));
    else if (state.mode === 'month') { const d = new Date(Date.UTC(state.y, state.m + dir, 1)); state.y = d.getUTCFullYear(); state.m = d.getUTCMonth(); state.d = 1; }
    else state.y += dir;
    load();
  }

  const stat = (k, v) => h('div', { class: 'gen-stat' }, h('span', { class: 'gen-stat-label' }, k), h('span', { class: 'gen-stat-value' }, v));
  const kwhFmt = (v) => fmtNumber(v, v < 10 ? 1 : 0);
  let seq = 0;

  async function load() {
    const my = ++seq;
    drawTabs();
    mount(body, loading());
    mount(summary);
    try {
      if (state.mode === 'day') {
        const from = zonedMidnight(state.y, state.m, state.d, tz);
        const to = zonedMidnight(state.y, state.m, state.d + 1, tz);
        label.textContent = fmtWith(from + 12 * 3600e3, { dateStyle: 'full', timeZone: tz });
        const [p, e, x] = await Promise.all([
          get(`/api/sites/${encodeURIComponent(site.site_id)}/telemetry${qs({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), resolution: '5min', point: 'ac_power_w' })}`, { signal }),
          get(`/api/sites/${encodeURIComponent(site.site_id)}/telemetry${qs({ from: new Date(from).toISOString(), to: new Date(to - 1).toISOString(), resolution: 'day', point: 'energy_total_wh' })}`, { signal }),
          expectedOf(site, { day: isoDay(state.y, state.m, state.d) }, signal),
        ]);
        if (my !== seq) return;
        const byT = new Map();
        for (const it of p.items || []) {
          if (it.point && it.point !== 'ac_power_w') continue;
          const ms = Date.parse(it.t);
          byT.set(ms, (byT.get(ms) || 0) + (it.mean || 0) / 1000);
        }
        const pts = [...byT.entries()].sort((a, b) => a[0] - b[0]);
        const kwh = energyByDay(e.items).get(isoDay(state.y, state.m, state.d));
        const peak = pts.reduce((a, x) => Math.max(a, x[1]), 0);
        mount(body, lineChart({
          series: [{ label: t('gen.power'), color: 'var(--chart-1)', points: pts, area: true },
            ...(x ? [{ label: t('gen.expected'), color: 'var(--chart-2, #9aa5b1)', points: x.points.map((q) => [Date.parse(q.t), q.kw]) }] : [])],
          from, to, xFmt: (ms) => fmtWith(ms, { hour: '2-digit', minute: '2-digit', timeZone: tz }),
          yFmt: (v) => `${fmtNumber(v, 2, { min: 0 })} kW`,
          hoverFmt: (pt) => `${fmtWith(pt[0], { hour: '2-digit', minute: '2-digit', timeZone: tz })} · ${fmtNumber(pt[1], 2)} kW`,
          emptyText: t('gen.no_data'), testid: 'gen-svg',
        }));
        mount(summary,
          stat(t('gen.energy'), kwh != null ? `${kwhFmt(kwh)} kWh` : '—'),
          stat(t('gen.expected'), x ? `${kwhFmt(x.kwh)} kWh${kwh != null && x.kwh > 0 ? ` · ${fmtNumber((100 * kwh) / x.kwh, 0)} %` : ''}` : '—'),
          stat(t('gen.specific_yield'), kwh != null && kwp ? `${fmtNumber(kwh / kwp, 2)} kWh/kWp` : '—'),
          stat(t('gen.peak'), pts.length ? `${fmtNumber(peak, 2)} kW` : '—'),
          stat(t('gen.kwp'), kwp ? `${fmtNumber(kwp, 1)} kWp` : '—'));
      } else {
        const yearly = state.mode === 'year';
        const from = yearly ? zonedMidnight(state.y, 0, 1, tz) : zonedMidnight(state.y, state.m, 1, tz);
        const to = yearly ? zonedMidnight(state.y + 1, 0, 1, tz) : zonedMidnight(state.y, state.m + 1, 1, tz);
        label.textContent = yearly ? fmtWith(from + 12 * 3600e3, { year: 'numeric', timeZone: tz }) : fmtWith(from + 12 * 3600e3, { year: 'numeric', month: 'long', timeZone: tz });
        const [res, x] = await Promise.all([
          get(`/api/sites/${encodeURIComponent(site.site_id)}/telemetry${qs({ from: new Date(from).toISOString(), to: new Date(to - 1).toISOString(), resolution: 'day', point: 'energy_total_wh' })}`, { signal }),
          expectedOf(site, { from: yearly ? `${state.y}-01-01` : isoDay(state.y, state.m, 1), to: yearly ? `${state.y}-12-31` : isoDay(state.y, state.m, daysInMonth(state.y, state.m)) }, signal),
        ]);
        if (my !== seq) return;
        const days = energyByDay(res.items);
        const expectedDays = new Map((x?.days || []).map((d) => [d.day, d.kwh]));
        const todayIso = isoDay(today.y, today.m, today.d);
        let bars;
        if (yearly) {
          bars = Array.from({ length: 12 }, (_, m) => {
            let sum = 0;
            let any = false;
            for (const [day, v] of days) if (day.startsWith(`${state.y}-${String(m + 1).padStart(2, '0')}`)) { sum += v; any = true; }
            const name = fmtWith(Date.UTC(state.y, m, 15), { month: 'short', timeZone: 'UTC' });
            return { label: name, value: any ? sum : 0, title: `${name}: ${kwhFmt(sum)} kWh${kwp ? ` · ${fmtNumber(sum / kwp, 1)} kWh/kWp` : ''}` };
          });
        } else {
          const n = daysInMonth(state.y, state.m);
          bars = Array.from({ length: n }, (_, i) => {
            const day = isoDay(state.y, state.m, i + 1);
            const v = days.get(day) || 0;
            return { label: String(i + 1), value: v, highlight: day === todayIso, title: `${fmtDate(day)}: ${kwhFmt(v)} kWh${kwp ? ` · ${fmtNumber(v / kwp, 2)} kWh/kWp` : ''}` };
          });
        }
        const total = bars.reduce((a, b) => a + b.value, 0);
        const withData = bars.filter((b) => b.value > 0).length;
        mount(body, barChart({ bars, yFmt: (v) => `${fmtNumber(v)} kWh`, labelEvery: yearly ? 1 : 2, emptyText: t('gen.no_data'), testid: 'gen-svg' }));
        // Expected over the days that have measurements, so a month in progress compares like with like.
        let expectedTotal = 0;
        for (const [day] of days) expectedTotal += expectedDays.get(day) || 0;
        mount(summary,
          stat(t('gen.energy'), `${kwhFmt(total)} kWh`),
          stat(t('gen.expected'), x && expectedTotal > 0 ? `${kwhFmt(expectedTotal)} kWh · ${fmtNumber((100 * total) / expectedTotal, 0)} %` : '—'),
          stat(t('gen.specific_yield'), kwp ? `${fmtNumber(total / kwp, yearly ? 0 : 1)} kWh/kWp` : '—'),
          stat(yearly ? t('gen.avg_month') : t('gen.avg_day'), withData ? `${kwhFmt(total / withData)} kWh` : '—'),
          stat(t('gen.kwp'), kwp ? `${fmtNumber(kwp, 1)} kWp` : '—'));
      }
    } catch (e) {
      if (my !== seq || e.name === 'AbortError') return;
      mount(body, errorBox(e, load));
    }
  }

  const el = h('div', { class: 'gen' }, h('div', { class: 'gen-head' }, tabs, nav), summary, body,
    h('p', { class: 'hint' }, t('gen.hint', { tz })));
  load();
  return el;
}
