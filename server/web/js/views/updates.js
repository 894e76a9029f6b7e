// Over-the-air updates (docs/updates.md): uploaded releases and rollouts (#/updates), one rollout with its
// progress per state and each site's state and reason (#/updates/rollouts/7?state=failed; refreshed every 10 s
// while it runs), and the form that starts one (#/updates/new). Admins act; back office and managers read
// (managers do not see the releases: the server keeps GET /api/releases to admin and back office).
import { h, mount } from '../dom.js';
import { t, tEnum, fmtDateTime, fmtNumber, fmtTime } from '../i18n.js';
import { get, post, request } from '../api.js';
import { pageHeader, card, table, kv, loading, errorBox, errorText, toast, field, busy, role } from '../ui.js';
import {
  SITE_STATES, ROLLOUT_STATES, CHANNELS, stateStyle, stagesFromRows, fieldFor, fieldMessage,
  rolloutVersion, versionsOf, countsOf,
} from '../rollouts.js';

const REFRESH_MS = 10000;
const isAdmin = () => role() === 'admin';

/** A state chip whose style is the state when known, else neutral: a new state from the server never breaks it. */
function stateChip(kind, value, known, extra = {}) {
  return h('span', { class: `chip chip-${kind}-${stateStyle(value, known)}`, 'data-state': value, ...extra }, tEnum(kind, value));
}
const siteChip = (v, extra) => stateChip('site_update', v, SITE_STATES, extra);
const rolloutChip = (v, extra) => stateChip('rollout_state', v, ROLLOUT_STATES, extra);

function fmtSize(bytes) {
  if (bytes == null) return '—';
  if (bytes >= 1048576) return `${fmtNumber(bytes / 1048576, 1)} MB`;
  return `${fmtNumber(bytes / 1024, 1)} kB`;
}

/** One stacked bar of a rollout's counts, for the list (the detail has a bar per state). */
function miniProgress(o) {
  const { rows, total } = countsOf(o.counts);
  const shown = rows.filter((r) => r.n > 0);
  const summary = shown.map((r) => `${tEnum('site_update', r.state)} ${fmtNumber(r.n)}`).join(' · ') || t('upd.no_sites');
  return h('div', { class: 'upd-mini' },
    h('div', { class: 'stackbar', role: 'img', 'aria-label': summary },
      total ? shown.map((r) => h('span', { class: `stack-seg seg-upd-${stateStyle(r.state)}`, style: { flex: String(r.n) } })) : null),
    h('div', { class: 'small muted' }, summary));
}

function stagesText(stages) {
  // A site list may hold thousands of ids: the first few stand for it.
  const list = (sites) => (sites.length > 5 ? `${sites.slice(0, 5).join(', ')} … (+${sites.length - 5})` : sites.join(', '));
  return (stages || []).map((s, i) => `${i + 1}: ${s.percent != null ? `${s.percent} %` : list(s.sites || [])}`).join(' · ');
}

