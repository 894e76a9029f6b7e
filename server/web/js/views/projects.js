// Projects (docs/projects.md): the board — a column per stage, cards coloured by their deadline (green on time,
// yellow in the last quarter of a milestone's window, red overdue), filters kept in the URL (#/projects?manager=pm)
// — and a project's detail with its milestones (mark one done; the stage follows) and its timeline. Project
// managers see their own projects, sales reps those of the leads they converted (the server filters). The detail
// also shows the contract: its total, the payment plan with each instalment's state, the payments, and for the
// back office a form that records a payment (amounts travel as integer minor units; docs/projects.md).
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDateTime, fmtDate } from '../i18n.js';
import { get, request, qs } from '../api.js';
import { pageHeader, card, table, chip, kv, loading, errorBox, errorText, toast, field, busy, role, canEdit, showFieldError } from '../ui.js';
import { getLang } from '../i18n.js';
import { importCard } from '../import.js';
import { documentsCard } from '../documents.js';

const canWrite = () => ['admin', 'back_office', 'project_manager'].includes(role());

function colourChip(colour, extra = {}) {
  return h('span', { class: `chip chip-colour chip-colour-${colour}`, ...extra }, h('i', { class: 'dot' }), tEnum('colour', colour));
}

function stageTitle(key, fallback) {
  const k = `stage.${key}`;
  const text = t(k);
  return text === k ? fallback || key : text;
}

export async function projectBoardView(root, { signal, query }) {
  const filters = { manager: query.get('manager') || '', region: query.get('region') || '', stage: query.get('stage') || '' };
  const inputs = Object.fromEntries(Object.entries(filters).map(([k, v]) =>
    [k, h('input', { name: k, value: v, testid: `project-filter-${k}`, placeholder: t('common.all') })]));
  const apply = () => {
    const params = new URLSearchParams();
    for (const [k, el] of Object.entries(inputs)) if (el.value.trim()) params.set(k, el.value.trim());
    location.hash = `#/projects${params.toString() ? `?${params}` : ''}`;
  };
  for (const el of Object.values(inputs)) el.addEventListener('change', apply);
  const body = h('div', { testid: 'project-board' }, loading());
  mount(root,
    pageHeader(t('projects.title'), t('projects.subtitle')),
    h('div', { class: 'toolbar' },
      role() === 'project_manager' ? null : field(t('projects.manager'), inputs.manager),
      field(t('projects.region'), inputs.region), field(t('projects.stage'), inputs.stage)),
    body,
    // Moving over from a spreadsheet: projects with their milestone dates, past ones too (all or nothing).
    ['admin', 'back_office'].includes(role()) ? importCard({
      path: '/api/projects/import', testid: 'project-import', onDone: () => load(),
      summary: (r) => t('import.projects_done', { rows: r.rows, created: r.projects_created }),
    }) : null);
  async function load() {
    try {
      const board = await get(`/api/projects/board${qs(filters)}`, { signal });
      const counts = h('div', { class: 'chips', testid: 'project-counts' },
        ['green', 'yellow', 'red'].map((c) => colourChip(c, { title: String(board.counts[c]) })).map((el, i) => {
          el.append(` ${board.counts[['green', 'yellow', 'red'][i]]}`);
          return el;
        }));
      const columns = board.columns.map((col) => h('section', { class: 'kanban-col', testid: `project-col-${col.stage}` },
        h('h2', {}, stageTitle(col.stage, col.title), h('span', { class: 'muted' }, ` ${col.cards.length}`)),
        col.cards.map((c) => h('a', { class: `kanban-card kanban-${c.colour}`, href: `#/projects/${c.id}`, testid: `project-card-${c.id}`, 'data-colour': c.colour },
          h('div', { class: 'strong' }, c.name),
          h('div', { class: 'muted' }, [c.manager || t('projects.no_manager'), c.region].filter(Boolean).join(' · ')),
          c.next ? h('div', {}, c.next.title, c.next.deadline ? h('span', { class: 'muted' }, ` · ${fmtDate(c.next.deadline)}`) : null) : null,
          colourChip(c.colour)))));
      mount(body, counts, h('div', { class: 'kanban' }, columns));
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(body, errorBox(e, load));
    }
  }
  await load();
}

