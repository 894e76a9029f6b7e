// Customer list: search (q), cursor "load more", CSV export of every matching customer, new customer (office).
import { h, mount } from '../dom.js';
import { t, fmtDate } from '../i18n.js';
import { get, post, getAll, qs } from '../api.js';
import { pageHeader, table, canEdit, loading, errorBox, toast, field, showFieldError, errorText, busy } from '../ui.js';
import { downloadCsv, stamp } from '../csv.js';

const PAGE = 50;

export function customerCsvColumns() {
  return [
    { label: t('cust.id'), value: (c) => c.id },
    { label: t('cust.name'), value: (c) => c.name },
    { label: t('cust.phone'), value: (c) => c.phone },
    { label: t('cust.email'), value: (c) => c.email },
    { label: t('cust.address'), value: (c) => c.address },
    { label: t('cust.notes'), value: (c) => c.notes },
    { label: t('common.updated_at'), value: (c) => c.updated_at },
  ];
}

function newCustomerDialog(onCreated) {
  const inputs = {
    name: h('input', { name: 'name', required: true, testid: 'new-customer-name' }),
    phone: h('input', { name: 'phone', type: 'tel', testid: 'new-customer-phone' }),
    email: h('input', { name: 'email', type: 'email', testid: 'new-customer-email' }),
    address: h('input', { name: 'address', testid: 'new-customer-address' }),
    notes: h('textarea', { name: 'notes', rows: 3 }),
  };
  const err = h('div', { class: 'alert alert-error', hidden: true });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'new-customer-save' }, t('common.create'));
  const dlg = h('dialog', { class: 'dialog', testid: 'new-customer-dialog' });
  const form = h('form', {
    class: 'form',
    onSubmit: async (ev) => {
      ev.preventDefault();
      if (!inputs.name.value.trim()) { inputs.name.classList.add('invalid'); inputs.name.focus(); return; }
      err.hidden = true;
      await busy(save, async () => {
        try {
          const body = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, el.value.trim()]));
          const c = await post('/api/customers', body);
          dlg.close();
          dlg.remove();
          toast(t('cust.created', { name: c.name }), 'success');
          onCreated(c);
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
          showFieldError(form, e);
        }
      });
    },
  },
  h('h2', {}, t('cust.new')),
  h('div', { class: 'form-grid' }, field(t('cust.name'), inputs.name), field(t('cust.phone'), inputs.phone), field(t('cust.email'), inputs.email), field(t('cust.address'), inputs.address)),
  field(t('cust.notes'), inputs.notes), err,
  h('div', { class: 'form-actions' }, h('button', { class: 'btn btn-secondary', type: 'button', onClick: () => { dlg.close(); dlg.remove(); } }, t('common.cancel')), save));
  dlg.append(form);
  document.body.append(dlg);
  dlg.showModal();
  inputs.name.focus();
}

export async function customersView(root, { signal }) {
  let q = '';
  let items = [];
  let cursor = null;
  let seq = 0;
  const list = h('div', { testid: 'customer-list' });
  const more = h('div', { class: 'load-more' });
  const count = h('span', { class: 'muted', testid: 'customer-count' });
  const search = h('input', { type: 'search', class: 'search', placeholder: t('cust.search_placeholder'), testid: 'customer-search', 'aria-label': t('cust.search'), value: q });

  const exportBtn = h('button', { class: 'btn btn-secondary', type: 'button', testid: 'export-customers-csv' }, '⤓ ', t('common.export_csv'));
  exportBtn.addEventListener('click', () => busy(exportBtn, async () => {
    try {
      const all = await getAll('/api/customers', { q });
      downloadCsv(`customers-${stamp()}.csv`, all, customerCsvColumns());
    } catch (e) { toast(errorText(e), 'error'); }
  }));
  const newBtn = canEdit() ? h('button', { class: 'btn btn-primary', type: 'button', testid: 'new-customer', onClick: () => newCustomerDialog((c) => { location.hash = `#/customers/${c.id}`; }) }, '+ ', t('cust.new')) : null;

  function draw() {
    mount(list, table(items, [
      { label: t('cust.name'), value: (c) => h('a', { href: `#/customers/${c.id}`, class: 'strong' }, c.name) },
      { label: t('cust.phone'), value: (c) => c.phone || '—', class: 'nowrap' },
      { label: t('cust.email'), value: (c) => c.email || '—' },
      { label: t('cust.address'), value: (c) => c.address || '—' },
      { label: t('common.updated_at'), value: (c) => fmtDate(c.updated_at), class: 'nowrap muted' },
    ], { onRow: (c) => { location.hash = `#/customers/${c.id}`; }, empty: q ? t('cust.none_found', { q }) : t('cust.none'), rowTestid: (c) => `customer-row-${c.id}`, testid: 'customer-table' }));
    count.textContent = t('cust.count', { n: items.length }) + (cursor ? '+' : '');
    mount(more, cursor ? h('button', { class: 'btn btn-secondary', type: 'button', testid: 'load-more', onClick: (ev) => busy(ev.currentTarget, () => load(false)) }, t('common.load_more')) : null);
  }

  async function load(reset) {
    const my = ++seq;
    if (reset) { mount(list, loading()); mount(more); }
    try {
      const page = await get(`/api/customers${qs({ q, limit: PAGE, cursor: reset ? null : cursor })}`, { signal });
      if (my !== seq || signal.aborted) return;
      items = reset ? page.items : items.concat(page.items);
      cursor = page.next_cursor;
      draw();
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(list, errorBox(e, () => load(reset)));
    }
  }

  let debounce = null;
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { q = search.value.trim(); load(true); }, 250);
  });

  mount(root,
    pageHeader(t('cust.title'), t('cust.subtitle'), exportBtn, newBtn),
    h('div', { class: 'toolbar' }, search, count),
    h('section', { class: 'card' }, list),
    more);
  await load(true);
  return () => clearTimeout(debounce);
}