export async function updatesView(root, { signal }) {
  const [rollouts, releases] = await Promise.allSettled([
    get('/api/rollouts', { signal }),
    get('/api/releases', { signal }),
  ]);
  if (rollouts.status === 'rejected') {
    // 503: this server has no `releases` section (docs/updates.md); nothing is wrong with the request.
    if (rollouts.reason?.status !== 503) throw rollouts.reason;
    mount(root, pageHeader(t('upd.title'), t('upd.subtitle')), h('div', { class: 'empty big', testid: 'updates-off' }, t('upd.not_configured')));
    return;
  }
  const items = rollouts.value.items;
  const hasKind = items.some((o) => o.kind !== undefined);
  const rolloutTable = table(items, [
    { label: '#', value: (o) => h('a', { href: `#/updates/rollouts/${o.id}`, class: 'strong' }, `#${o.id}`) },
    hasKind ? { label: t('upd.kind'), value: (o) => (o.kind ? tEnum('rollout_kind', o.kind) : '—') } : null,
    { label: t('upd.version'), value: (o) => h('code', {}, rolloutVersion(o) || '—'), class: 'nowrap' },
    { label: t('upd.channel'), value: (o) => tEnum('channel', o.channel) },
    { label: t('upd.state'), value: (o) => rolloutChip(o.state) },
    { label: t('upd.stage'), value: (o) => t('upd.stage_of', { n: o.current_stage, total: (o.stages || []).length }), class: 'nowrap' },
    { label: t('upd.progress'), value: miniProgress },
    { label: t('upd.pause_reason'), value: (o) => o.pause_reason || '—' },
    { label: t('upd.created'), value: (o) => [fmtDateTime(o.created_at), h('div', { class: 'small muted' }, o.created_by)], class: 'nowrap' },
  ].filter(Boolean), { onRow: (o) => { location.hash = `#/updates/rollouts/${o.id}`; }, empty: t('upd.no_rollouts'), testid: 'rollout-table', rowTestid: (o) => `rollout-row-${o.id}` });

  let releaseBody;
  if (releases.status === 'rejected') {
    releaseBody = h('div', { class: 'empty', testid: 'release-table' }, releases.reason?.status === 403 ? t('upd.releases_hidden') : errorText(releases.reason));
  } else {
    releaseBody = table(releases.value.items, [
      { label: t('upd.version'), value: (r) => h('code', {}, r.version) },
      { label: t('upd.architecture'), value: (r) => r.architecture },
      { label: t('upd.size'), value: (r) => fmtSize(r.size), class: 'num' },
      { label: t('upd.uploaded'), value: (r) => fmtDateTime(r.uploaded_at), class: 'nowrap' },
      { label: t('upd.uploaded_by'), value: (r) => r.uploaded_by },
      { label: t('upd.signed_by'), value: (r) => r.signed_by || '—' },
      { label: 'SHA-256', value: (r) => h('code', { title: r.sha256 }, `${r.sha256.slice(0, 12)}…`) },
    ], { empty: t('upd.no_releases'), testid: 'release-table', rowTestid: (r) => `release-row-${r.version}-${r.architecture}` });
  }
  const newBtn = isAdmin() ? h('a', { class: 'btn btn-primary', href: '#/updates/new', testid: 'rollout-new' }, t('upd.new_rollout')) : null;
  mount(root,
    pageHeader(t('upd.title'), t('upd.subtitle'), newBtn),
    card(t('upd.rollouts'), rolloutTable),
    card(t('upd.releases'), releaseBody, { testid: 'releases' }));
}

// ---- one rollout ----

function progressBars(o) {
  const { rows, total } = countsOf(o.counts);
  return h('div', { class: 'hbars', testid: 'rollout-progress' }, rows.map((r) => {
    const label = tEnum('site_update', r.state);
    return h('div', { class: 'hbar', testid: `progress-${r.state}`, 'data-count': String(r.n) },
      h('span', { class: 'hbar-label' }, label),
      h('span', {
        class: 'hbar-track', role: 'progressbar', 'aria-label': label,
        'aria-valuemin': '0', 'aria-valuemax': String(total), 'aria-valuenow': String(r.n),
      }, h('span', { class: `hbar-fill seg-upd-${stateStyle(r.state)}`, style: { width: total ? `${(r.n / total) * 100}%` : '0%' } })),
      h('span', { class: 'hbar-value' }, fmtNumber(r.n)));
  }));
}

function reasonCell(reason) {
  if (!reason) return '—';
  const [first, ...rest] = String(reason).split('\n');
  if (!rest.length) return h('span', { class: 'upd-reason' }, first);
  return h('details', { class: 'upd-reason' }, h('summary', {}, first), h('pre', { class: 'pre small' }, rest.join('\n')));
}