function timelineRow(e) {
  const what = {
    touch: () => `${tEnum('touch_kind', e.touch)} · ${tEnum('touch_outcome', e.outcome)} · ${e.by}${e.notes ? ` — ${e.notes}` : ''}`,
    inquiry: () => `${tEnum('lead_source', e.source)}${e.message ? ` — ${e.message}` : ''}`,
    milestone_done: () => `${e.title}${e.by ? ` · ${e.by === 'system:handover' ? t('timeline.by_handover') : e.by}` : ''}${e.planned_on && e.planned_on !== e.at ? ` (${t('timeline.planned')} ${fmtDate(e.planned_on)})` : ''}`,
    milestone_planned: () => e.title,
    first_production: () => `${e.site_id} · ${e.device_id} · ${Math.round(e.power_w)} W → ${t('timeline.commissioned_on')} ${fmtDate(e.commissioned_on)}`,
    payment: () => `${fmtMoney(e.amount, e.currency)} · ${tEnum('payment_method', e.method)}`,
    instalment_due: () => `${e.label} · ${fmtMoney(e.amount, e.currency)} · ${tEnum('instalment_state', e.state)}`,
    work_order_closed: () => h('a', { href: `#/work-orders/${e.work_order_id}` }, `#${e.work_order_id} ${e.summary} (${tEnum('state', e.state)})`),
    reminder: () => `${e.rule} · ${t(e.level === 1 ? 'projects.reminded' : 'projects.escalated')} ${e.recipients.join(', ')}`,
    work_order: () => h('a', { href: `#/work-orders/${e.work_order_id}` }, `#${e.work_order_id} ${e.summary} (${tEnum('state', e.state)})`),
  }[e.kind];
  return { when: e.at.length === 10 ? fmtDate(e.at) : fmtDateTime(e.at), kind: t(`timeline.${e.kind}`), what: what ? what() : '' };
}

// The digits of a currency's minor unit (EUR 2, JPY 0), from the browser's ISO 4217 table.
function minorDigits(currency) {
  try { return new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits; } catch { return 2; }
}

// Integer minor units as money: exact, by string, never through a float's rounding of a big amount.
export function fmtMoney(minor, currency) {
  if (minor === null || minor === undefined) return '—';
  const digits = minorDigits(currency);
  const negative = minor < 0;
  const text = String(Math.abs(minor)).padStart(digits + 1, '0');
  const major = text.slice(0, text.length - digits) || '0';
  const fraction = digits ? text.slice(text.length - digits) : '';
  const grouped = new Intl.NumberFormat(getLang(), { useGrouping: true, maximumFractionDigits: 0 }).format(BigInt(major));
  const decimal = new Intl.NumberFormat(getLang()).formatToParts(1.5).find((x) => x.type === 'decimal')?.value || '.';
  return `${negative ? '−' : ''}${grouped}${digits ? decimal + fraction : ''} ${currency}`;
}

// "3750.5" or "3750,50" in major units → minor units (an integer), or null when it is not such a number.
export function parseMoney(text, currency) {
  const digits = minorDigits(currency);
  const m = /^\s*(\d{1,13})(?:[.,](\d*))?\s*$/.exec(text);
  if (!m || (m[2] || '').length > digits) return null;
  return Number(m[1]) * 10 ** digits + Number((m[2] || '').padEnd(digits, '0') || 0);
}

// The contract's signed PDF: one of the project's documents of category signed_contract (docs/documents.md).
function signedPdfForm(c, id, reload) {
  const select = h('select', { testid: 'contract-signed-select', 'aria-label': t('contracts.signed_pdf') }, h('option', { value: '' }, '—'));
  const save = h('button', { class: 'btn btn-secondary', type: 'button', testid: 'contract-signed-save' }, t('common.save'));
  get(`/api/projects/${id}/documents`).then((res) => {
    for (const d of (res.items || []).filter((x) => x.category === 'signed_contract' && x.media_type === 'application/pdf'))
      select.append(h('option', { value: String(d.id), selected: d.id === c.signed_document_id }, `${d.file_name} · ${fmtDate(d.uploaded_at)}`));
  }).catch(() => {});
  save.addEventListener('click', () => busy(save, async () => {
    try {
      await request('PATCH', `/api/projects/${id}/contract`, { body: { signed_document_id: select.value ? Number(select.value) : null }, ifMatch: `"v${c.version}"` });
      toast(t('common.saved'), 'success');
      await reload();
    } catch (e) { toast(errorText(e), 'error'); }
  }));
  return h('div', { class: 'inline', testid: 'contract-signed-form' }, h('label', { class: 'field-label' }, t('contracts.signed_pdf')), select, save);
}

