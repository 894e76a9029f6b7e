// Leads (docs/crm.md): the list with filters kept in the URL (#/leads?overdue=1), score and SLA flag; the detail
// with contact, inquiries, touches and a form to log a touch. Sales reps see their own leads (the server filters).
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDateTime, fmtNumber } from '../i18n.js';
import { get, post, request, qs } from '../api.js';
import { importCard } from '../import.js';
import { pageHeader, card, table, chip, kv, loading, errorBox, errorText, toast, field, showFieldError, busy, role } from '../ui.js';

const PAGE = 50;
const STATUSES = ['new', 'contacted', 'qualified', 'unqualified', 'lost'];  // converted: only by the convert button
const TOUCH_KINDS = ['call', 'visit', 'message', 'email'];
const OUTCOMES = ['reached', 'no_answer', 'left_message', 'scheduled', 'not_interested', 'other'];

const canWrite = () => ['admin', 'back_office', 'sales'].includes(role());
const ROOFS = ['unknown', 'tile', 'metal', 'flat', 'slate', 'shingle', 'other'];
const SOURCES = ['phone', 'walk_in', 'referral', 'website', 'campaign', 'partner', 'other'];

function slaCell(l) {
  if (!l.sla || !l.sla.due_at) return '—';
  return l.sla.overdue
    ? h('span', { class: 'chip chip-sla chip-sla-red', testid: `lead-overdue-${l.id}` }, t('leads.overdue'))
    : h('span', { class: 'muted' }, fmtDateTime(l.sla.due_at));
}

function select(name, values, kind, current, withAll) {
  return h('select', { name, testid: `lead-${name}` },
    withAll ? h('option', { value: '' }, t('common.all')) : null,
    values.map((v) => h('option', { value: v, selected: v === current }, tEnum(kind, v))));
}

export async function leadsView(root, { signal, query }) {
  const filters = { status: query.get('status') || '', overdue: query.get('overdue') === '1', unassigned: query.get('unassigned') === '1' };
  let items = [];
  let cursor = null;
  const list = h('div', { testid: 'lead-list' });
  const more = h('div', { class: 'load-more' });
  const status = select('status', STATUSES, 'lead_status', filters.status, true);
  const overdue = h('input', { type: 'checkbox', testid: 'lead-filter-overdue', checked: filters.overdue });
  const unassigned = h('input', { type: 'checkbox', testid: 'lead-filter-unassigned', checked: filters.unassigned });
  const apply = () => {
    const params = new URLSearchParams();
    if (status.value) params.set('status', status.value);
    if (overdue.checked) params.set('overdue', '1');
    if (unassigned.checked) params.set('unassigned', '1');
    location.hash = `#/leads${params.toString() ? `?${params}` : ''}`;
  };
  for (const el of [status, overdue, unassigned]) el.addEventListener('change', apply);

  function draw() {
    mount(list, table(items, [
      { label: t('leads.name'), value: (l) => h('a', { href: `#/leads/${l.id}`, class: 'strong' }, l.name) },
      { label: t('leads.status'), value: (l) => chip('lead_status', l.status) },
      { label: t('leads.score'), value: (l) => String(l.score), class: 'num' },
      { label: t('leads.region'), value: (l) => l.region || '—' },
      { label: t('leads.assignee'), value: (l) => l.assignee || t('leads.unassigned') },
      { label: t('leads.source'), value: (l) => tEnum('lead_source', l.source) },
      { label: t('leads.due'), value: slaCell, class: 'nowrap' },
    ], { onRow: (l) => { location.hash = `#/leads/${l.id}`; }, empty: t('leads.none'), rowTestid: (l) => `lead-row-${l.id}`, testid: 'lead-table' }));
    mount(more, cursor ? h('button', { class: 'btn btn-secondary', type: 'button', testid: 'load-more', onClick: (ev) => busy(ev.currentTarget, () => load(false)) }, t('common.load_more')) : null);
  }

  async function load(reset) {
    if (reset) mount(list, loading());
    try {
      const page = await get(`/api/leads${qs({
        status: filters.status || null, overdue: filters.overdue ? 1 : null, unassigned: filters.unassigned ? 1 : null,
        limit: PAGE, cursor: reset ? null : cursor })}`, { signal });
      items = reset ? page.items : items.concat(page.items);
      cursor = page.next_cursor;
      draw();
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(list, errorBox(e, () => load(reset)));
    }
  }

  mount(root,
    pageHeader(t('leads.title'), t('leads.subtitle'),
      canWrite() ? h('a', { class: 'btn btn-primary', href: '#/leads/new', testid: 'lead-new' }, t('leads.new')) : null),
    h('div', { class: 'toolbar' },
      field(t('leads.status'), status),
      h('label', { class: 'check' }, overdue, ' ', t('leads.only_overdue')),
      role() === 'sales' ? null : h('label', { class: 'check' }, unassigned, ' ', t('leads.only_unassigned'))),
    h('section', { class: 'card' }, list),
    more,
    // The back office's import of a spreadsheet of leads (all or nothing; a known person attaches).
    ['admin', 'back_office'].includes(role()) ? importCard({
      path: '/api/leads/import', testid: 'lead-import', onDone: () => load(true),
      summary: (r) => t('import.leads_done', { rows: r.rows, created: r.leads_created, attached: r.attached_to_leads + r.attached_to_customers }),
    }) : null);
  await load(true);
}

