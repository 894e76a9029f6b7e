// One customer: contact (editable with If-Match), sites with devices and gateway status, work-order history,
// generation chart per site.
import { h, mount } from '../dom.js';
import { t, tEnum, fmtNumber, fmtDate, fmtDateTime } from '../i18n.js';
import { request, get, post, qs } from '../api.js';
import { pageHeader, card, table, canEdit, kv, toast, field, showFieldError, errorText, busy, priorityChip, stateChip, slaChip, mapLinks, role, chip } from '../ui.js';
import { generationCard, siteKwp } from '../generation.js';
import { workOrderCsvColumns } from './board.js';
import { downloadCsv, stamp } from '../csv.js';
import { updateSettingsBlock } from './updates.js';
import { documentsCard } from '../documents.js';

const FIELDS = ['name', 'phone', 'email', 'address', 'notes'];
// Sales reps and project managers read their own customers' contact, sites and projects; the plant's data (status,
// devices, generation, work orders) is the office's.
const officeRole = () => ['admin', 'back_office', 'manager'].includes(role());

function contactCard(state, rerender) {
  const c = state.customer;
  const view = () => kv([
    [t('cust.phone'), c.phone ? h('a', { href: `tel:${c.phone.replace(/\s/g, '')}` }, c.phone) : null],
    [t('cust.email'), c.email ? h('a', { href: `mailto:${c.email}` }, c.email) : null],
    [t('cust.address'), c.address || null],
    [t('cust.notes'), c.notes ? h('span', { class: 'pre' }, c.notes) : null],
    [t('common.updated_at'), fmtDateTime(c.updated_at)],
  ]);
  const body = h('div', { testid: 'customer-contact' }, view());
  const editBtn = canEdit() ? h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: 'customer-edit', onClick: edit }, t('common.edit')) : null;

  function edit() {
    editBtn.hidden = true;
    const inputs = Object.fromEntries(FIELDS.map((k) => [k, k === 'notes'
      ? h('textarea', { name: k, rows: 3, testid: `customer-field-${k}`, value: c[k] || '' })
      : h('input', { name: k, type: k === 'email' ? 'email' : k === 'phone' ? 'tel' : 'text', testid: `customer-field-${k}`, value: c[k] || '' })]));
    const err = h('div', { class: 'alert alert-error', hidden: true, testid: 'customer-error' });
    const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'customer-save' }, t('common.save'));
    const form = h('form', {
      class: 'form',
      onSubmit: async (ev) => {
        ev.preventDefault();
        const patch = {};
        for (const k of FIELDS) if (inputs[k].value.trim() !== (c[k] || '')) patch[k] = inputs[k].value.trim();
        if (!Object.keys(patch).length) { cancel(); return; }
        if (patch.name === '') { inputs.name.classList.add('invalid'); return; }
        err.hidden = true;
        await busy(save, async () => {
          try {
            const res = await request('PATCH', `/api/customers/${c.id}`, { body: patch, ifMatch: state.etag });
            state.customer = { ...c, ...res.data, sites: c.sites };
            state.etag = res.etag;
            toast(t('common.saved'), 'success');
            rerender();
          } catch (e) {
            showFieldError(form, e);
            mount(err, e.status === 412 ? [t('error.conflict'), ' ', h('button', { class: 'btn btn-small', type: 'button', onClick: () => rerender(true) }, t('common.reload'))] : errorText(e));
            err.hidden = false;
          }
        });
      },
    },
    h('div', { class: 'form-grid' }, FIELDS.filter((k) => k !== 'notes').map((k) => field(t(`cust.${k}`), inputs[k]))),
    field(t('cust.notes'), inputs.notes), err,
    h('div', { class: 'form-actions' }, h('button', { class: 'btn btn-secondary', type: 'button', testid: 'customer-cancel', onClick: cancel }, t('common.cancel')), save));
    mount(body, form);
    inputs.name.focus();
  }
  function cancel() { editBtn.hidden = false; mount(body, view()); }
  return card(t('cust.contact'), body, { actions: editBtn });
}

// The gateway's last status and the devices it reported (office roles).
function loadSiteState(site, signal, status, devices) {
  get(`/api/sites/${encodeURIComponent(site.site_id)}/status`, { signal }).then((st) => {
    status.className = `chip chip-site-${st.state === 'online' ? 'online' : 'offline'}`;
    status.textContent = `${t(`site.${st.state === 'online' ? 'online' : 'offline'}`)} · ${fmtDateTime(st.received_at)}`;
  }).catch(() => { status.textContent = t('site.no_status'); });
  get(`/api/sites/${encodeURIComponent(site.site_id)}/devices`, { signal }).then((d) => {
    mount(devices, table(d.items, [
      { label: t('dev.id'), value: (x) => h('code', {}, x.device_id) },
      { label: t('dev.vendor'), value: (x) => x.vendor || '—' },
      { label: t('dev.model'), value: (x) => x.model || '—' },
      { label: t('dev.serial'), value: (x) => h('code', {}, x.serial || '—') },
      { label: t('dev.firmware'), value: (x) => x.firmware || '—' },
      { label: t('dev.last_seen'), value: (x) => fmtDateTime(x.last_seen), class: 'nowrap muted' },
    ], { empty: t('dev.none'), testid: `devices-${site.site_id}` }));
  }).catch((e) => mount(devices, h('div', { class: 'alert alert-error' }, errorText(e))));
}