function contractCard(c, id, reload, milestones) {
  const titleOf = (key) => milestones.find((m) => m.key === key)?.title || key;
  const money = (v) => fmtMoney(v, c.currency);
  const facts = kv([
    [t('contracts.number'), h('strong', { testid: 'contract-number' }, c.number)],
    [t('contracts.status'), chip('contract_status', c.status)],
    [t('contracts.signed_on'), c.signed_on ? fmtDate(c.signed_on) : null],
    [t('contracts.signed_pdf'), c.signed_document_id
      ? h('a', { href: `/api/documents/${c.signed_document_id}/content`, download: '', testid: 'contract-signed-pdf' }, t('contracts.signed_pdf_download'))
      : h('span', { class: 'muted' }, t('contracts.signed_pdf_none'))],
    [t('contracts.total'), h('span', { testid: 'contract-total' }, money(c.total))],
    [t('contracts.paid'), h('span', { testid: 'contract-paid' }, money(c.summary.paid))],
    [t('contracts.outstanding'), money(c.summary.outstanding)],
    [t('contracts.overdue'), c.summary.overdue ? h('strong', { class: 'text-danger' }, money(c.summary.overdue)) : money(0)],
    c.summary.unallocated ? [t('contracts.unallocated'), money(c.summary.unallocated)] : null,
    c.summary.unplanned ? [t('contracts.unplanned'), money(c.summary.unplanned)] : null,
  ]);
  const instalments = table(c.instalments, [
    { label: t('contracts.instalment'), value: (i) => i.label },
    { label: t('contracts.amount'), value: (i) => `${money(i.amount)}${i.percent ? ` (${i.percent} %)` : ''}`, class: 'nowrap' },
    { label: t('contracts.due'), value: (i) => (i.due_on ? fmtDate(i.due_on) : t('contracts.after_milestone', { milestone: titleOf(i.after_milestone), days: i.days })), class: 'nowrap' },
    { label: t('contracts.paid'), value: (i) => money(i.paid), class: 'nowrap' },
    { label: '', value: (i) => chip('instalment_state', i.state, { testid: `instalment-state-${i.id}` }) },
  ], { testid: 'contract-instalments', rowTestid: (i) => `instalment-${i.id}`, empty: t('contracts.no_plan') });
  const payments = table(c.payments, [
    { label: t('contracts.paid_on'), value: (p) => fmtDate(p.paid_on), class: 'nowrap' },
    { label: t('contracts.amount'), value: (p) => money(p.amount), class: 'nowrap' },
    { label: t('contracts.method'), value: (p) => tEnum('payment_method', p.method) },
    { label: t('contracts.reference'), value: (p) => p.reference || '—' },
  ], { testid: 'contract-payments', empty: t('contracts.no_payments') });
  const parts = [facts, h('h3', {}, t('contracts.plan')), instalments, h('h3', {}, t('contracts.payments')), payments];
  if (canEdit() && c.status !== 'cancelled') parts.push(signedPdfForm(c, id, reload), paymentForm(c, id, reload));
  return card(t('contracts.title'), h('div', { testid: 'project-contract' }, parts));
}

function paymentForm(c, id, reload) {
  const input = (name, attrs = {}) => h('input', { name, testid: `payment-${name}`, ...attrs });
  const inputs = {
    paid_on: input('paid_on', { type: 'date', value: new Date().toISOString().slice(0, 10), required: true }),
    amount: input('amount', { inputmode: 'decimal', required: true, placeholder: '0.00' }),
    method: h('select', { name: 'method', testid: 'payment-method' },
      ['bank_transfer', 'card', 'cash', 'financing', 'other'].map((m) => h('option', { value: m }, tEnum('payment_method', m)))),
    reference: input('reference', { maxlength: 200 }),
  };
  const submit = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'payment-submit' }, t('contracts.record_payment'));
  const form = h('form', { testid: 'payment-form' },
    h('div', { class: 'form-grid' },
      field(t('contracts.paid_on'), inputs.paid_on), field(`${t('contracts.amount')} (${c.currency})`, inputs.amount),
      field(t('contracts.method'), inputs.method), field(t('contracts.reference'), inputs.reference)),
    h('div', { class: 'form-actions' }, submit));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const amount = parseMoney(inputs.amount.value, c.currency);
    if (amount === null || amount <= 0) {
      inputs.amount.classList.add('invalid');
      toast(t('contracts.bad_amount'), 'error');
      return;
    }
    busy(submit, async () => {
      try {
        await request('POST', `/api/projects/${id}/payments`, { body: {
          paid_on: inputs.paid_on.value, amount, currency: c.currency, method: inputs.method.value, reference: inputs.reference.value } });
        toast(t('contracts.payment_recorded'), 'success');
        reload();
      } catch (e) { showFieldError(form, e); toast(errorText(e), 'error'); }
    });
  });
  return h('div', {}, h('h3', {}, t('contracts.record_payment')), form);
}

