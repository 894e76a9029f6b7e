// The caller's inbox (#/inbox: newest first, unread marked, one click marks read and opens the thing) and their
// notification settings (#/settings/notifications: e-mail, language, time zone, quiet hours, channels per event);
// docs/notifications.md.
import { h, mount } from '../dom.js';
import { t, fmtDateTime } from '../i18n.js';
import { get, post, request } from '../api.js';
import { pageHeader, card, button, busy, toast, field, errorText, showFieldError } from '../ui.js';

// Tells the header's badge the new count.
const announce = (unread) => window.dispatchEvent(new CustomEvent('inbox-unread', { detail: unread }));

export async function inboxView(root, { signal }) {
  const unreadOnly = new URLSearchParams(location.hash.split('?')[1] || '').get('unread') === '1';
  const r = await get(`/api/inbox?limit=100${unreadOnly ? '&unread=1' : ''}`, { signal });
  announce(r.unread);
  const markAll = button(t('inbox.read_all'), () => busy(markAll, async () => {
    const done = await post('/api/inbox/read-all', {});
    announce(done.unread);
    for (const el of root.querySelectorAll('.inbox-item.unread')) el.classList.remove('unread');
  }), { testid: 'inbox-read-all', disabled: r.unread === 0 });
  const open = async (n, el) => {
    if (!n.read_at) {
      try {
        const done = await post(`/api/inbox/${n.id}/read`, {});
        announce(done.unread);
        el.classList.remove('unread');
      } catch (e) { toast(errorText(e), 'error'); }
    }
    if (n.link) location.hash = n.link;
  };
  const items = r.items.map((n) => {
    const el = h('li', { class: ['inbox-item', n.read_at ? '' : 'unread'], testid: `inbox-item-${n.id}` },
      h('button', { class: 'inbox-open', type: 'button', onClick: () => open(n, el) },
        h('div', { class: 'inbox-title' }, n.title),
        n.body ? h('div', { class: 'muted' }, n.body) : null,
        h('div', { class: 'muted small' }, fmtDateTime(n.created_at))));
    return el;
  });
  mount(root,
    pageHeader(t('inbox.title'), t('inbox.unread_count', { n: r.unread }),
      h('a', { class: 'btn btn-secondary', href: unreadOnly ? '#/inbox' : '#/inbox?unread=1', testid: 'inbox-filter' },
        unreadOnly ? t('inbox.show_all') : t('inbox.show_unread')),
      markAll,
      h('a', { class: 'btn btn-secondary', href: '#/settings/notifications', testid: 'inbox-settings' }, t('notif.settings'))),
    items.length ? h('ul', { class: 'inbox-list', testid: 'inbox-list' }, items) : h('div', { class: 'empty big' }, t('inbox.empty')));
}

export async function notificationSettingsView(root, { signal }) {
  const s = await get('/api/me/notification-settings', { signal });
  const input = (name, value, attrs = {}) => h('input', { name, value: value ?? '', testid: `notif-${name}`, ...attrs });
  const email = input('email', s.email, { type: 'email', maxlength: 254, autocomplete: 'email' });
  const language = h('select', { name: 'language', testid: 'notif-language' },
    [['en', 'English'], ['zh-CN', '简体中文']].map(([v, label]) => h('option', { value: v, selected: s.language === v }, label)));
  const zone = input('time_zone', s.time_zone, { maxlength: 64, placeholder: 'Asia/Shanghai' });
  const quietOn = h('input', { type: 'checkbox', name: 'quiet_hours', testid: 'notif-quiet', checked: !!s.quiet_hours });
  const quietFrom = input('quiet_hours/from', s.quiet_hours?.from || '22:00', { type: 'time' });
  const quietTo = input('quiet_hours/to', s.quiet_hours?.to || '07:00', { type: 'time' });
  const boxes = new Map();
  const rows = s.events.map((e) => {
    const inbox = h('input', { type: 'checkbox', name: `channels/${e.event}/inbox`, checked: e.inbox, testid: `notif-${e.event}-inbox` });
    const mail = h('input', { type: 'checkbox', name: `channels/${e.event}/email`, checked: e.email, testid: `notif-${e.event}-email` });
    boxes.set(e.event, { inbox, mail, was: { inbox: e.inbox, email: e.email } });
    return h('tr', {}, h('td', {}, t(`event.${e.event}`), h('div', { class: 'muted small' }, h('code', {}, e.event))),
      h('td', {}, inbox), h('td', {}, mail));
  });
  const form = h('form', { class: 'form', testid: 'notif-form' },
    field(t('notif.email'), email, t('notif.email_hint')),
    field(t('notif.language'), language),
    field(t('notif.time_zone'), zone, t('notif.time_zone_hint')),
    h('label', { class: 'check' }, quietOn, ' ', t('notif.quiet_hours')),
    h('div', { class: 'row' }, field(t('notif.quiet_from'), quietFrom), field(t('notif.quiet_to'), quietTo)),
    h('p', { class: 'muted small' }, t('notif.quiet_hint')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'table', testid: 'notif-events' },
      h('thead', {}, h('tr', {}, h('th', {}, t('notif.event')), h('th', {}, t('notif.inbox')), h('th', {}, t('notif.by_email')))),
      h('tbody', {}, rows))));
  const save = button(t('common.save'), () => busy(save, async () => {
    const channels = {};
    for (const [event, b] of boxes)
      if (b.inbox.checked !== b.was.inbox || b.mail.checked !== b.was.email)
        channels[event] = { inbox: b.inbox.checked, email: b.mail.checked };
    const body = {
      email: email.value.trim() || null,
      language: language.value,
      time_zone: zone.value.trim(),
      quiet_hours: quietOn.checked ? { from: quietFrom.value, to: quietTo.value } : null,
      channels,
    };
    try {
      await request('PUT', '/api/me/notification-settings', { body });
      toast(t('notif.saved'), 'success');
      for (const [, b] of boxes) b.was = { inbox: b.inbox.checked, email: b.mail.checked };
    } catch (e) {
      showFieldError(form, e);
      toast(errorText(e), 'error');
    }
  }), { kind: 'primary', testid: 'notif-save' });
  mount(root, pageHeader(t('notif.settings'), t('notif.sub'), h('a', { class: 'btn btn-secondary', href: '#/inbox' }, t('inbox.title'))),
    card('', [form, h('div', { class: 'actions' }, save)]));
}