function siteCard(site, signal) {
  const status = h('span', { class: 'chip chip-muted', testid: `site-status-${site.site_id}` }, t('site.status_unknown'));
  const devices = h('div', {}, h('div', { class: 'skeleton' }));
  if (officeRole()) loadSiteState(site, signal, status, devices);
  const kwp = siteKwp(site);
  const m = mapLinks(site);
  return h('div', { class: 'site', testid: `site-${site.site_id}` },
    h('div', { class: 'site-head' },
      h('div', {}, h('h3', {}, site.name || site.site_id), h('div', { class: 'muted small' }, h('code', {}, site.site_id), ' · ', site.address || '—',
        m.usable ? [' · ', h('a', { href: m.web, target: '_blank', rel: 'noopener' }, t('site.map'))] : null)),
      officeRole() ? status : null),
    kv([
      [t('site.kwp'), kwp ? `${fmtNumber(kwp, 1)} kWp` : '—'],
      [t('site.arrays'), (site.arrays || []).map((a) => `${a.name || '—'} ${fmtNumber(a.kwp, 1)} kWp · ${fmtNumber(a.tilt_deg)}° / ${fmtNumber(a.azimuth_deg)}°`).join('; ') || '—'],
      [t('site.grid_connected'), fmtDate(site.grid_connected_on)],
      [t('site.commissioned_on'), fmtDate(site.commissioned_on)],
      [t('site.warranty_end'), fmtDate(site.warranty_end)],
      [t('site.time_zone'), site.time_zone],
    ]),
    officeRole() ? [h('h4', {}, t('site.devices')), devices] : null,
    canEdit() ? updateSettingsBlock(site) : null,
    canEdit() ? enrollmentBlock(site) : null,
    canEdit() ? logBundleBlock(site, signal) : null);
}

// Remote diagnostics (docs/updates.md): ask the gateway for its journal and state; the list links the received files.
function logBundleBlock(site, signal) {
  const base = `/api/sites/${encodeURIComponent(site.site_id)}/log-bundles`;
  const list = h('div', {});
  const hours = h('select', { testid: `log-bundle-hours-${site.site_id}`, 'aria-label': t('logs.hours') },
    [1, 6, 24, 72, 168].map((n) => h('option', { value: n, selected: n === 24 }, t('logs.hours_n', { n }))));
  const controls = h('div', { class: 'form-actions' }, hours);
  const load = () => get(base, { signal }).then((r) => {
    // A server without its diagnostics section lists old bundles but cannot ask for new ones.
    controls.hidden = r.enabled === false;
    if (r.enabled === false && !r.items.length) return mount(list, h('p', { class: 'muted', testid: `log-bundles-off-${site.site_id}` }, t('logs.off')));
    return mount(list, table(r.items, [
      { label: t('logs.requested'), value: (b) => fmtDateTime(b.requested_at), class: 'nowrap' },
      { label: t('logs.by'), value: (b) => b.requested_by },
      { label: t('logs.hours'), value: (b) => b.hours },
      { label: t('logs.state'), value: (b) => h('span', { title: b.detail || '' }, t(`logs.state_${b.state}`)) },
      { label: t('logs.size'), value: (b) => (b.size == null ? '—' : `${fmtNumber(b.size / 1024, 0)} KiB`) },
      { label: '', value: (b) => (b.state === 'received' ? h('a', { href: `/api/log-bundles/${encodeURIComponent(b.id)}`, download: '', testid: `log-bundle-download-${b.id}` }, t('logs.download')) : null) },
    ], { empty: t('logs.none'), testid: `log-bundles-${site.site_id}` }));
  }).catch((e) => mount(list, h('div', { class: 'alert alert-error' }, errorText(e))));
  const ask = h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: `log-bundle-request-${site.site_id}`,
    onClick: () => busy(ask, async () => {
      try {
        await post(base, { hours: Number(hours.value) });
        toast(t('logs.requested_toast'), 'success');
        await load();
      } catch (e) {
        toast(errorText(e), 'error');
      }
    }) }, t('logs.request'));
  controls.append(ask);
  load();
  return h('div', { class: 'log-bundles', testid: `log-bundles-block-${site.site_id}` },
    h('h4', {}, t('logs.title')), controls, list);
}