async function loadContract(id, signal) {
  try {
    const { data } = await request('GET', `/api/projects/${id}/contract`, { signal });
    return data;
  } catch (e) {
    if (e.status === 404) return null;
    throw e;
  }
}

// A milestone's owner and dates — planned and done, also in the past (projects moved over from a spreadsheet);
// an empty done date reopens it. Sent with the milestone's version, so a change made meanwhile is not overwritten.
function milestoneEditForm(projectId, milestones, reload) {
  const pick = h('select', { name: 'milestone', testid: 'milestone-edit-pick' },
    milestones.map((m) => h('option', { value: String(m.id) }, `${stageTitle(m.stage)} · ${m.title}`)));
  const owner = h('input', { name: 'owner', testid: 'milestone-edit-owner', maxlength: 64 });
  const planned = h('input', { name: 'planned_on', type: 'date', testid: 'milestone-edit-planned' });
  const done = h('input', { name: 'done_on', type: 'date', testid: 'milestone-edit-done' });
  // Reminders wait until the end of this day (the owner is on it; docs/projects.md "Reminders").
  const snooze = h('input', { name: 'snoozed_until', type: 'date', testid: 'milestone-edit-snooze' });
  const snoozeDay = (iso) => (iso ? iso.slice(0, 10) : '');
  const fill = () => {
    const m = milestones.find((x) => String(x.id) === pick.value);
    owner.value = m?.owner || '';
    planned.value = m?.planned_on || '';
    done.value = m?.done_on || '';
    snooze.value = snoozeDay(m?.snoozed_until);
  };
  pick.addEventListener('change', fill);
  fill();
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'milestone-edit-save' }, t('common.save'));
  const form = h('form', {
    class: 'form', testid: 'milestone-edit',
    onSubmit: (ev) => {
      ev.preventDefault();
      const m = milestones.find((x) => String(x.id) === pick.value);
      if (!m) return;
      const body = {};
      if ((owner.value.trim() || null) !== (m.owner || null)) body.owner = owner.value.trim() || null;
      if ((planned.value || null) !== (m.planned_on || null)) body.planned_on = planned.value || null;
      if ((done.value || null) !== (m.done_on || null)) body.done_on = done.value || null;
      if (snooze.value !== snoozeDay(m.snoozed_until)) body.snoozed_until = snooze.value ? new Date(`${snooze.value}T23:59:59`).toISOString() : null;
      if (!Object.keys(body).length) { toast(t('projects.nothing_changed'), 'info'); return; }
      busy(save, async () => {
        try {
          await request('PATCH', `/api/projects/${projectId}/milestones/${m.id}`, { body, ifMatch: `"v${m.version}"` });
          toast(t('common.saved'), 'success');
          reload();
        } catch (e) { showFieldError(form, e); toast(errorText(e), 'error'); }
      });
    },
  },
  h('div', { class: 'form-grid' }, field(t('projects.milestone'), pick), field(t('projects.owner'), owner),
    field(t('projects.planned'), planned), field(t('projects.done'), done), field(t('projects.snoozed_until'), snooze)),
  h('div', { class: 'form-actions' }, save));
  return h('details', { class: 'milestone-edit' }, h('summary', { testid: 'milestone-edit-open' }, t('projects.edit_milestone')), form);
}