export async function rolloutView(root, { params, query, signal }) {
  const id = params[0];
  let filter = query.get('state') || '';
  let o = (await request('GET', `/api/rollouts/${id}`, { signal })).data;
  let timer = null;

  const head = h('div');
  const alertHost = h('div');
  const progressHost = h('div');
  const sitesHost = h('div');
  const stamp = h('span', { class: 'updated', testid: 'rollout-updated', 'aria-live': 'polite' });
  const filterSel = h('select', { testid: 'site-state-filter', name: 'state' });
  filterSel.addEventListener('change', () => {
    filter = filterSel.value;
    // The filter lives in the URL (a reload keeps it) without a hashchange, which would build the page again.
    history.replaceState(null, '', `#/updates/rollouts/${id}${filter ? `?state=${encodeURIComponent(filter)}` : ''}`);
    drawSites();
  });

  function drawFilter() {
    const seen = (o.sites || []).map((s) => s.state).filter((s) => !SITE_STATES.includes(s));
    const states = [...SITE_STATES, ...new Set(seen)];
    if (filter && !states.includes(filter)) states.push(filter);
    mount(filterSel, h('option', { value: '' }, t('common.all')),
      states.map((s) => h('option', { value: s, selected: s === filter }, tEnum('site_update', s))));
  }

  function drawSites() {
    const rows = (o.sites || []).filter((s) => !filter || s.state === filter);
    mount(sitesHost, table(rows, [
      { label: t('upd.site'), value: (s) => h('code', {}, s.site_id), class: 'nowrap' },
      { label: t('upd.stage'), value: (s) => String(s.stage), class: 'num' },
      { label: t('upd.state'), value: (s) => siteChip(s.state) },
      { label: t('upd.from_version'), value: (s) => s.from_version || '—' },
      { label: t('upd.architecture'), value: (s) => s.architecture || '—' },
      { label: t('upd.reason'), value: (s) => reasonCell(s.reason) },
      { label: t('upd.updated'), value: (s) => fmtDateTime(s.updated_at), class: 'nowrap muted' },
    ], { empty: filter ? t('upd.no_sites_in_state') : t('upd.no_sites'), testid: 'rollout-sites', rowTestid: (s) => `rollout-site-${s.site_id}` }));
  }

  const act = (action) => async (ev) => {
    if (!window.confirm(t(`upd.confirm_${action}`, { id: o.id, version: rolloutVersion(o) }))) return;
    await busy(ev.currentTarget, async () => {
      try {
        o = { ...o, ...(await post(`/api/rollouts/${id}/${action}`, undefined, { signal })) };
        toast(t(`upd.done_${action}`), 'success');
        await refresh();
      } catch (e) {
        if (signal.aborted || e.name === 'AbortError') return;
        toast(errorText(e), 'error');
      }
    });
  };

  function actions() {
    if (!isAdmin()) return [];
    const out = [];
    if (o.state === 'running') out.push(h('button', { class: 'btn btn-secondary', type: 'button', testid: 'rollout-pause', onClick: act('pause') }, t('upd.pause')));
    if (o.state === 'paused') out.push(h('button', { class: 'btn btn-primary', type: 'button', testid: 'rollout-resume', onClick: act('resume') }, t('upd.resume')));
    if (o.state === 'running' || o.state === 'paused') out.push(h('button', { class: 'btn btn-danger-ghost', type: 'button', testid: 'rollout-cancel', onClick: act('cancel') }, t('upd.cancel')));
    return out;
  }

  function draw() {
    const version = rolloutVersion(o);
    mount(head, pageHeader(t('upd.rollout_title', { id: o.id, version }),
      [o.kind ? `${tEnum('rollout_kind', o.kind)} · ` : '', tEnum('channel', o.channel), ' · ', t('upd.created_by', { at: fmtDateTime(o.created_at), by: o.created_by })],
      stamp, rolloutChip(o.state, { testid: 'rollout-state' }), ...actions()));
    mount(alertHost, o.pause_reason ? h('div', { class: 'alert alert-warn', role: 'status', testid: 'rollout-pause-reason' },
      h('span', {}, h('strong', {}, t('upd.paused_because')), ' ', o.pause_reason)) : null);
    mount(progressHost, h('div', { class: 'grid-2' },
      card(t('upd.progress'), progressBars(o)),
      card(t('upd.plan'), kv([
        [t('upd.stage'), h('span', { testid: 'rollout-stage' }, t('upd.stage_of', { n: o.current_stage, total: (o.stages || []).length }))],
        [t('upd.stages'), stagesText(o.stages)],
        [t('upd.max_failure'), `${fmtNumber(o.max_failure_percent)} %`],
        [t('upd.max_concurrent'), fmtNumber(o.max_concurrent_downloads)],
        [t('upd.start_delay'), t('upd.seconds', { n: fmtNumber(o.start_delay_max_s) })],
      ]))));
    drawFilter();
    drawSites();
    stamp.textContent = t('upd.updated_at', { time: fmtTime(new Date()) });
  }

  // Only a running rollout changes by itself; a paused one waits for an admin.
  function schedule() {
    clearInterval(timer);
    timer = o.state === 'running' ? setInterval(refresh, REFRESH_MS) : null;
  }

  async function refresh() {
    try {
      o = (await request('GET', `/api/rollouts/${id}`, { signal })).data;
      if (signal.aborted) return;
      draw();
      schedule();
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError' || e.status === 401) return;
      stamp.textContent = `${t('upd.refresh_failed')} ${errorText(e)}`;
    }
  }

  mount(root,
    h('a', { class: 'back', href: '#/updates' }, '← ', t('upd.title')),
    head, alertHost, progressHost,
    card(t('upd.sites'), sitesHost, { actions: h('label', { class: 'inline-field' }, t('upd.filter_state'), filterSel), testid: 'rollout-sites-card' }));
  draw();
  schedule();
  return () => clearInterval(timer);
}

