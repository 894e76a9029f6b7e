// The collection report (docs/projects.md, "Collection rate"): per month of the due day and per sales rep, what
// was due, what has been collected of it, and the rate — each figure per currency, never added across
// currencies. A month range kept in the URL (#/reports/collections?from=2026-01&to=2026-06); at most 60 months.
import { h, mount } from '../dom.js';
import { t } from '../i18n.js';
import { get, qs } from '../api.js';
import { pageHeader, card, table, loading, errorBox, field, button } from '../ui.js';
import { fmtMoney } from './projects.js';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

function rateText(rate) {
  return rate === null || rate === undefined ? '—' : `${(rate * 100).toFixed(1)} %`;
}

function figureColumns(keyLabel, keyValue, testid) {
  return [
    { label: keyLabel, value: keyValue },
    { label: t('collections.currency'), value: (f) => f.currency },
    { label: t('collections.instalments'), value: (f) => String(f.instalments) },
    { label: t('collections.due'), value: (f) => fmtMoney(f.due, f.currency) },
    { label: t('collections.collected'), value: (f) => fmtMoney(f.collected, f.currency) },
    { label: t('collections.rate'), value: (f) => h('span', { testid: `${testid}-rate` }, rateText(f.rate)) },
  ];
}

export async function collectionsView(root, { signal, query }) {
  const from = h('input', { name: 'from', type: 'text', inputmode: 'numeric', value: query.get('from') || '', placeholder: 'YYYY-MM', testid: 'collections-from' });
  const to = h('input', { name: 'to', type: 'text', inputmode: 'numeric', value: query.get('to') || '', placeholder: 'YYYY-MM', testid: 'collections-to' });
  const problem = h('div', { class: 'field-error', testid: 'collections-error' });
  const apply = () => {
    const range = { from: from.value.trim(), to: to.value.trim() };
    for (const [k, v] of Object.entries(range))
      if (v && !MONTH.test(v)) { problem.textContent = t('collections.bad_month'); return; }
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(range)) if (v) params.set(k, v);
    location.hash = `#/reports/collections${params.toString() ? `?${params}` : ''}`;
  };
  const body = h('div', { testid: 'collections' }, loading());
  mount(root,
    pageHeader(t('collections.title'), t('collections.subtitle')),
    h('form', { class: 'toolbar', onSubmit: (e) => { e.preventDefault(); apply(); } },
      field(t('collections.from'), from), field(t('collections.to'), to),
      button(t('collections.show'), apply, { kind: 'primary', testid: 'collections-show' }), problem),
    body);
  async function load() {
    try {
      const range = {};
      if (query.get('from')) range.from = query.get('from');
      if (query.get('to')) range.to = query.get('to');
      const r = await get(`/api/reports/collections${qs(range)}`, { signal });
      if (!from.value) from.value = r.from;
      if (!to.value) to.value = r.to;
      mount(body,
        h('p', { class: 'muted', testid: 'collections-range' }, `${r.from} – ${r.to}`),
        card(t('collections.by_month'), table(r.by_month, figureColumns(t('collections.month'), (f) => f.month, 'collections-month'),
          { testid: 'collections-by-month', empty: t('collections.none') })),
        card(t('collections.by_rep'), table(r.by_rep, figureColumns(t('collections.rep'), (f) => f.rep || t('collections.no_rep'), 'collections-rep'),
          { testid: 'collections-by-rep', empty: t('collections.none') })));
    } catch (e) {
      mount(body, errorBox(e, load));
    }
  }
  await load();
}
