// Work-order board: open orders in columns by state (new, assigned, in progress, done), most urgent first;
// filters by priority, site, technician and the "unassigned site" queue (all kept in the URL); CSV export.
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDate, fmtDateTime } from '../i18n.js';
import { get, qs } from '../api.js';
import { pageHeader, priorityChip, slaChip, age, toast, errorText } from '../ui.js';
import { downloadCsv, stamp } from '../csv.js';

export const COLUMNS = ['new', 'assigned', 'in_progress', 'done'];
export const PRIORITIES = ['urgent', 'high', 'normal', 'low'];

export function workOrderCsvColumns() {
  return [
    { label: t('wo.id'), value: (w) => w.id },
    { label: t('wo.state'), value: (w) => tEnum('state', w.state) },
    { label: t('wo.priority'), value: (w) => tEnum('priority', w.priority) },
    { label: t('wo.severity'), value: (w) => tEnum('severity', w.severity) },
    { label: t('wo.sla'), value: (w) => tEnum('sla', w.sla) },
    { label: t('wo.fault_kind'), value: (w) => tEnum('fault', w.fault_kind) },
    { label: t('wo.summary'), value: (w) => w.summary },
    { label: t('wo.site'), value: (w) => w.site_id },
    { label: t('wo.device'), value: (w) => w.device_id },
    { label: t('wo.assignee'), value: (w) => w.assignee || '' },
    { label: t('wo.created'), value: (w) => w.created_at },
    { label: t('wo.due'), value: (w) => w.due_at },
    { label: t('wo.closed_at'), value: (w) => w.closed_at || '' },
    { label: t('wo.ticket'), value: (w) => w.ticket_id || '' },
  ];
}

function woCard(w, siteName) {
  const overdue = Date.parse(w.due_at) < Date.now();
  return h('a', { class: `wo-card sla-edge-${w.sla}`, href: `#/work-orders/${w.id}`, testid: `wo-card-${w.id}`, 'data-state': w.state, 'data-priority': w.priority },
    h('div', { class: 'wo-card-top' }, h('span', { class: 'wo-id' }, `#${w.id}`), priorityChip(w.priority), slaChip(w.sla)),
    h('div', { class: 'wo-card-title' }, tEnum('fault', w.fault_kind)),
    h('div', { class: 'wo-card-site' }, siteName || w.site_id, ' · ', h('code', {}, w.device_id)),
    h('div', { class: 'wo-card-foot' },
      h('span', { title: fmtDateTime(w.created_at) }, age(w.created_at)),
      h('span', { class: overdue ? 'overdue' : '', title: t('wo.due') }, t('wo.due_short', { date: fmtDate(w.due_at, { month: 'short', day: 'numeric' }) })),
      h('span', { class: 'wo-assignee' }, w.assignee ? w.assignee : h('span', { class: 'muted' }, t('wo.unassigned')))));
}

export async function boardView(root, { query, signal }) {
  const f = {
    priority: query.get('priority') || '',
    site_id: query.get('site_id') || '',
    assignee: query.get('assignee') || '',
    unassigned_site: query.get('unassigned_site') === '1' ? '1' : '',
  };
  const [orders, sites, users] = await Promise.all([
    get(`/api/work-orders${qs({ open: 1, sort: 'urgency', limit: 500, ...f })}`, { signal }),
    get('/api/sites?limit=1000', { signal }).catch(() => ({ items: [] })),
    get('/api/users', { signal }).catch(() => null),
  ]);
  const items = orders.items;
  const siteNames = new Map(sites.items.map((s) => [s.site_id, s.name]));
  const techs = users ? users.items.filter((u) => u.role === 'technician' && !u.disabled).map((u) => ({ value: u.name, label: u.display_name || u.name }))
    : [...new Set(items.map((w) => w.assignee).filter(Boolean))].map((n) => ({ value: n, label: n }));
  if (f.assignee && !techs.some((x) => x.value === f.assignee)) techs.push({ value: f.assignee, label: f.assignee });

  const setFilter = (k, v) => {
    const next = { ...f, [k]: v };
    location.hash = `#/work-orders${qs(next)}`;
  };
  const select = (k, label, options, testid) => h('label', { class: 'filter' }, h('span', {}, label),
    h('select', { testid, onChange: (e) => setFilter(k, e.target.value) },
      h('option', { value: '' }, t('common.all')),
      options.map((o) => h('option', { value: o.value, selected: o.value === f[k] }, o.label))));

  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', testid: 'export-work-orders-csv', onClick: () => {
    try { downloadCsv(`work-orders-${stamp()}.csv`, items, workOrderCsvColumns()); } catch (e) { toast(errorText(e), 'error'); }
  } }, '⤓ ', t('common.export_csv'));

  const filters = h('div', { class: 'filters', testid: 'wo-filters' },
    select('priority', t('wo.priority'), PRIORITIES.map((p) => ({ value: p, label: tEnum('priority', p) })), 'filter-priority'),
    select('site_id', t('wo.site'), sites.items.map((s) => ({ value: s.site_id, label: `${s.name || s.site_id} (${s.site_id})` })), 'filter-site'),
    select('assignee', t('wo.technician'), techs, 'filter-assignee'),
    h('label', { class: 'filter filter-check' }, h('input', { type: 'checkbox', testid: 'filter-unassigned-site', checked: !!f.unassigned_site, onChange: (e) => setFilter('unassigned_site', e.target.checked ? '1' : '') }), h('span', {}, t('wo.unassigned_site_queue'))),
    Object.values(f).some(Boolean) ? h('a', { class: 'btn btn-ghost btn-small', href: '#/work-orders', testid: 'filter-reset' }, t('common.reset')) : null);

  const title = f.unassigned_site ? t('wo.unassigned_title') : t('wo.board_title');
  const sub = f.unassigned_site ? t('wo.unassigned_sub') : t('wo.board_sub', { n: items.length });
  mount(root,
    pageHeader(title, sub, exportBtn),
    filters,
    h('div', { class: 'board', testid: 'wo-board' }, COLUMNS.map((state) => {
      const col = items.filter((w) => w.state === state);
      return h('section', { class: `board-col col-${state}`, testid: `wo-col-${state}` },
        h('header', {}, h('span', { class: 'col-title' }, tEnum('state', state)), h('span', { class: 'count' }, String(col.length))),
        h('div', { class: 'board-cards' }, col.length ? col.map((w) => woCard(w, siteNames.get(w.site_id))) : h('div', { class: 'col-empty' }, t('wo.col_empty'))));
    })));
}