// ---- start a rollout (admin) ----

export async function newRolloutView(root, { signal }) {
  const releases = await get('/api/releases', { signal });
  const versions = versionsOf(releases.items);
  const errors = new Map();  // field key → its error slot and the input it describes
  let rows = [{ mode: 'percent', value: '10' }, { mode: 'percent', value: '100' }];

  function errorSlot(key, input) {
    const slot = h('span', { class: 'field-error', id: `err-${key.replace(/\//g, '-')}`, testid: `error-${key.replace(/\//g, '-')}`, role: 'alert', hidden: true });
    errors.set(key, { slot, input });
    if (input) input.setAttribute('aria-describedby', slot.id);
    return slot;
  }
  function clearErrors() {
    for (const { slot, input } of errors.values()) {
      slot.hidden = true;
      slot.textContent = '';
      if (input) { input.classList.remove('invalid'); input.removeAttribute('aria-invalid'); }
    }
    generalError.hidden = true;
  }

  const version = h('select', { name: 'version', testid: 'rollout-version', required: true },
    versions.map((v) => h('option', { value: v.version }, `${v.version} (${v.architectures.join(', ')})`)));
  const channel = h('select', { name: 'channel', testid: 'rollout-channel' }, CHANNELS.map((c) => h('option', { value: c }, tEnum('channel', c))));
  const number = (name, value, min, max, testid) => h('input', { name, type: 'number', value: String(value), min: String(min), max: String(max), step: '1', required: true, inputmode: 'numeric', testid });
  const maxFailure = number('max_failure_percent', 20, 0, 100, 'rollout-max-failure');
  const maxConcurrent = number('max_concurrent_downloads', 20, 1, 10000, 'rollout-max-concurrent');
  const startDelay = number('start_delay_max_s', 600, 0, 604800, 'rollout-start-delay');
  const generalError = h('div', { class: 'alert alert-error', role: 'alert', testid: 'rollout-error', hidden: true });
  const stagesHost = h('div', { class: 'stage-rows' });
  const stagesError = h('div');

  function drawStages() {
    for (const k of [...errors.keys()]) if (k.startsWith('stages/')) errors.delete(k);
    mount(stagesHost, rows.map((r, i) => {
      const mode = h('select', { testid: `stage-mode-${i}`, 'aria-label': t('upd.stage_mode', { n: i + 1 }) },
        ['percent', 'sites'].map((m) => h('option', { value: m, selected: m === r.mode }, t(`upd.stage_${m}`))));
      const value = r.mode === 'percent'
        ? h('input', { type: 'number', min: '1', max: '100', step: '1', required: true, inputmode: 'numeric', value: r.value, testid: `stage-value-${i}`, 'aria-label': t('upd.stage_percent_label', { n: i + 1 }) })
        : h('input', { type: 'text', required: true, value: r.value, placeholder: t('upd.stage_sites_placeholder'), testid: `stage-value-${i}`, 'aria-label': t('upd.stage_sites_label', { n: i + 1 }), autocomplete: 'off', spellcheck: 'false' });
      mode.addEventListener('change', () => { rows[i] = { mode: mode.value, value: '' }; drawStages(); stagesHost.querySelector(`[data-testid="stage-value-${i}"]`)?.focus(); });
      value.addEventListener('input', () => { rows[i].value = value.value; });
      const remove = rows.length > 1 ? h('button', {
        class: 'btn btn-ghost btn-icon', type: 'button', testid: `stage-remove-${i}`, 'aria-label': t('upd.stage_remove', { n: i + 1 }), title: t('upd.stage_remove', { n: i + 1 }),
        onClick: () => { rows.splice(i, 1); drawStages(); },
      }, '×') : null;
      const rowEl = h('div', { class: 'stage-row', testid: `stage-row-${i}` },
        h('span', { class: 'stage-n' }, t('upd.stage_n', { n: i + 1 })), mode, r.mode === 'percent' ? h('span', { class: 'stage-unit' }, value, ' %') : value, remove);
      return [rowEl, errorSlot(`stages/${i}/value`, value), errorSlot(`stages/${i}`, mode)];
    }));
  }

  const submit = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'rollout-submit' }, t('upd.start'));
  const form = h('form', {
    class: 'form', testid: 'rollout-form',
    onSubmit: async (ev) => {
      ev.preventDefault();
      clearErrors();
      const body = {
        version: version.value, channel: channel.value, stages: stagesFromRows(rows),
        max_failure_percent: Number(maxFailure.value), max_concurrent_downloads: Number(maxConcurrent.value), start_delay_max_s: Number(startDelay.value),
      };
      await busy(submit, async () => {
        try {
          const o = await post('/api/rollouts', body, { signal });
          toast(t('upd.started', { id: o.id }), 'success');
          location.hash = `#/updates/rollouts/${o.id}`;
        } catch (e) {
          if (signal.aborted || e.name === 'AbortError') return;
          showError(e);
        }
      });
    },
  },
  generalError,
  h('div', { class: 'form-grid' },
    field(t('upd.version'), version, versions.length ? null : t('upd.no_releases')), errorSlot('version', version),
    field(t('upd.channel'), channel, t('upd.channel_hint')), errorSlot('channel', channel)),
  h('fieldset', { class: 'stages-editor' },
    h('legend', {}, t('upd.stages')),
    h('p', { class: 'field-hint' }, t('upd.stages_hint')),
    stagesHost, stagesError,
    h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: 'stage-add', onClick: () => { rows.push({ mode: 'percent', value: '100' }); drawStages(); } }, t('upd.stage_add'))),
  h('div', { class: 'form-grid form-grid-3' },
    h('div', {}, field(t('upd.max_failure'), maxFailure, t('upd.max_failure_hint')), errorSlot('max_failure_percent', maxFailure)),
    h('div', {}, field(t('upd.max_concurrent'), maxConcurrent), errorSlot('max_concurrent_downloads', maxConcurrent)),
    h('div', {}, field(t('upd.start_delay'), startDelay, t('upd.start_delay_hint')), errorSlot('start_delay_max_s', startDelay))),
  h('div', { class: 'form-actions' }, h('a', { class: 'btn btn-secondary', href: '#/updates' }, t('common.cancel')), submit));
  mount(stagesError, errorSlot('stages', null));

  // A server error names its key path ("stages/1/percent: 1..100"): shown beside that field, else above the form.
  function showError(e) {
    const key = fieldFor(e.field, [...errors.keys()]);
    if (!key) {
      generalError.textContent = errorText(e);
      generalError.hidden = false;
      generalError.scrollIntoView?.({ block: 'nearest' });
      return;
    }
    const { slot, input } = errors.get(key);
    slot.textContent = fieldMessage(e.message, e.field);
    slot.hidden = false;
    if (input) { input.classList.add('invalid'); input.setAttribute('aria-invalid', 'true'); input.focus(); }
  }

  drawStages();
  mount(root,
    h('a', { class: 'back', href: '#/updates' }, '← ', t('upd.title')),
    pageHeader(t('upd.new_rollout'), t('upd.new_subtitle')),
    card(null, versions.length ? form : h('div', { class: 'empty' }, t('upd.no_releases'))));
  if (versions.length) version.focus();
}