// The back office gives the installer a one-time enrollment code for this site's gateway (docs/fleet-enrollment.md):
// shown once, as text and as a QR code the installer's phone can read (the server renders it as SVG).
function enrollmentBlock(site) {
  const out = h('div', { class: 'enrollment', testid: `enrollment-${site.site_id}` });
  const make = async () => {
    try {
      const c = await post('/api/enrollment-codes', { site_id: site.site_id });
      mount(out,
        h('div', { class: 'enrollment-code', testid: `enrollment-code-${site.site_id}` },
          c.qr_svg ? h('img', { class: 'enrollment-qr', alt: c.code, width: 160, height: 160,
            src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(c.qr_svg)}` }) : null,
          h('div', {},
            h('code', { class: 'enrollment-text' }, c.code),
            h('div', { class: 'muted small' }, t('enroll.valid_until', { at: fmtDateTime(c.expires_at) })),
            h('div', { class: 'muted small' }, t('enroll.once')))));
    } catch (e) {
      toast(errorText(e), 'error');
    }
  };
  mount(out, h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: `enrollment-create-${site.site_id}`, onClick: make }, t('enroll.create')));
  return out;
}

export async function customerView(root, { params, signal, rerender }) {
  const id = params[0];
  const state = {};
  async function fetchAll() {
    const res = await request('GET', `/api/customers/${id}`, { signal });
    state.customer = res.data;
    state.etag = res.etag;
    state.orders = officeRole()
      ? (await get(`/api/work-orders${qs({ customer_id: id, limit: 200, sort: 'newest' })}`, { signal })).items : [];
    state.projects = (await get(`/api/projects${qs({ customer_id: id, limit: 100 })}`, { signal })).items;
  }
  await fetchAll();
  let genSite = state.customer.sites?.[0] || null;

  function draw() {
    const c = state.customer;
    const sites = c.sites || [];
    const genHost = h('div', {}, !officeRole() ? null : genSite ? generationCard(genSite, { signal }) : h('div', { class: 'empty' }, t('cust.no_sites')));
    const siteSelect = sites.length > 1 ? h('select', {
      testid: 'gen-site', 'aria-label': t('wo.site'),
      onChange: (e) => { genSite = sites.find((s) => s.site_id === e.target.value); mount(genHost, generationCard(genSite, { signal })); },
    }, sites.map((s) => h('option', { value: s.site_id, selected: s === genSite }, `${s.name || s.site_id} (${s.site_id})`))) : null;
    const exportBtn = h('button', { class: 'btn btn-ghost btn-small', type: 'button', testid: 'export-customer-wo-csv', onClick: () => downloadCsv(`work-orders-customer-${c.id}-${stamp()}.csv`, state.orders, workOrderCsvColumns()) }, '⤓ ', t('common.export_csv'));
    mount(root,
      h('a', { class: 'back', href: '#/customers' }, '← ', t('cust.title')),
      pageHeader(c.name, t('cust.subhead', { id: c.id, n: sites.length })),
      officeRole() ? h('div', { class: 'grid-2 grid-2-wide-right' },
        contactCard(state, async (reload) => { if (reload) await fetchAll(); draw(); }),
        card(t('cust.generation'), genHost, { actions: siteSelect, testid: 'customer-generation' }))
        : contactCard(state, async (reload) => { if (reload) await fetchAll(); draw(); }),
      card(t('cust.projects'), table(state.projects, [
        { label: t('projects.name'), value: (p) => h('a', { href: `#/projects/${p.id}`, class: 'strong' }, p.name) },
        { label: t('projects.stage'), value: (p) => t(`stage.${p.stage}`) === `stage.${p.stage}` ? p.stage : t(`stage.${p.stage}`) },
        { label: t('projects.manager'), value: (p) => p.manager || '—' },
        { label: '', value: (p) => chip('project_status', p.status) },
      ], { onRow: (p) => { location.hash = `#/projects/${p.id}`; }, empty: t('cust.no_projects'), testid: 'customer-projects' })),
      card(t('cust.sites'), sites.length ? h('div', { class: 'sites' }, sites.map((s) => siteCard(s, signal))) : h('div', { class: 'empty' }, t('cust.no_sites'))),
      !officeRole() ? null : card(t('cust.work_orders'), table(state.orders, [
        { label: '#', value: (w) => h('a', { href: `#/work-orders/${w.id}` }, `#${w.id}`) },
        { label: t('wo.created'), value: (w) => fmtDate(w.created_at), class: 'nowrap' },
        { label: t('wo.fault_kind'), value: (w) => tEnum('fault', w.fault_kind) },
        { label: t('wo.site'), value: (w) => w.site_id },
        { label: t('wo.device'), value: (w) => h('code', {}, w.device_id) },
        { label: t('wo.priority'), value: (w) => priorityChip(w.priority) },
        { label: t('wo.state'), value: (w) => stateChip(w.state) },
        { label: t('wo.sla'), value: (w) => slaChip(w.sla) },
        { label: t('wo.assignee'), value: (w) => w.assignee || '—' },
      ], { onRow: (w) => { location.hash = `#/work-orders/${w.id}`; }, empty: t('wo.none'), testid: 'customer-work-orders' }), { actions: exportBtn }),
      documentsCard('customers', c.id, { writers: ['admin', 'back_office', 'sales', 'project_manager'], signal }));
  }
  draw();
}
