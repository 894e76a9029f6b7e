// Outbound webhooks (docs/webhooks.md), admins only: the list with each webhook's last delivery, the form that
// subscribes a URL to events of the catalogue (the secret shown once, when the server made it), enable/disable,
// a test ping, delete; a webhook's delivery log with every attempt and a retry of a failed or cancelled delivery.
import { h, mount } from '../dom.js';
import { t, fmtDateTime } from '../i18n.js';
import { get, post, request, qs } from '../api.js';
import { pageHeader, card, table, chip, loading, errorBox, errorText, toast, field, showFieldError, busy } from '../ui.js';

function stateChip(state, extra = {}) {
  return h('span', { class: `chip chip-delivery chip-delivery-${state}`, ...extra }, t(`webhooks.state_${state}`));
}

function lastDelivery(w) {
  const d = w.last_delivery;
  if (!d) return h('span', { class: 'muted' }, t('webhooks.never'));
  return h('span', {}, stateChip(d.state, { testid: `webhook-last-${w.id}` }), ' ',
    h('span', { class: 'muted small' }, [fmtDateTime(d.attempted_at), d.http_status ? `HTTP ${d.http_status}` : null].filter(Boolean).join(' · ')));
}

function createForm(catalogue, reload) {
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://erp.example.com/pvfleet', testid: 'webhook-url' });
  const secret = h('input', { name: 'secret', type: 'password', autocomplete: 'new-password', placeholder: t('webhooks.secret_hint'), testid: 'webhook-secret' });
  const all = h('input', { type: 'checkbox', testid: 'webhook-event-all' });
  const boxes = catalogue.map((name) => h('input', { type: 'checkbox', value: name, testid: `webhook-event-${name}` }));
  all.addEventListener('change', () => { for (const b of boxes) b.disabled = all.checked; });
  const events = h('fieldset', { class: 'checks', name: 'events' },
    h('legend', {}, t('webhooks.events')),
    h('label', { class: 'check' }, all, ' ', t('webhooks.all_events')),
    boxes.map((b) => h('label', { class: 'check' }, b, ' ', h('code', {}, b.value))));
  const shown = h('div', { testid: 'webhook-secret-shown' });
  const save = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'webhook-create' }, t('common.create'));
  const form = h('form', {
    class: 'form', testid: 'webhook-form',
    onSubmit: (ev) => {
      ev.preventDefault();
      const chosen = all.checked ? ['*'] : boxes.filter((b) => b.checked).map((b) => b.value);
      const body = { url: url.value.trim(), events: chosen };
      if (secret.value) body.secret = secret.value;
      busy(save, async () => {
        try {
          const created = await post('/api/webhooks', body);
          toast(t('webhooks.created'), 'success');
          // The server's own secret is in this answer only: show it once, to be copied into the receiver.
          if (created.secret) {
            mount(shown, h('div', { class: 'alert alert-info' }, t('webhooks.secret_once'), ' ',
              h('code', { testid: 'webhook-new-secret' }, created.secret)));
          } else {
            mount(shown);
          }
          form.reset();
          for (const b of boxes) b.disabled = false;
          reload();
        } catch (e) {
          showFieldError(form, e);
          toast(errorText(e), 'error');
        }
      });
    },
  },
  field(t('webhooks.url'), url), field(t('webhooks.secret'), secret), events,
  h('div', { class: 'form-actions' }, save));
  return h('div', {}, form, shown);
}

