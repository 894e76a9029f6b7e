// Projects (docs/projects.md): the board — a column per stage, cards coloured by their deadline (green on time,
// yellow in the last quarter of a milestone's window, red overdue), filters kept in the URL (#/projects?manager=pm)
// — and a project's detail with its milestones (mark one done; the stage follows) and its timeline. Project
// managers see their own projects, sales reps those of the leads they converted (the server filters).
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDateTime, fmtDate } from '../i18n.js';
import { get, request, qs } from '../api.js';
import { pageHeader, card, table, chip, kv, loading, errorBox, errorText, toast, field, busy, role } from '../ui.js';

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
    body);
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
    milestone_done: () => e.title,
    reminder: () => `${e.rule} · ${t(e.level === 1 ? 'projects.reminded' : 'projects.escalated')} ${e.recipients.join(', ')}`,
    work_order: () => h('a', { href: `#/work-orders/${e.work_order_id}` }, `#${e.work_order_id} ${e.summary} (${tEnum('state', e.state)})`),
  }[e.kind];
  return { when: e.at.length === 10 ? fmtDate(e.at) : fmtDateTime(e.at), kind: t(`timeline.${e.kind}`), what: what ? what() : '' };
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
        { label: '', value: (m) => (m.done_on ? chip('colour', 'green') : colourChip(m.colour)) },
      ], { testid: 'project-milestones', rowTestid: (m) => `milestone-${m.key}` });
      const timeline = table(p.timeline.map(timelineRow), [
        { label: t('leads.when'), value: (r) => r.when, class: 'nowrap' },
        { label: t('projects.event'), value: (r) => r.kind },
        { label: '', value: (r) => r.what },
      ], { testid: 'project-timeline', empty: t('projects.no_events') });
      mount(root,
        pageHeader(p.name, t('projects.detail_subtitle', { id: p.id }), chip('project_status', p.status)),
        card(t('projects.facts'), facts),
        card(t('projects.milestones'), milestones),
        card(t('projects.timeline'), timeline));
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(root, errorBox(e, load));
    }
  }
  await load();
}