function touchForm(lead, onSaved) {
  const kind = select('kind', TOUCH_KINDS, 'touch_kind', 'call', false);
  const outcome = select('outcome', OUTCOMES, 'touch_outcome', 'reached', false);
  const notes = h('textarea', { name: 'notes', rows: 2, testid: 'touch-notes' });
  const next = h('input', { name: 'next_step_on', type: 'date', testid: 'touch-next-step' });
  const err = h('div', { class: 'alert alert-error', hidden: true });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'touch-save' }, t('leads.log_touch'));
  const form = h('form', {
    class: 'form',
    onSubmit: async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      await busy(save, async () => {
        try {
          const body = { kind: kind.value, outcome: outcome.value, notes: notes.value.trim() };
          if (next.value) body.next_step_on = next.value;
          await post(`/api/leads/${lead.id}/touches`, body);
          toast(t('leads.touch_saved'), 'success');
          onSaved();
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
          showFieldError(form, e);
        }
      });
    },
  },
  h('div', { class: 'form-grid' }, field(t('leads.touch_kind'), kind), field(t('leads.touch_outcome'), outcome), field(t('leads.next_step'), next)),
  field(t('leads.notes'), notes), err, h('div', { class: 'form-actions' }, save));
  return form;
}

// A number field's value for the API: null when empty, a number, or NaN for text that is none (refused in the
// page before anything is sent).
function numberOrNull(input) {
  const text = input.value.trim().replace(',', '.');
  if (!text) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : NaN;
}