export async function webhooksView(root, { signal }) {
  const list = h('div', { testid: 'webhook-list' }, loading());
  let catalogue = [];
  let poll = null;
  signal.addEventListener('abort', () => clearTimeout(poll));
  async function load() {
    try {
      const r = await get('/api/webhooks', { signal });
      catalogue = r.catalogue;
      mount(list, table(r.items, [
        { label: t('webhooks.url'), value: (w) => h('a', { href: `#/admin/webhooks/${w.id}`, class: 'strong' }, w.url) },
        { label: t('webhooks.events'), value: (w) => w.events.join(', ') },
        { label: t('webhooks.status'), value: (w) => (w.enabled
          ? chip('enabled', 'on', { testid: `webhook-enabled-${w.id}` })
          : h('span', { title: w.disabled_reason || '' }, chip('enabled', 'off', { testid: `webhook-enabled-${w.id}` }),
            w.disabled_reason ? h('div', { class: 'muted small' }, w.disabled_reason) : null)) },
        { label: t('webhooks.last'), value: lastDelivery },
        { label: '', value: (w) => actions(w), class: 'nowrap' },
      ], { empty: t('webhooks.none'), testid: 'webhook-table', rowTestid: (w) => `webhook-${w.id}` }));
      // A delivery under way: look again shortly, so its outcome shows without a reload.
      clearTimeout(poll);
      if (r.items.some((w) => w.last_delivery?.state === 'pending') && !signal.aborted) poll = setTimeout(load, 2000);
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(list, errorBox(e, load));
    }
  }
  function actions(w) {
    const toggle = h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: `webhook-toggle-${w.id}`,
      onClick: (ev) => busy(ev.currentTarget, async () => {
        try {
          await request('PATCH', `/api/webhooks/${w.id}`, { body: { enabled: !w.enabled }, ifMatch: `"v${w.version}"` });
          load();
        } catch (e) { toast(errorText(e), 'error'); load(); }
      }) }, w.enabled ? t('webhooks.disable') : t('webhooks.enable'));
    const ping = h('button', { class: 'btn btn-secondary btn-small', type: 'button', testid: `webhook-test-${w.id}`, disabled: !w.enabled,
      onClick: (ev) => busy(ev.currentTarget, async () => {
        try {
          await post(`/api/webhooks/${w.id}/test`, {});
          toast(t('webhooks.test_sent'), 'success');
          load();
        } catch (e) { toast(errorText(e), 'error'); }
      }) }, t('webhooks.test'));
    const remove = h('button', { class: 'btn btn-ghost btn-small', type: 'button', testid: `webhook-delete-${w.id}`,
      onClick: (ev) => {
        if (!window.confirm(t('webhooks.confirm_delete', { url: w.url }))) return;
        busy(ev.currentTarget, async () => {
          try {
            await request('DELETE', `/api/webhooks/${w.id}`);
            load();
          } catch (e) { toast(errorText(e), 'error'); }
        });
      } }, t('common.remove'));
    return [toggle, ' ', ping, ' ', remove];
  }
  mount(root, pageHeader(t('webhooks.title'), t('webhooks.subtitle')), card(t('webhooks.list'), list), loading());
  await load();
  mount(root, pageHeader(t('webhooks.title'), t('webhooks.subtitle')), card(t('webhooks.list'), list),
    card(t('webhooks.new'), createForm(catalogue, load)));
}

export async function webhookView(root, { signal, params }) {
  const id = params[0];
  const log = h('div', { testid: 'webhook-deliveries' }, loading());
  const more = h('div', { class: 'load-more' });
  let items = [];
  let before = null;
  function draw() {
    mount(log, table(items, [
      { label: '#', value: (d) => String(d.id) },
      { label: t('webhooks.event'), value: (d) => h('code', {}, d.event) },
      { label: t('webhooks.created_at'), value: (d) => fmtDateTime(d.created_at), class: 'nowrap' },
      { label: t('webhooks.state'), value: (d) => stateChip(d.state, { testid: `delivery-state-${d.id}` }) },
      { label: t('webhooks.attempts'), value: (d) => h('div', {}, d.log.map((a) => h('div', { class: 'small' },
        `${fmtDateTime(a.at)} · ${a.http_status ? `HTTP ${a.http_status}` : a.error} · ${a.duration_ms} ms`))) },
      { label: t('webhooks.next'), value: (d) => (d.next_attempt_at ? fmtDateTime(d.next_attempt_at) : '—'), class: 'nowrap' },
      { label: '', value: (d) => (['failed', 'cancelled'].includes(d.state) ? h('button', {
        class: 'btn btn-secondary btn-small', type: 'button', testid: `delivery-retry-${d.id}`,
        onClick: (ev) => busy(ev.currentTarget, async () => {
          try {
            await post(`/api/webhooks/deliveries/${d.id}/retry`, {});
            toast(t('webhooks.retry_queued'), 'success');
            load(true);
          } catch (e) { toast(errorText(e), 'error'); }
        }) }, t('webhooks.retry')) : null) },
    ], { empty: t('webhooks.no_deliveries'), testid: 'delivery-table', rowTestid: (d) => `delivery-${d.id}` }));
    mount(more, before ? h('button', { class: 'btn btn-secondary', type: 'button', onClick: (ev) => busy(ev.currentTarget, () => load(false)) }, t('common.load_more')) : null);
  }
  async function load(reset) {
    try {
      const page = await get(`/api/webhooks/${id}/deliveries${qs({ limit: 50, before: reset ? null : before })}`, { signal });
      items = reset ? page.items : items.concat(page.items);
      before = page.next_before;
      draw();
    } catch (e) {
      if (signal.aborted || e.name === 'AbortError') return;
      mount(log, errorBox(e, () => load(reset)));
    }
  }
  const w = await get(`/api/webhooks/${id}`, { signal });
  mount(root,
    h('a', { class: 'back', href: '#/admin/webhooks' }, '← ', t('webhooks.title')),
    pageHeader(w.url, w.events.join(', ')),
    card(t('webhooks.deliveries'), [log, more]));
  await load(true);
}
