// Shared building blocks: chips, tables, page headers, toasts, loading and error states, role checks.
import { h } from './dom.js';
import { t, tEnum, fmtDuration } from './i18n.js';
import { getSession, ApiError } from './api.js';

export const role = () => getSession()?.role || '';
export const canEdit = () => ['admin', 'back_office'].includes(role());
export const isTech = () => role() === 'technician';

export function chip(kind, value, extra = {}) {
  return h('span', { class: `chip chip-${kind} chip-${kind}-${value}`, ...extra }, tEnum(kind, value));
}
export const stateChip = (v) => chip('state', v);
export const priorityChip = (v) => chip('priority', v);
export const severityChip = (v) => chip('severity', v);
export function slaChip(v) {
  return h('span', { class: `chip sla sla-${v}`, title: t('sla.title') }, h('i', { class: 'dot' }), tEnum('sla', v));
}

export function age(iso) {
  return fmtDuration(Date.now() - Date.parse(iso));
}

export function pageHeader(title, sub, ...actions) {
  return h('div', { class: 'page-head' },
    h('div', {}, h('h1', {}, title), sub ? h('p', { class: 'sub' }, sub) : null),
    h('div', { class: 'actions' }, actions));
}

export function card(title, body, extra = {}) {
  const { actions, class: cls, testid } = extra;
  return h('section', { class: ['card', cls], testid },
    title || actions ? h('header', { class: 'card-head' }, h('h2', {}, title), actions ? h('div', { class: 'actions' }, actions) : null) : null,
    h('div', { class: 'card-body' }, body));
}

/** columns: [{label, value: row => node|string, class, sortKey}] */
export function table(rows, columns, { onRow, empty, testid, rowTestid } = {}) {
  if (!rows.length) return h('div', { class: 'empty' }, empty || t('common.none'));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'table', testid },
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { class: c.class }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', {
      class: onRow ? 'clickable' : '',
      testid: rowTestid ? rowTestid(r) : undefined,
      onClick: onRow ? (ev) => { if (!ev.target.closest('a,button,input,select')) onRow(r); } : undefined,
    }, columns.map((c) => h('td', { class: c.class }, c.value(r))))))));
}

export function loading() {
  return h('div', { class: 'loading', role: 'status' }, h('span', { class: 'spinner' }), t('common.loading'));
}

export function errorText(e) {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('error.network');
    if (e.status === 412) return t('error.conflict');
    if (e.status === 403) return `${t('error.forbidden')} ${e.message || ''}`.trim();
    if (e.status === 404) return `${t('error.not_found')} ${e.message || ''}`.trim();
    return e.message || t('error.generic');
  }
  return e?.message || t('error.generic');
}

export function errorBox(e, retry) {
  return h('div', { class: 'alert alert-error', role: 'alert' }, h('span', {}, errorText(e)),
    retry ? h('button', { class: 'btn btn-small', type: 'button', onClick: retry }, t('common.retry')) : null);
}

let toastHost = null;
export function toast(message, kind = 'info') {
  if (!toastHost) { toastHost = h('div', { class: 'toasts', 'aria-live': 'polite' }); document.body.append(toastHost); }
  const el = h('div', { class: `toast toast-${kind}`, testid: `toast-${kind}` }, message);
  toastHost.append(el);
  setTimeout(() => { el.classList.add('out'); setTimeout(() => el.remove(), 300); }, kind === 'error' ? 7000 : 3500);
}

/** Form field with label; input may be any element. */
export function field(label, input, hint) {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), input, hint ? h('span', { class: 'field-hint' }, hint) : null);
}

/** Marks the input named in a problem+json `field` as invalid. */
export function showFieldError(form, e) {
  for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
  if (e instanceof ApiError && e.field) {
    const el = form.querySelector(`[name="${CSS.escape(e.field)}"]`);
    if (el) { el.classList.add('invalid'); el.focus(); }
  }
}

export function button(label, onClick, { kind = 'secondary', testid, type = 'button', disabled, title } = {}) {
  return h('button', { class: `btn btn-${kind}`, type, onClick, testid, disabled, title }, label);
}

/** Disables a button while an async action runs. */
export async function busy(btn, fn) {
  btn.disabled = true;
  btn.classList.add('is-busy');
  try { return await fn(); } finally { btn.disabled = false; btn.classList.remove('is-busy'); }
}

export function kv(pairs) {
  return h('dl', { class: 'kv' }, pairs.filter(Boolean).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v ?? '—')]));
}

/** Links to maps: geo: URI for phones and an https map link, from coordinates or the address. */
export function mapLinks(site) {
  const hasCoords = site && site.latitude != null && site.longitude != null;
  const geo = hasCoords ? `geo:${site.latitude},${site.longitude}` : `geo:0,0?q=${encodeURIComponent(site?.address || '')}`;
  const web = hasCoords
    ? `https://www.openstreetmap.org/?mlat=${site.latitude}&mlon=${site.longitude}#map=17/${site.latitude}/${site.longitude}`
    : `https://www.openstreetmap.org/search?query=${encodeURIComponent(site?.address || '')}`;
  return { geo, web, usable: hasCoords || !!site?.address };
}