// ---- a site's update settings (customer page, office roles) ----

/** The site's update channel and gateway architecture, with a form to change them (PUT …/update-settings). */
export function updateSettingsBlock(site) {
  const sid = site.site_id;
  const out = h('div', { class: 'upd-settings', testid: `update-settings-${sid}` }, h('div', { class: 'skeleton' }));
  const path = `/api/sites/${encodeURIComponent(sid)}/update-settings`;
  get(path).then((s) => {
    const channel = h('select', { name: 'channel', testid: `update-channel-${sid}` },
      CHANNELS.map((c) => h('option', { value: c, selected: c === s.channel }, tEnum('channel', c))));
    const arch = h('input', { name: 'architecture', type: 'text', value: s.architecture || '', list: `upd-architectures-${sid}`, placeholder: 'arm64', autocomplete: 'off', spellcheck: 'false', testid: `update-arch-${sid}` });
    const err = h('div', { class: 'field-error', role: 'alert', hidden: true, testid: `update-error-${sid}` });
    const save = h('button', { class: 'btn btn-secondary btn-small', type: 'submit', testid: `update-save-${sid}` }, t('common.save'));
    const form = h('form', {
      class: 'form upd-settings-form',
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.hidden = true;
        arch.classList.remove('invalid');
        channel.classList.remove('invalid');
        await busy(save, async () => {
          try {
            await request('PUT', path, { body: { channel: channel.value, architecture: arch.value.trim() } });
            toast(t('upd.settings_saved', { site: sid }), 'success');
          } catch (e) {
            err.textContent = fieldMessage(errorText(e), e.field);
            err.hidden = false;
            const bad = e.field === 'architecture' ? arch : e.field === 'channel' ? channel : null;
            if (bad) { bad.classList.add('invalid'); bad.focus(); }
          }
        });
      },
    },
    h('div', { class: 'upd-settings-row' },
      field(t('upd.channel'), channel), field(t('upd.architecture'), arch),
      save),
    err,
    h('datalist', { id: `upd-architectures-${sid}` }, ['arm64', 'armhf', 'amd64'].map((a) => h('option', { value: a }))));
    mount(out, h('h4', {}, t('upd.site_settings')), form);
  }).catch((e) => mount(out, h('div', { class: 'muted small' }, t('upd.site_settings'), ': ', errorText(e))));
  return out;
}