export async function projectView(root, { signal, params }) {
  const id = params[0];
  async function markDone(m, btn) {
    await busy(btn, async () => {
      try {
        const today = new Date().toISOString().slice(0, 10);
        await request('PATCH', `/api/projects/${id}/milestones/${m.id}`, { body: { done_on: today }, ifMatch: `"v${m.version}"` });
        toast(t('common.saved'), 'success');
        load();
      } catch (e) { toast(errorText(e), 'error'); load(); }
    });
  }
  // A milestone's checklist: ticked in place (the whole list sent with the milestone's version); the documents
  // its template asks for listed beside it.
  function checklistCell(m) {
    const items = m.checklist || [];
    const missing = new Set(m.documents_missing || []);
    const docs = (m.required_documents || []).map((d) => h('span', {
      class: `chip ${missing.has(d) ? 'chip-doc-missing' : 'chip-doc-present'}`, testid: `milestone-doc-${m.key}-${d}`,
      'data-missing': missing.has(d) ? '1' : '0', title: missing.has(d) ? t('projects.document_missing') : t('projects.document_present'),
    }, `${missing.has(d) ? '✗' : '✓'} ${tEnum('doc_category', d)}`));
    if (!items.length && !docs.length) return '—';
    const boxes = items.map((c, i) => {
      const box = h('input', { type: 'checkbox', checked: c.done, disabled: !canWrite(), testid: `checklist-${m.key}-${i}` });
      box.addEventListener('change', async () => {
        box.disabled = true;
        const checklist = items.map((x, j) => ({ item: x.item, done: j === i ? box.checked : x.done }));
        try {
          await request('PATCH', `/api/projects/${id}/milestones/${m.id}`, { body: { checklist }, ifMatch: `"v${m.version}"` });
          load();
        } catch (e) { toast(errorText(e), 'error'); load(); }
      });
      return h('label', { class: 'check' }, box, ' ', c.item);
    });
    const done = items.filter((c) => c.done).length;
    return h('details', { class: 'checklist' },
      h('summary', {}, items.length ? `${done}/${items.length}` : t('projects.documents_needed')),
      h('div', { class: 'checklist-items' }, boxes, docs.length ? h('div', { class: 'chips' }, docs) : null));
  }
  async function load() {
    mount(root, loading());
    try {
      const { data: p } = await request('GET', `/api/projects/${id}`, { signal });
      const facts = kv([
        [t('projects.stage'), h('strong', { testid: 'project-stage' }, stageTitle(p.stage))],
        [t('projects.colour'), colourChip(p.colour, { testid: 'project-colour' })],
        [t('projects.customer'), h('a', { href: `#/customers/${p.customer_id}` }, `#${p.customer_id}`)],
        [t('projects.site'), p.site_id || null],
        [t('projects.manager'), p.manager || t('projects.no_manager')],
        [t('projects.sales_rep'), p.sales_rep || null],
        [t('projects.region'), p.region || null],
        [t('projects.started'), fmtDate(p.started_on)],
        [t('projects.lead'), p.lead_id ? h('a', { href: `#/leads/${p.lead_id}` }, `#${p.lead_id}`) : null],
      ]);
      const milestones = table(p.milestones, [
        { label: t('projects.stage'), value: (m) => stageTitle(m.stage) },
        { label: t('projects.milestone'), value: (m) => m.title },
        { label: t('projects.owner'), value: (m) => m.owner || '—' },
        { label: t('projects.planned'), value: (m) => (m.planned_on ? fmtDate(m.planned_on) : '—'), class: 'nowrap' },
        { label: t('projects.done'), value: (m) => (m.done_on ? fmtDate(m.done_on)
          : canWrite() ? h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: `milestone-done-${m.key}`, onClick: (ev) => markDone(m, ev.currentTarget) }, t('projects.mark_done')) : '—'), class: 'nowrap' },
        { label: t('projects.checklist'), value: (m) => checklistCell(m) },
        { label: '', value: (m) => (m.done_on ? chip('colour', 'green') : colourChip(m.colour)) },
      ], { testid: 'project-milestones', rowTestid: (m) => `milestone-${m.key}` });
      const timeline = table(p.timeline.map(timelineRow), [
        { label: t('leads.when'), value: (r) => r.when, class: 'nowrap' },
        { label: t('projects.event'), value: (r) => r.kind },
        { label: '', value: (r) => r.what },
      ], { testid: 'project-timeline', empty: t('projects.no_events') });
      const contract = await loadContract(id, signal);
      mount(root,
        pageHeader(p.name, t('projects.detail_subtitle', { id: p.id }), chip('project_status', p.status)),
        card(t('projects.facts'), facts),
        card(t('projects.milestones'), [milestones, canWrite() ? milestoneEditForm(id, p.milestones, load) : null]),
        contract ? contractCard(contract, id, load, p.milestones) : card(t('contracts.title'), h('p', { class: 'muted', testid: 'project-no-contract' }, t('contracts.none'))),
        documentsCard('projects', p.id, { writers: ['admin', 'back_office', 'sales', 'project_manager'], capture: role() === 'project_manager', signal }),
        card(t('projects.timeline'), timeline));
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(root, errorBox(e, load));
    }
  }
  await load();
}
