// Pieces shared by the back-office work-order page and the technician's view: state moves, notes with parts,
// evidence, the fault-time chart, history, ticket commands.
import { h, mount } from './dom.js';
import { t, tEnum, fmtNumber, fmtDateTime, fmtWith } from './i18n.js';
import { request, get, post, qs } from './api.js';
import { table, toast, errorText, busy, field, role } from './ui.js';
import { lineChart } from './charts.js';
import { serialScanButton } from './documents.js';

// Moves offered per role (the server checks again; docs/workorders.md "States").
const OFFICE_MOVES = {
  new: ['cancelled'],
  assigned: ['in_progress', 'new', 'cancelled'],
  in_progress: ['done', 'cancelled'],
  done: ['closed', 'in_progress', 'cancelled'],
};
const TECH_MOVES = { assigned: ['in_progress'], in_progress: ['done'] };

export function movesFor(wo) {
  const r = role();
  if (r === 'admin' || r === 'back_office') return OFFICE_MOVES[wo.state] || [];
  if (r === 'technician' && wo.assignee) return TECH_MOVES[wo.state] || [];
  return [];
}

/** The label of a move button: "Start work", "Mark done", "Close", ... */
export function moveLabel(from, to) {
  if (to === 'new' && from === 'assigned') return t('move.unassign');
  if (to === 'in_progress' && from === 'done') return t('move.rework');
  return t(`move.${to}`);
}

/** PATCH with If-Match; 412 gives the "changed meanwhile" message. Returns the new ETag and order. */
export async function patchOrder(ctx, body) {
  try {
    const res = await request('PATCH', `/api/work-orders/${ctx.wo.id}`, { body, ifMatch: ctx.etag });
    return res;
  } catch (e) {
    if (e.status === 412) {
      const err = new Error(t('error.conflict'));
      err.conflict = true;
      throw err;
    }
    throw e;
  }
}

export function conflictAlert(message, reload) {
  return h('div', { class: 'alert alert-error', role: 'alert', testid: 'wo-conflict' }, h('span', {}, message), ' ',
    h('button', { class: 'btn btn-small', type: 'button', testid: 'wo-reload', onClick: reload }, t('common.reload')));
}

/** State buttons; a cancel asks for a reason. */
export function stateButtons(ctx, { onDone, onError, big = false } = {}) {
  const moves = movesFor(ctx.wo);
  if (!moves.length) return null;
  return h('div', { class: `state-buttons ${big ? 'big' : ''}` }, moves.map((to) => {
    const kind = to === 'cancelled' ? 'danger-ghost' : to === 'new' || (to === 'in_progress' && ctx.wo.state === 'done') ? 'secondary' : 'primary';
    const btn = h('button', { class: `btn btn-${kind} ${big ? 'btn-lg' : ''}`, type: 'button', testid: `state-btn-${to}` }, moveLabel(ctx.wo.state, to));
    btn.addEventListener('click', () => busy(btn, async () => {
      let reason;
      if (to === 'cancelled' || to === 'closed') {
        reason = window.prompt(to === 'cancelled' ? t('move.cancel_reason') : t('move.close_reason'), '');
        if (reason === null) return;
      }
      try {
        const res = await patchOrder(ctx, reason ? { state: to, reason } : { state: to });
        toast(t('move.done_msg', { state: tEnum('state', res.data.state) }), 'success');
        onDone?.(res);
      } catch (e) { onError?.(e); }
    }));
    return btn;
  }));
}

export function evidenceTable(wo) {
  return table(wo.evidence || [], [
    { label: t('ev.name'), value: (e) => h('code', {}, e.name) },
    { label: t('ev.observed'), value: (e) => `${fmtNumber(e.observed, 2)}${e.unit ? ` ${e.unit}` : ''}`, class: 'num' },
    { label: t('ev.expected'), value: (e) => (e.expected == null ? '—' : `${fmtNumber(e.expected, 2)}${e.unit ? ` ${e.unit}` : ''}`), class: 'num' },
    { label: t('ev.t'), value: (e) => fmtDateTime(e.t), class: 'nowrap' },
  ], { empty: t('ev.none'), testid: 'wo-evidence' });
}