// The back office's (or a rep's) capture of a call or a walk-in: the same route as the website's form, so a
// repeat of a known phone number or e-mail attaches to its lead or customer instead of making a second one.
export async function leadNewView(root) {
  const input = (name, attrs = {}) => h('input', { name, testid: `lead-new-${name}`, ...attrs });
  const f = {
    name: input('name', { required: true, maxlength: 1000 }),
    phone: input('phone', { type: 'tel', autocomplete: 'off' }),
    email: input('email', { type: 'email', autocomplete: 'off' }),
    address: input('address'),
    postcode: input('postcode'),
    region: input('region'),
    monthly_bill: input('monthly_bill', { inputmode: 'decimal' }),
    desired_kwp: input('desired_kwp', { inputmode: 'decimal' }),
    budget: input('budget', { inputmode: 'decimal' }),
  };
  const roof = h('select', { name: 'roof_type', testid: 'lead-new-roof_type' }, ROOFS.map((v) => h('option', { value: v }, tEnum('roof', v))));
  const source = h('select', { name: 'source', testid: 'lead-new-source' }, SOURCES.map((v) => h('option', { value: v }, tEnum('lead_source', v))));
  const message = h('textarea', { name: 'message', rows: 3, testid: 'lead-new-message' });
  const consentContact = h('input', { type: 'checkbox', name: 'consent_contact', testid: 'lead-new-consent_contact', checked: true });
  const consentMarketing = h('input', { type: 'checkbox', name: 'consent_marketing', testid: 'lead-new-consent_marketing' });
  const err = h('div', { class: 'alert alert-error', hidden: true, testid: 'lead-new-error' });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'lead-new-save' }, t('common.create'));
  const form = h('form', {
    class: 'form', testid: 'lead-new-form',
    onSubmit: async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      for (const el of form.querySelectorAll('.invalid')) el.classList.remove('invalid');
      const body = { source: source.value, roof_type: roof.value, consent_contact: consentContact.checked, consent_marketing: consentMarketing.checked };
      for (const k of ['name', 'phone', 'email', 'address', 'postcode', 'region']) body[k] = f[k].value.trim();
      for (const k of ['monthly_bill', 'desired_kwp', 'budget']) {
        const n = numberOrNull(f[k]);
        if (Number.isNaN(n) || (n !== null && n < 0)) {
          f[k].classList.add('invalid');
          f[k].focus();
          err.textContent = t('leads.bad_number');
          err.hidden = false;
          return;
        }
        if (n !== null) body[k] = n;
      }
      if (message.value.trim()) body.message = message.value.trim();
      await busy(save, async () => {
        try {
          // A repeat of a known person attaches to their lead or customer (never a second record): say so.
          const r = await post('/api/leads', body);
          toast(t(`leads.captured_${r.outcome}`), 'success');
          if (r.lead_id) location.hash = `#/leads/${r.lead_id}`;
          else if (r.customer_id && role() !== 'sales') location.hash = `#/customers/${r.customer_id}`;
          else location.hash = '#/leads';
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
          showFieldError(form, e);
        }
      });
    },
  },
  h('div', { class: 'form-grid' }, field(t('leads.name'), f.name), field(t('leads.phone'), f.phone), field(t('leads.email'), f.email)),
  h('div', { class: 'form-grid' }, field(t('leads.address'), f.address), field(t('leads.postcode'), f.postcode), field(t('leads.region'), f.region)),
  h('div', { class: 'form-grid' }, field(t('leads.roof'), roof), field(t('leads.bill'), f.monthly_bill), field(t('leads.kwp'), f.desired_kwp), field(t('leads.budget'), f.budget)),
  h('div', { class: 'form-grid' }, field(t('leads.source'), source)),
  field(t('leads.message'), message),
  h('label', { class: 'check' }, consentContact, ' ', t('leads.consent_contact_long')),
  h('label', { class: 'check' }, consentMarketing, ' ', t('leads.consent_marketing_long')),
  err, h('div', { class: 'form-actions' }, h('a', { class: 'btn btn-secondary', href: '#/leads' }, t('common.cancel')), save));
  mount(root, pageHeader(t('leads.new'), t('leads.new_subtitle')), card(t('leads.contact'), form));
  f.name.focus();
}

