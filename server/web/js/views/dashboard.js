// Fleet dashboard: generation today vs yesterday and specific yield, site status, open work orders by severity
// and age, SLA colours, mean time to repair, the most urgent open orders. Refreshes every 30 s.
import { h, mount } from '../dom.js';
import { t, tEnum, fmtNumber, fmtPercent, fmtTime, fmtHours } from '../i18n.js';
import { get, qs } from '../api.js';
import { pageHeader, card, table, priorityChip, slaChip, stateChip, age, errorText } from '../ui.js';
import { stackBar } from '../charts.js';

const REFRESH_MS = 30_000;

function kpi(label, value, sub, testid, extra) {
  return h('div', { class: 'kpi', testid }, h('div', { class: 'kpi-label' }, label), h('div', { class: 'kpi-value' }, value), sub ? h('div', { class: 'kpi-sub' }, sub) : null, extra);
}

function hbars(rows, testid) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  return h('div', { class: 'hbars', testid }, rows.map((r) => h('div', { class: 'hbar', testid: r.testid },
    h('span', { class: 'hbar-label' }, r.label),
    h('span', { class: 'hbar-track' }, h('span', { class: `hbar-fill ${r.class || ''}`, style: { width: `${(r.value / max) * 100}%` } })),
    h('span', { class: 'hbar-value' }, fmtNumber(r.value)))));
}