const COLORS = ['var(--chart-1)', 'var(--chart-3)', 'var(--chart-4)', 'var(--chart-5)'];

/** AC power of the device (or every device for a site-wide fault) from created_at − 6 h to + 1 h, raw readings. */
export function faultChart(wo, tz, signal) {
  const host = h('div', { class: 'fault-chart', testid: 'wo-fault-chart' }, h('div', { class: 'skeleton tall' }));
  const created = Date.parse(wo.created_at);
  const from = created - 6 * 3600e3;
  const to = created + 3600e3;
  const device = wo.device_id && wo.device_id !== 'site' ? wo.device_id : null;
  get(`/api/sites/${encodeURIComponent(wo.site_id)}/telemetry${qs({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), resolution: 'raw', device, point: 'ac_power_w' })}`, { signal })
    .then((res) => {
      const byDev = new Map();
      for (const it of res.items || []) {
        const v = it.points?.values?.ac_power_w;
        if (typeof v !== 'number') continue;
        if (!byDev.has(it.device_id)) byDev.set(it.device_id, []);
        byDev.get(it.device_id).push([Date.parse(it.t), v / 1000]);
      }
      const series = [...byDev.entries()].map(([d, pts], i) => ({ label: `${d} · ${t('gen.power')}`, color: COLORS[i % COLORS.length], points: pts.sort((a, b) => a[0] - b[0]), area: byDev.size === 1 }));
      const evT = (wo.evidence || []).map((e) => Date.parse(e.t)).filter(Number.isFinite);
      const markers = [{ x: created, label: t('chart.wo_created'), class: 'm-created' }];
      if (evT.length) markers.push({ x: Math.min(...evT), label: t('chart.evidence'), class: 'm-evidence' });
      const xf = (ms) => fmtWith(ms, { hour: '2-digit', minute: '2-digit', ...(tz ? { timeZone: tz } : {}) });
      mount(host, lineChart({
        series, from, to, markers, xTicks: 7, xFmt: xf,
        yFmt: (v) => `${fmtNumber(v, 2, { min: 0 })} kW`,
        hoverFmt: (p) => `${xf(p[0])} · ${fmtNumber(p[1], 2)} kW`,
        emptyText: t('chart.no_readings'), testid: 'wo-fault-svg',
      }));
    })
    .catch((e) => { if (e.name !== 'AbortError') mount(host, h('div', { class: 'empty' }, errorText(e))); });
  return host;
}

export function historyList(wo) {
  const items = [...(wo.history || [])].reverse();
  if (!items.length) return h('div', { class: 'empty' }, t('common.none'));
  return h('ol', { class: 'timeline', testid: 'wo-history' }, items.map((x) => h('li', {},
    h('span', { class: 'tl-dot' }), h('div', {}, h('div', { class: 'tl-action' }, x.action), h('div', { class: 'tl-meta' }, `${x.actor} · ${fmtDateTime(x.at)}`)))));
}

export function notesList(wo) {
  const notes = [...(wo.notes || [])].reverse();
  if (!notes.length) return h('div', { class: 'empty' }, t('notes.none'));
  return h('ul', { class: 'notes', testid: 'wo-notes' }, notes.map((n) => h('li', { class: 'note' },
    h('div', { class: 'note-meta' }, h('b', {}, n.author), ' · ', fmtDateTime(n.at)),
    h('div', { class: 'pre' }, n.text),
    (n.parts || []).length ? h('ul', { class: 'parts' }, n.parts.map((p) => h('li', {}, p.part,
      p.device_id ? [' — ', h('code', {}, p.device_id)] : null,
      p.new_serial ? [' → ', t('notes.new_serial'), ' ', h('code', {}, p.new_serial)] : null))) : null)));
}

// The new serial: typed, or scanned from its barcode / QR code where the browser can (documents.js).
function serialField(i) {
  const input = h('input', { name: 'new_serial', testid: `part-serial-${i}`, autocomplete: 'off' });
  return field(t('notes.new_serial'), h('div', { class: 'inline' }, input, serialScanButton(input)));
}