// The conversion: a customer, a project (name, manager, start) and — when the address is known well enough — the
// site the gateway will report as, all in one step on the server.
async function convertForm(l) {
  const input = (name, attrs = {}) => h('input', { name, testid: `convert-${name}`, ...attrs });
  const projectName = input('project_name', { value: `${l.name} PV`, maxlength: 200 });
  let managers = [];
  if (['admin', 'back_office'].includes(role())) {
    try {
      managers = (await get('/api/users')).items.filter((u) => u.role === 'project_manager' && !u.disabled);
    } catch { managers = []; }
  }
  const manager = managers.length
    ? h('select', { name: 'manager', testid: 'convert-manager' }, h('option', { value: '' }, t('projects.no_manager')),
      managers.map((u) => h('option', { value: u.name }, u.display_name || u.name)))
    : input('manager', { placeholder: t('projects.no_manager') });
  const started = input('started_on', { type: 'date', value: new Date().toISOString().slice(0, 10) });
  const withSite = h('input', { type: 'checkbox', testid: 'convert-with-site' });
  const site = {
    site_id: input('site_id', { placeholder: 'site-0042', maxlength: 64 }),
    name: input('site_name', { value: l.name }),
    address: input('site_address', { value: [l.address, l.postcode].filter(Boolean).join(', ') }),
    latitude: input('latitude', { inputmode: 'decimal' }),
    longitude: input('longitude', { inputmode: 'decimal' }),
    time_zone: input('time_zone', { value: Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC' }),
  };
  site.name.name = 'site/name';
  site.address.name = 'site/address';
  for (const k of ['site_id', 'latitude', 'longitude', 'time_zone']) site[k].name = `site/${k}`;
  const siteBox = h('div', { hidden: true, testid: 'convert-site' },
    h('div', { class: 'form-grid' }, field(t('leads.site_id'), site.site_id), field(t('leads.site_name'), site.name), field(t('leads.address'), site.address)),
    h('div', { class: 'form-grid' }, field(t('leads.latitude'), site.latitude), field(t('leads.longitude'), site.longitude), field(t('leads.time_zone'), site.time_zone)));
  withSite.addEventListener('change', () => { siteBox.hidden = !withSite.checked; });
  const err = h('div', { class: 'alert alert-error', hidden: true });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'lead-convert' }, t('leads.convert'));
  const form = h('form', {
    class: 'form', testid: 'convert-form',
    onSubmit: async (ev) => {
      ev.preventDefault();
      err.hidden = true;
      const body = { project_name: projectName.value.trim(), started_on: started.value || null, manager: manager.value.trim() || null };
      if (withSite.checked) {
        body.site = { site_id: site.site_id.value.trim(), name: site.name.value.trim(), address: site.address.value.trim(), time_zone: site.time_zone.value.trim() };
        for (const k of ['latitude', 'longitude']) {
          const n = numberOrNull(site[k]);
          if (Number.isNaN(n)) {
            site[k].classList.add('invalid');
            err.textContent = t('leads.bad_number');
            err.hidden = false;
            return;
          }
          if (n !== null) body.site[k] = n;
        }
      }
      await busy(save, async () => {
        try {
          const r = await request('POST', `/api/leads/${l.id}/convert`, { body });
          toast(t('leads.converted'), 'success');
          location.hash = `#/projects/${r.data.project_id}`;
        } catch (e) {
          err.textContent = errorText(e);
          err.hidden = false;
          showFieldError(form, e);
        }
      });
    },
  },
  h('div', { class: 'form-grid' }, field(t('leads.project_name'), projectName), field(t('projects.manager'), manager), field(t('projects.started'), started)),
  h('label', { class: 'check' }, withSite, ' ', t('leads.with_site')), siteBox,
  err, h('div', { class: 'form-actions' }, save));
  return card(t('leads.convert_title'), form);
}

