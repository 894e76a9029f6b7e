// Entry point: session bootstrap, header and navigation by role, and the hash router (#/dashboard,
// #/customers/12, #/work-orders?priority=urgent, #/my/7, ...).
import { h, mount } from './dom.js';
import { t, tEnum, getLang, setLang, onLangChange, LANGUAGES } from './i18n.js';
import { get, post, getSession, setSession, setUnauthorizedHandler } from './api.js';
import { loading, errorBox, role } from './ui.js';
import { loginView } from './views/login.js';
import { dashboardView } from './views/dashboard.js';
import { customersView } from './views/customers.js';
import { customerView } from './views/customer.js';
import { boardView } from './views/board.js';
import { workOrderView } from './views/work-order.js';
import { myView, myOrderView } from './views/my.js';
import { leadsView, leadView, leadNewView } from './views/leads.js';
import { projectBoardView, projectView } from './views/projects.js';
import { updatesView, rolloutView, newRolloutView } from './views/updates.js';
import { webhooksView, webhookView } from './views/webhooks.js';
import { collectionsView } from './views/reports.js';
import { inboxView, notificationSettingsView } from './views/inbox.js';

const OFFICE_READ = ['admin', 'back_office', 'manager'];
const LEADS_READ = ['admin', 'back_office', 'manager', 'sales'];  // CRM: sales reps see their own leads
// CRM: project managers their own projects, sales reps those of the leads they converted.
const PROJECTS_READ = ['admin', 'back_office', 'manager', 'project_manager', 'sales'];
// CRM: sales reps the customers of their leads, project managers those of their projects (the server filters).
const CUSTOMERS_READ = ['admin', 'back_office', 'manager', 'sales', 'project_manager'];
const EVERY_ROLE = ['admin', 'back_office', 'technician', 'manager', 'sales', 'project_manager'];
const routes = [
  { re: /^\/login$/, view: loginView, public: true },
  { re: /^\/dashboard$/, view: dashboardView, roles: OFFICE_READ, nav: 'dashboard' },
  { re: /^\/customers$/, view: customersView, roles: CUSTOMERS_READ, nav: 'customers' },
  { re: /^\/customers\/(\d+)$/, view: customerView, roles: CUSTOMERS_READ, nav: 'customers' },
  { re: /^\/work-orders$/, view: boardView, roles: OFFICE_READ, nav: 'work-orders' },
  { re: /^\/work-orders\/(\d+)$/, view: workOrderView, roles: OFFICE_READ, nav: 'work-orders', techRedirect: (m) => `#/my/${m[1]}` },
  { re: /^\/my$/, view: myView, roles: ['technician'], nav: 'my' },
  { re: /^\/my\/(\d+)$/, view: myOrderView, roles: ['technician'], nav: 'my' },
  { re: /^\/leads$/, view: leadsView, roles: LEADS_READ, nav: 'leads' },
  { re: /^\/leads\/new$/, view: leadNewView, roles: ['admin', 'back_office', 'sales'], nav: 'leads' },
  { re: /^\/leads\/(\d+)$/, view: leadView, roles: LEADS_READ, nav: 'leads' },
  { re: /^\/projects$/, view: projectBoardView, roles: PROJECTS_READ, nav: 'projects' },
  { re: /^\/projects\/(\d+)$/, view: projectView, roles: PROJECTS_READ, nav: 'projects' },
  // The collection rate (docs/projects.md): the roles GET /api/reports/collections allows.
  { re: /^\/reports\/collections$/, view: collectionsView, roles: OFFICE_READ, nav: 'collections' },
  // Over-the-air updates (docs/updates.md): admins act, back office and managers read.
  { re: /^\/inbox$/, view: inboxView, roles: EVERY_ROLE, nav: 'inbox' },
  { re: /^\/settings\/notifications$/, view: notificationSettingsView, roles: EVERY_ROLE, nav: 'notifications' },
  { re: /^\/updates$/, view: updatesView, roles: OFFICE_READ, nav: 'updates' },
  { re: /^\/updates\/rollouts\/(\d+)$/, view: rolloutView, roles: OFFICE_READ, nav: 'updates' },
  { re: /^\/updates\/new$/, view: newRolloutView, roles: ['admin'], nav: 'updates' },
  // Outbound webhooks (docs/webhooks.md): admins only.
  { re: /^\/admin\/webhooks$/, view: webhooksView, roles: ['admin'], nav: 'webhooks' },
  { re: /^\/admin\/webhooks\/(\d+)$/, view: webhookView, roles: ['admin'], nav: 'webhooks' },
];
const NAV = [
  { id: 'dashboard', href: '#/dashboard', label: 'nav.dashboard', roles: OFFICE_READ },
  { id: 'customers', href: '#/customers', label: 'nav.customers', roles: CUSTOMERS_READ },
  { id: 'work-orders', href: '#/work-orders', label: 'nav.work_orders', roles: OFFICE_READ },
  { id: 'unassigned', href: '#/work-orders?unassigned_site=1', label: 'nav.unassigned', roles: OFFICE_READ },
  { id: 'my', href: '#/my', label: 'nav.my', roles: ['technician'] },
  { id: 'leads', href: '#/leads', label: 'nav.leads', roles: LEADS_READ },
  { id: 'projects', href: '#/projects', label: 'nav.projects', roles: PROJECTS_READ },
  { id: 'collections', href: '#/reports/collections', label: 'nav.collections', roles: OFFICE_READ },
  { id: 'updates', href: '#/updates', label: 'nav.updates', roles: OFFICE_READ },
  { id: 'webhooks', href: '#/admin/webhooks', label: 'nav.webhooks', roles: ['admin'] },
];

const LANDING = { technician: '#/my', sales: '#/leads', project_manager: '#/projects' };
export const landing = () => LANDING[role()] || '#/dashboard';

