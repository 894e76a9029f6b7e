// One work order for the back office: facts, assign a technician, change state, evidence, the device's readings
// around the fault, notes with parts replaced, history, customer and site.
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDateTime, fmtDuration } from '../i18n.js';
import { request, get } from '../api.js';
import { pageHeader, card, kv, canEdit, stateChip, priorityChip, slaChip, severityChip, age, toast, errorText, busy, mapLinks } from '../ui.js';
import { stateButtons, evidenceTable, faultChart, historyList, notesList, noteForm, ticketActions, patchOrder, conflictAlert } from '../wo-common.js';
import { documentsCard } from '../documents.js';

export async function workOrderView(root, { params, signal }) {
  const id = params[0];
  const ctx = {};
  async function fetchOrder() {
    const res = await request('GET', `/api/work-orders/${id}`, { signal });
    ctx.wo = res.data;
    ctx.etag = res.etag;
  }
  await fetchOrder();
  const [users, devices] = await Promise.all([
    canEdit() ? get('/api/users', { signal }).catch(() => null) : null,
    get(`/api/sites/${encodeURIComponent(ctx.wo.site_id)}/devices`, { signal }).catch(() => ({ items: [] })),
  ]);
  const techs = (users?.items || []).filter((u) => u.role === 'technician' && !u.disabled);
  const alertHost = h('div', { testid: 'wo-alert' });
  const reload = async () => { await fetchOrder(); draw(); };
  const fail = (e) => {
    if (e.conflict) mount(alertHost, conflictAlert(e.message, reload));
    else mount(alertHost, h('div', { class: 'alert alert-error', role: 'alert' }, errorText(e)));
  };
  const chartHost = h('div');

  function actionsCard() {
    const wo = ctx.wo;
    if (!canEdit()) return card(t('wo.actions'), h('p', { class: 'muted', testid: 'read-only' }, t('wo.read_only')));
    const canAssign = ['new', 'assigned', 'in_progress'].includes(wo.state);
    let assign = null;
    if (canAssign) {
      const sel = h('select', { testid: 'assign-select', 'aria-label': t('wo.technician') },
        h('option', { value: '' }, t('wo.choose_technician')),
        techs.map((u) => h('option', { value: u.name, selected: u.name === wo.assignee }, u.display_name ? `${u.display_name} (${u.name})` : u.name)));
      const btn = h('button', { class: 'btn btn-primary', type: 'button', testid: 'assign-submit' }, wo.assignee ? t('wo.reassign') : t('wo.assign'));
      btn.addEventListener('click', () => busy(btn, async () => {
        if (!sel.value || sel.value === wo.assignee) { sel.focus(); return; }
        try {
          const res = await patchOrder(ctx, { assignee: sel.value });
          toast(t('wo.assigned_to', { name: sel.value }), 'success');
          ctx.etag = res.etag;
          await reload();
        } catch (e) { fail(e); }
      }));
      assign = h('div', { class: 'assign' }, h('label', { class: 'field-label' }, t('wo.technician')), h('div', { class: 'inline' }, sel, btn));
    }
    const moves = stateButtons(ctx, { onDone: reload, onError: fail });
    // Due date: the back office may move it (the rules only ever bring it forward on escalation).
    let dueEdit = null;
    if (canEdit() && !['closed', 'cancelled'].includes(wo.state)) {
      const pad = (n) => String(n).padStart(2, '0');
      const d = new Date(Date.parse(wo.due_at));
      const input = h('input', { type: 'datetime-local', testid: 'due-input', 'aria-label': t('wo.due'),
        value: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}` });
      const btn = h('button', { class: 'btn', type: 'button', testid: 'due-submit' }, t('wo.set_due'));
      btn.addEventListener('click', () => busy(btn, async () => {
        const ms = Date.parse(input.value);
        if (Number.isNaN(ms)) { input.focus(); return; }
        try {
          const res = await patchOrder(ctx, { due_at: new Date(ms).toISOString() });
          ctx.etag = res.etag;
          toast(t('wo.due_set'), 'success');
          await reload();
        } catch (e) { fail(e); }
      }));
      dueEdit = h('div', { class: 'assign' }, h('label', { class: 'field-label' }, t('wo.due')), h('div', { class: 'inline' }, input, btn));
    }
    return card(t('wo.actions'), [assign, dueEdit, moves ? [h('div', { class: 'field-label' }, t('wo.change_state')), moves] : null,
      !assign && !moves ? h('p', { class: 'muted' }, t('wo.final')) : null,
      ticketActions(wo)], { testid: 'wo-actions' });
  }

  function draw() {
    const wo = ctx.wo;
    const due = Date.parse(wo.due_at);
    const open = !['closed', 'cancelled'].includes(wo.state);
    const dueText = open ? (due < Date.now() ? t('wo.overdue_by', { d: fmtDuration(Date.now() - due) }) : t('wo.due_in', { d: fmtDuration(due - Date.now()) })) : '';
    const site = wo.site || { site_id: wo.site_id };
    const m = mapLinks(site);
    mount(chartHost, faultChart(wo, site.time_zone, signal));
    mount(root,
      h('a', { class: 'back', href: '#/work-orders' }, '← ', t('wo.board_title')),
      pageHeader(h('span', {}, `#${wo.id} · `, tEnum('fault', wo.fault_kind)), wo.summary,
        h('div', { class: 'chips', testid: 'wo-chips' }, h('span', { testid: 'wo-state' }, stateChip(wo.state)), priorityChip(wo.priority), slaChip(wo.sla), severityChip(wo.severity))),
      alertHost,
      h('div', { class: 'detail' },
        h('div', { class: 'detail-main' },
          card(t('wo.facts'), kv([
            [t('wo.site'), h('span', {}, site.name ? `${site.name} ` : '', h('code', {}, wo.site_id))],
            [t('wo.device'), h('code', {}, wo.device_id)],
            [t('wo.fault_kind'), tEnum('fault', wo.fault_kind)],
            [t('wo.created'), `${fmtDateTime(wo.created_at)} (${t('wo.ago', { d: age(wo.created_at) })})`],
            [t('wo.due'), h('span', { class: open && due < Date.now() ? 'overdue' : '' }, fmtDateTime(wo.due_at), dueText ? ` · ${dueText}` : '')],
            [t('wo.assignee'), wo.assignee || h('span', { class: 'muted' }, t('wo.unassigned'))],
            [t('wo.ticket'), wo.ticket_id ? h('code', {}, wo.ticket_id) : t('wo.no_ticket')],
            [t('wo.condition'), wo.condition_cleared ? `${t('wo.cleared')}${wo.cleared_at ? ` · ${fmtDateTime(wo.cleared_at)}` : ''}` : t('wo.active')],
            wo.reopen_count ? [t('wo.reopened'), String(wo.reopen_count)] : null,
            wo.closed_at ? [t('wo.closed_at'), `${fmtDateTime(wo.closed_at)}${wo.close_reason ? ` · ${wo.close_reason}` : ''}`] : null,
          ]), { testid: 'wo-facts' }),
          card(t('wo.evidence'), evidenceTable(wo)),
          card(t('chart.readings_title'), [chartHost, h('p', { class: 'hint' }, t('chart.readings_hint'))]),
          card(t('notes.title'), [notesList(wo), canEdit() && open ? [h('h4', {}, t('notes.record')), noteForm(wo, devices.items, reload)] : null], { testid: 'wo-notes-card' }),
          documentsCard('work-orders', wo.id, { writers: ['admin', 'back_office'], signal })),
        h('aside', { class: 'detail-side' },
          actionsCard(),
          card(t('wo.customer'), wo.customer ? kv([
            [t('cust.name'), h('a', { href: `#/customers/${wo.customer.id}` }, wo.customer.name)],
            [t('cust.phone'), wo.customer.phone ? h('a', { href: `tel:${wo.customer.phone.replace(/\s/g, '')}` }, wo.customer.phone) : null],
            [t('cust.email'), wo.customer.email ? h('a', { href: `mailto:${wo.customer.email}` }, wo.customer.email) : null],
          ]) : h('div', { class: 'alert alert-warn' }, t('wo.site_unassigned'))),
          card(t('wo.site'), kv([
            [t('site.name'), site.name || '—'],
            [t('cust.address'), site.address || '—'],
            [t('site.time_zone'), site.time_zone || '—'],
            m.usable ? [t('site.map'), h('span', { class: 'links' }, h('a', { href: m.web, target: '_blank', rel: 'noopener' }, t('site.open_map')), ' · ', h('a', { href: m.geo }, 'geo:'))] : null,
          ])),
          card(t('wo.history'), historyList(wo)))));
  }
  draw();
}