export async function leadView(root, { signal, params }) {
  const id = params[0];
  async function load() {
    mount(root, loading());
    try {
      const { data: l, etag } = await request('GET', `/api/leads/${id}`, { signal });
      const statusSel = l.status === 'converted' ? chip('lead_status', l.status, { testid: 'lead-status' })
        : select('status', STATUSES, 'lead_status', l.status, false);
      statusSel.addEventListener('change', async () => {
        try {
          await request('PATCH', `/api/leads/${id}`, { body: { status: statusSel.value }, ifMatch: etag });
          toast(t('common.saved'), 'success');
          load();
        } catch (e) { toast(errorText(e), 'error'); load(); }
      });
      const contact = kv([
        [t('leads.phone'), l.phone ? h('a', { href: `tel:${l.phone}` }, l.phone) : null],
        [t('leads.email'), l.email ? h('a', { href: `mailto:${l.email}` }, l.email) : null],
        [t('leads.address'), [l.address, l.postcode].filter(Boolean).join(', ') || null],
        [t('leads.region'), l.region || null],
        [t('leads.roof'), tEnum('roof', l.roof_type)],
        [t('leads.bill'), l.monthly_bill != null ? fmtNumber(l.monthly_bill, 0) : (l.annual_consumption_kwh != null ? `${fmtNumber(l.annual_consumption_kwh, 0)} kWh/a` : null)],
        [t('leads.kwp'), l.desired_kwp != null ? `${fmtNumber(l.desired_kwp, 1)} kWp` : null],
        [t('leads.budget'), l.budget != null ? fmtNumber(l.budget, 0) : null],
        [t('leads.consent'), `${l.consent_contact ? '✓' : '✗'} ${t('leads.consent_contact')} · ${l.consent_marketing ? '✓' : '✗'} ${t('leads.consent_marketing')}`],
        [t('leads.notes'), l.notes || null],
      ]);
      const score = kv([
        [t('leads.score'), h('strong', { testid: 'lead-score' }, String(l.score))],
        ...Object.entries(l.score_detail).map(([rule, points]) => [rule, String(points)]),
        [t('leads.assignee'), l.assignee || t('leads.unassigned')],
        [t('leads.due'), slaCell(l)],
        [t('leads.source'), tEnum('lead_source', l.source)],
        [t('leads.created'), fmtDateTime(l.created_at)],
      ]);
      const inquiries = table(l.inquiries, [
        { label: t('leads.when'), value: (i) => fmtDateTime(i.at), class: 'nowrap' },
        { label: t('leads.source'), value: (i) => tEnum('lead_source', i.source) },
        { label: t('leads.campaign'), value: (i) => [i.utm.source, i.utm.campaign].filter(Boolean).join(' / ') || '—' },
        { label: t('leads.message'), value: (i) => i.message || '—' },
      ], { testid: 'lead-inquiries' });
      const touches = table(l.touches, [
        { label: t('leads.when'), value: (x) => fmtDateTime(x.at), class: 'nowrap' },
        { label: t('leads.touch_kind'), value: (x) => tEnum('touch_kind', x.kind) },
        { label: t('leads.touch_outcome'), value: (x) => tEnum('touch_outcome', x.outcome) },
        { label: t('leads.by'), value: (x) => x.by },
        { label: t('leads.next_step'), value: (x) => x.next_step_on || '—' },
        { label: t('leads.notes'), value: (x) => x.notes || '—' },
      ], { testid: 'lead-touches', empty: t('leads.no_touches') });
      // Conversion into a customer and a project (docs/projects.md); a converted lead links to its project.
      const convert = l.project_id
        ? h('a', { class: 'btn btn-secondary', href: `#/projects/${l.project_id}`, testid: 'lead-project' }, t('leads.open_project'))
        : null;
      const convertCard = !l.project_id && canWrite() && l.status !== 'converted' ? await convertForm(l) : null;
      mount(root,
        pageHeader(l.name, t('leads.detail_subtitle', { id: l.id }), canWrite() ? statusSel : chip('lead_status', l.status), convert),
        h('div', { class: 'grid-2' }, card(t('leads.contact'), contact), card(t('leads.scoring'), score)),
        convertCard,
        card(t('leads.touches'), [touches, canWrite() ? touchForm(l, load) : null]),
        card(t('leads.inquiries'), inquiries));
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(root, errorBox(e, load));
    }
  }
  await load();
}
