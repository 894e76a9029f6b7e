// Technician view (phone-sized): my open work orders by urgency with address, navigation and contact; one order
// with big buttons to start and finish, record a visit (notes, parts) and acknowledge/resolve the gateway ticket.
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDateTime, fmtNumber } from '../i18n.js';
import { request, get, qs } from '../api.js';
import { priorityChip, slaChip, stateChip, age, errorText, mapLinks, kv } from '../ui.js';
import { stateButtons, notesList, noteForm, ticketActions, conflictAlert, evidenceTable, faultChart } from '../wo-common.js';
import { documentsCard } from '../documents.js';

const tel = (p) => `tel:${String(p).replace(/[^\d+]/g, '')}`;

function contactButtons(wo) {
  const site = wo.site || {};
  const m = mapLinks(site);
  const c = wo.customer;
  return h('div', { class: 'big-links' },
    m.usable ? h('a', { class: 'btn btn-lg btn-primary', href: m.geo, testid: `navigate-${wo.id}` }, t('my.navigate')) : null,
    m.usable ? h('a', { class: 'btn btn-lg btn-secondary', href: m.web, target: '_blank', rel: 'noopener', testid: `map-${wo.id}` }, t('site.open_map')) : null,
    c?.phone ? h('a', { class: 'btn btn-lg btn-secondary', href: tel(c.phone), testid: `call-${wo.id}` }, t('my.call')) : null,
    c?.email ? h('a', { class: 'btn btn-lg btn-secondary', href: `mailto:${c.email}`, testid: `mail-${wo.id}` }, t('my.email')) : null);
}

export async function myView(root, { signal }) {
  const list = await get(`/api/work-orders${qs({ open: 1, sort: 'urgency', limit: 100 })}`, { signal });
  // The list has no addresses: load each order (a technician has a handful).
  const details = await Promise.all(list.items.map((w) => get(`/api/work-orders/${w.id}`, { signal }).catch(() => w)));
  mount(root, h('div', { class: 'my', testid: 'my-list' },
    h('div', { class: 'my-head' }, h('h1', {}, t('my.title')), h('p', { class: 'sub' }, t('my.count', { n: details.length }))),
    details.length ? details.map((wo) => h('article', { class: `my-card sla-edge-${wo.sla}`, testid: `wo-card-${wo.id}` },
      h('a', { class: 'my-card-main', href: `#/my/${wo.id}`, testid: `open-${wo.id}` },
        h('div', { class: 'wo-card-top' }, h('span', { class: 'wo-id' }, `#${wo.id}`), priorityChip(wo.priority), slaChip(wo.sla), stateChip(wo.state)),
        h('div', { class: 'my-title' }, tEnum('fault', wo.fault_kind), ' · ', h('code', {}, wo.device_id)),
        h('div', { class: 'my-addr' }, wo.site?.address || wo.site_id),
        wo.customer ? h('div', { class: 'muted' }, wo.customer.name) : null,
        h('div', { class: 'muted small' }, t('wo.created'), ' ', age(wo.created_at), ' · ', t('wo.due'), ' ', fmtDateTime(wo.due_at))),
      contactButtons(wo)))
      : h('div', { class: 'empty big' }, t('my.none'))));
}

export async function myOrderView(root, { params, signal }) {
  const id = params[0];
  const ctx = {};
  const alertHost = h('div');
  async function fetchOrder() {
    const res = await request('GET', `/api/work-orders/${id}`, { signal });
    ctx.wo = res.data;
    ctx.etag = res.etag;
  }
  await fetchOrder();
  const devices = (await get(`/api/sites/${encodeURIComponent(ctx.wo.site_id)}/devices`, { signal }).catch(() => ({ items: [] }))).items;
  const reload = async () => { await fetchOrder(); draw(); };
  const fail = (e) => mount(alertHost, e.conflict ? conflictAlert(e.message, reload) : h('div', { class: 'alert alert-error', role: 'alert' }, errorText(e)));

  function draw() {
    const wo = ctx.wo;
    const dev = devices.find((d) => d.device_id === wo.device_id);
    const open = !['closed', 'cancelled'].includes(wo.state);
    const moves = stateButtons(ctx, { onDone: reload, onError: fail, big: true });
    mount(root, h('div', { class: 'my my-detail', testid: 'my-order' },
      h('a', { class: 'back', href: '#/my' }, '← ', t('my.title')),
      h('div', { class: 'wo-card-top' }, h('span', { class: 'wo-id' }, `#${wo.id}`), priorityChip(wo.priority), slaChip(wo.sla), h('span', { testid: 'wo-state' }, stateChip(wo.state))),
      h('h1', {}, tEnum('fault', wo.fault_kind)),
      h('p', { class: 'sub' }, wo.summary),
      alertHost,
      moves ? h('section', { class: 'my-section' }, moves) : null,
      h('section', { class: 'my-section' }, h('h2', {}, t('my.where')),
        h('div', { class: 'my-addr big' }, wo.site?.address || wo.site_id),
        wo.customer ? h('div', {}, wo.customer.name, wo.customer.phone ? [' · ', h('a', { href: tel(wo.customer.phone) }, wo.customer.phone)] : null) : h('div', { class: 'alert alert-warn' }, t('wo.site_unassigned')),
        contactButtons(wo)),
      h('section', { class: 'my-section' }, h('h2', {}, t('my.device')),
        kv([
          [t('dev.id'), h('code', {}, wo.device_id)],
          dev ? [t('dev.vendor'), `${dev.vendor} ${dev.model}`] : null,
          dev ? [t('dev.serial'), h('code', {}, dev.serial)] : null,
          dev ? [t('dev.firmware'), dev.firmware] : null,
          [t('wo.created'), fmtDateTime(wo.created_at)],
          [t('wo.due'), fmtDateTime(wo.due_at)],
        ]),
        (wo.evidence || []).length ? h('details', { class: 'more' }, h('summary', {}, t('wo.evidence'), ` (${fmtNumber(wo.evidence.length)})`), evidenceTable(wo), faultChart(wo, wo.site?.time_zone, signal)) : null),
      open ? h('section', { class: 'my-section' }, h('h2', {}, t('notes.record')), noteForm(wo, devices, reload)) : null,
      h('section', { class: 'my-section' }, documentsCard('work-orders', wo.id, { writers: open ? ['technician'] : [], capture: true, signal })),
      open ? h('section', { class: 'my-section' }, h('h2', {}, t('ticket.title')), ticketActions(wo, { big: true }) || h('p', { class: 'muted' }, t('wo.no_ticket'))) : null,
      h('section', { class: 'my-section' }, h('h2', {}, t('notes.title')), notesList(wo))));
  }
  draw();
}