const app = document.getElementById('app');
let current = { cleanup: null, abort: null };

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query = ''] = raw.split('?');
  return { path, query: new URLSearchParams(query), raw };
}

function langSwitch() {
  return h('select', { class: 'lang-switch', testid: 'lang-switch', 'aria-label': t('header.language'), onChange: (e) => setLang(e.target.value) },
    LANGUAGES.map((l) => h('option', { value: l.code, selected: l.code === getLang() }, l.label)));
}

async function logout() {
  try { await post('/api/logout', {}); } catch { /* the session may be gone already */ }
  setSession(null);
  location.hash = '#/login';
}

const logo = () => {
  const svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
  svg.setAttribute('viewBox', '0 0 32 32');
  svg.setAttribute('class', 'logo');
  svg.setAttribute('aria-hidden', 'true');
  svg.innerHTML = '<circle cx="16" cy="9" r="5" fill="#f5b301"/><path d="M4 27 9 15h14l5 12z" fill="#1d4ed8"/><path d="M11.5 15 9.5 27M20.5 15l2 12M6.5 21h19" stroke="#fff" stroke-width="1.3"/>';
  return svg;
};

// The unread count of the user's inbox (docs/notifications.md) in the header: a link to the inbox page, kept
// current by the inbox page's 'inbox-unread' events.
let badgeListener = null;
function inboxBadge() {
  const badge = h('span', { class: 'badge', testid: 'inbox-unread', hidden: true });
  const show = (n) => { badge.textContent = String(n); badge.hidden = n === 0; };
  get('/api/inbox?limit=1').then((r) => {
    show(r.unread);
    badge.title = r.items.length ? r.items[0].title : '';
  }).catch(() => { /* the header works without it */ });
  if (badgeListener) window.removeEventListener('inbox-unread', badgeListener);
  badgeListener = (ev) => show(ev.detail);
  window.addEventListener('inbox-unread', badgeListener);
  return h('a', { class: 'inbox', href: '#/inbox', title: t('header.inbox'), testid: 'inbox-link' }, t('header.inbox'), badge);
}

function shell(active) {
  const s = getSession();
  const nav = NAV.filter((n) => n.roles.includes(s.role));
  const { path, query } = parseHash();
  const isActive = (n) => (n.id === 'unassigned' ? path === '/work-orders' && query.get('unassigned_site') === '1'
    : n.id === active && !(n.id === 'work-orders' && query.get('unassigned_site') === '1'));
  const main = h('main', { class: 'main', id: 'main' });
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: landing(), testid: 'brand' }, logo(), h('span', {}, t('app.name'))),
    h('nav', { class: 'nav', 'aria-label': t('header.nav') }, nav.map((n) => h('a', { href: n.href, class: isActive(n) ? 'active' : '', testid: `nav-${n.id}`, 'aria-current': isActive(n) ? 'page' : null }, t(n.label)))),
    h('div', { class: 'topbar-right' },
      inboxBadge(),
      langSwitch(),
      h('span', { class: 'user', testid: 'current-user', title: s.user }, h('span', { class: 'avatar' }, (s.display_name || s.user || '?').trim().charAt(0).toUpperCase()),
        h('span', { class: 'user-text' }, h('span', { class: 'user-name' }, s.display_name || s.user), h('span', { class: 'user-role' }, tEnum('role', s.role)))),
      h('button', { class: 'btn btn-ghost btn-small', type: 'button', testid: 'logout', onClick: logout }, t('header.logout'))));
  mount(app, header, main);
  return main;
}

async function render() {
  current.abort?.abort();
  if (typeof current.cleanup === 'function') current.cleanup();
  current = { cleanup: null, abort: new AbortController() };
  const { signal } = current.abort;
  const { path, query } = parseHash();
  const session = getSession();
  if (path === '/' || path === '') { location.replace(session ? landing() : '#/login'); return; }
  const match = routes.map((r) => ({ r, m: r.re.exec(path) })).find((x) => x.m);
  if (!match) { location.replace(session ? landing() : '#/login'); return; }
  const { r, m } = match;
  if (!r.public && !session) { location.replace(`#/login?next=${encodeURIComponent(location.hash)}`); return; }
  if (r.public && session && path === '/login') { location.replace(landing()); return; }
  if (!r.public && !r.roles.includes(session.role)) {
    location.replace(session.role === 'technician' && r.techRedirect ? r.techRedirect(m) : landing());
    return;
  }
  document.body.classList.toggle('tech', session?.role === 'technician');
  document.title = `${t('app.name')} · ${t(`title.${r.nav || 'login'}`)}`;
  const root = r.public ? mount(app, h('main', { class: 'main main-public' })).firstChild : shell(r.nav);
  mount(root, loading());
  try {
    current.cleanup = await r.view(root, { params: m.slice(1), query, signal, rerender: render });
  } catch (e) {
    if (e.name === 'AbortError' || signal.aborted) return;
    if (e.status === 401) return;
    console.error(e);
    mount(root, errorBox(e, render));
  }
  if (!signal.aborted) root.focus?.({ preventScroll: true });
}

setUnauthorizedHandler(() => {
  if (!getSession() && parseHash().path === '/login') return;
  setSession(null);
  const { path } = parseHash();
  if (path !== '/login') location.hash = `#/login?next=${encodeURIComponent(location.hash)}`;
});

window.addEventListener('hashchange', render);
onLangChange(render);

async function start() {
  if (!getSession()) {
    // A session cookie from another tab may still be valid.
    try {
      const me = await get('/api/me');
      setSession({ user: me.user, role: me.role, display_name: me.user, token: null });
    } catch { /* not logged in */ }
  }
  render();
}
start();