/** Form to record a visit: text and parts replaced (part, device, new serial). */
export function noteForm(wo, devices, onSaved) {
  const text = h('textarea', { name: 'text', rows: 4, required: true, testid: 'note-text', placeholder: t('notes.placeholder') });
  const parts = h('div', { class: 'parts-rows', testid: 'note-parts' });
  const err = h('div', { class: 'alert alert-error', hidden: true, testid: 'note-error' });
  const addPart = () => {
    const i = parts.children.length;
    const row = h('div', { class: 'part-row', testid: `part-row-${i}` },
      field(t('notes.part'), h('input', { name: 'part', testid: `part-name-${i}`, placeholder: t('notes.part_placeholder') })),
      field(t('wo.device'), h('select', { name: 'device_id', testid: `part-device-${i}` }, h('option', { value: '' }, '—'),
        devices.map((d) => h('option', { value: d.device_id }, `${d.device_id} · ${d.vendor} ${d.model} (${d.serial})`)))),
      serialField(i),
      h('button', { class: 'btn btn-ghost btn-icon', type: 'button', 'aria-label': t('common.remove'), onClick: () => row.remove() }, '✕'));
    parts.append(row);
    row.querySelector('input').focus();
  };
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'note-submit' }, t('notes.save'));
  const form = h('form', {
    class: 'form note-form', testid: 'note-form',
    onSubmit: async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      if (!text.value.trim()) { text.classList.add('invalid'); text.focus(); return; }
      const list = [];
      for (const row of parts.children) {
        const part = row.querySelector('[name=part]').value.trim();
        const device_id = row.querySelector('[name=device_id]').value;
        const new_serial = row.querySelector('[name=new_serial]').value.trim();
        if (!part && !device_id && !new_serial) continue;
        if (!part) { err.textContent = t('notes.part_required'); err.hidden = false; row.querySelector('[name=part]').classList.add('invalid'); return; }
        if (new_serial && !device_id) { err.textContent = t('notes.device_required'); err.hidden = false; return; }
        list.push({ part, ...(device_id ? { device_id } : {}), ...(device_id && new_serial ? { new_serial } : {}) });
      }
      await busy(submit, async () => {
        try {
          await post(`/api/work-orders/${wo.id}/notes`, { text: text.value.trim(), parts: list });
          toast(t('notes.saved'), 'success');
          onSaved?.();
        } catch (e) { err.textContent = errorText(e); err.hidden = false; }
      });
    },
  },
  field(t('notes.text'), text),
  parts,
  h('div', { class: 'form-actions split' },
    h('button', { class: 'btn btn-ghost', type: 'button', testid: 'note-add-part', onClick: addPart }, '+ ', t('notes.add_part')),
    submit), err);
  return form;
}

/** Acknowledge / resolve the gateway ticket behind the order (a command to the gateway). */
export function ticketActions(wo, { big = false } = {}) {
  if (!wo.ticket_id || !['admin', 'back_office', 'technician'].includes(role())) return null;
  const mk = (action) => {
    const btn = h('button', { class: `btn btn-secondary ${big ? 'btn-lg' : ''}`, type: 'button', testid: `ticket-${action}` }, t(`ticket.${action}`));
    btn.addEventListener('click', () => busy(btn, async () => {
      const note = window.prompt(t('ticket.note_prompt'), '');
      if (note === null) return;
      try {
        await post(`/api/sites/${encodeURIComponent(wo.site_id)}/tickets/${encodeURIComponent(wo.ticket_id)}/${action}`, note ? { note } : {});
        toast(t(`ticket.${action}_sent`), 'success');
      } catch (e) { toast(errorText(e), 'error'); }
    }));
    return btn;
  };
  return h('div', { class: 'ticket-actions' }, h('div', { class: 'muted small' }, t('ticket.label'), ' ', h('code', {}, wo.ticket_id)),
    h('div', { class: `btn-row ${big ? 'stack' : ''}` }, mk('acknowledge'), mk('resolve')), h('p', { class: 'hint' }, t('ticket.hint')));
}