function render(st, urgent) {
  const kwp = st.installed_kwp || 0;
  const today = st.generation_today_kwh ?? 0;
  const yesterday = st.generation_yesterday_kwh ?? 0;
  const delta = yesterday > 0 ? (today - yesterday) / yesterday : null;
  const sy = (kwh) => (kwp > 0 ? kwh / kwp : null);
  const sev = st.open_work_orders_by_severity || {};
  const ageB = st.open_work_orders_by_age || {};
  const sla = st.sla || {};
  const openTotal = ['critical', 'major', 'minor', 'info'].reduce((a, k) => a + (sev[k] || 0), 0);

  const kpis = h('div', { class: 'kpis' },
    kpi(t('dash.gen_today'), h('span', {}, fmtNumber(today, 1), h('small', {}, ' kWh')),
      h('span', {}, t('dash.yesterday'), ' ', h('b', {}, `${fmtNumber(yesterday, 1)} kWh`), delta !== null ? h('span', { class: `delta ${delta >= 0 ? 'up' : 'down'}`, title: t('dash.delta_hint') }, fmtPercent(delta)) : null,
        st.expected_so_far_kwh != null ? h('span', { testid: 'kpi-expected', title: t('dash.expected_hint') }, ' · ', t('dash.expected'), ' ',
          h('b', {}, `${fmtNumber(st.expected_so_far_kwh, 1)} / ${fmtNumber(st.expected_today_kwh, 1)} kWh`),
          st.expected_so_far_kwh > 0 ? h('span', { class: 'delta' }, fmtPercent(today / st.expected_so_far_kwh - 1)) : null) : null),
      'kpi-generation'),
    kpi(t('dash.specific_yield'), h('span', {}, fmtNumber(sy(today), 2), h('small', {}, ' kWh/kWp')),
      h('span', {}, t('dash.yesterday'), ' ', h('b', {}, `${fmtNumber(sy(yesterday), 2)} kWh/kWp`), ' · ', t('dash.installed', { kwp: fmtNumber(kwp, 1) })),
      'kpi-specific-yield'),
    kpi(t('dash.sites'), fmtNumber(st.sites),
      h('span', { class: 'legend-inline' },
        h('span', {}, h('i', { class: 'dot dot-online' }), t('dash.online'), ' ', h('b', {}, fmtNumber(st.sites_online))),
        h('span', {}, h('i', { class: 'dot dot-offline' }), t('dash.offline'), ' ', h('b', {}, fmtNumber(st.sites_offline))),
        h('a', { href: '#/work-orders?unassigned_site=1', class: 'muted-link' }, h('i', { class: 'dot dot-unassigned' }), t('dash.unassigned'), ' ', h('b', {}, fmtNumber(st.sites_unassigned)))),
      'kpi-sites',
      stackBar([{ label: t('dash.online'), value: st.sites_online, class: 'seg-online' }, { label: t('dash.offline'), value: st.sites_offline, class: 'seg-offline' }])),
    kpi(t('dash.mttr'), st.mttr_hours == null ? '—' : fmtHours(st.mttr_hours), t('dash.mttr_hint'), 'kpi-mttr'));

  const slaCard = card(t('dash.sla'), [
    stackBar(['green', 'yellow', 'red'].map((c) => ({ label: tEnum('sla', c), value: sla[c] || 0, class: `seg-sla-${c}` })), { testid: 'sla-bar' }),
    h('div', { class: 'sla-counts' }, ['red', 'yellow', 'green'].map((c) => h('a', { class: `sla-count sla-${c}`, href: '#/work-orders', testid: `sla-${c}` },
      h('span', { class: 'sla-num' }, fmtNumber(sla[c] || 0)), h('span', {}, h('i', { class: 'dot' }), tEnum('sla', c))))),
    h('p', { class: 'hint' }, t('dash.sla_hint')),
  ]);

  const sevCard = card(t('dash.by_severity'), hbars(['critical', 'major', 'minor', 'info'].map((k) => ({ label: tEnum('severity', k), value: sev[k] || 0, class: `sev-${k}`, testid: `sev-${k}` })), 'open-by-severity'),
    { actions: h('span', { class: 'badge' }, t('dash.open_total', { n: fmtNumber(openTotal) })) });
  const ageCard = card(t('dash.by_age'), hbars([
    { label: t('dash.age_under_1d'), value: ageB.under_1d || 0, class: 'age-1' },
    { label: t('dash.age_1d_7d'), value: ageB['1d_to_7d'] || 0, class: 'age-2' },
    { label: t('dash.age_over_7d'), value: ageB.over_7d || 0, class: 'age-3' },
  ], 'open-by-age'));

  const urgentCard = card(t('dash.urgent'), table(urgent, [
    { label: '#', value: (w) => h('a', { href: `#/work-orders/${w.id}` }, `#${w.id}`) },
    { label: t('wo.priority'), value: (w) => priorityChip(w.priority) },
    { label: t('wo.sla'), value: (w) => slaChip(w.sla) },
    { label: t('wo.fault_kind'), value: (w) => tEnum('fault', w.fault_kind) },
    { label: t('wo.site'), value: (w) => w.site_id },
    { label: t('wo.state'), value: (w) => stateChip(w.state) },
    { label: t('wo.assignee'), value: (w) => w.assignee || h('span', { class: 'muted' }, t('wo.unassigned')) },
    { label: t('wo.age'), value: (w) => age(w.created_at), class: 'num' },
  ], { onRow: (w) => { location.hash = `#/work-orders/${w.id}`; }, empty: t('dash.no_urgent') }),
  { actions: h('a', { class: 'btn btn-ghost btn-small', href: '#/work-orders' }, t('dash.all_work_orders')) });

  return [kpis, h('div', { class: 'grid-3' }, sevCard, ageCard, slaCard), urgentCard];
}

export async function dashboardView(root, { signal }) {
  const stamp = h('span', { class: 'updated', testid: 'dash-updated' });
  const body = h('div', { class: 'dash', testid: 'dashboard' });
  const status = h('div');
  mount(root, pageHeader(t('dash.title'), t('dash.subtitle'), stamp), status, body);
  let timer = null;
  let first = true;
  async function load() {
    try {
      const [st, wo] = await Promise.all([
        get('/api/stats', { signal }),
        get(`/api/work-orders${qs({ open: 1, sort: 'urgency', limit: 8 })}`, { signal }),
      ]);
      if (signal.aborted) return;
      mount(body, render(st, wo.items));
      mount(status);
      stamp.textContent = t('dash.updated', { time: fmtTime(st.at || new Date()) });
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError' || e.status === 401) return;
      if (first) throw e;
      mount(status, h('div', { class: 'alert alert-warn' }, t('dash.refresh_failed'), ' ', errorText(e)));
    } finally {
      first = false;
    }
  }
  await load();
  timer = setInterval(load, REFRESH_MS);
  return () => clearInterval(timer);
}
