// Development mock of the pvfleet-server REST API: serves server/web/ and answers /api/* with generated fixture
// data, so the web app can be tried without the C++ server. Node built-ins only. NOT part of production.
//
//   node server/web/dev/mock-server.mjs [--port 8088]
//   MOCK_AUTOLOGIN=tina node server/web/dev/mock-server.mjs   # requests without a session act as user tina
//
// Users (password "demo" for all): admin, office (back_office), tina and tom (technician), max (manager).
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const webRoot = path.resolve(here, '..');
const argPort = process.argv.indexOf('--port');
const port = Number(argPort > 0 ? process.argv[argPort + 1] : process.env.PORT || 8088);
const autologin = process.env.MOCK_AUTOLOGIN || '';

// ---------------------------------------------------------------- fixtures
let seed = 42;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const pick = (a) => a[Math.floor(rnd() * a.length)];
const HOUR = 3600e3;
const DAY = 24 * HOUR;
const NOW = Date.now();
const iso = (ms) => new Date(ms).toISOString();

const users = [
  { name: 'admin', display_name: 'Ada Admin', role: 'admin', disabled: false },
  { name: 'office', display_name: 'Olivia Office', role: 'back_office', disabled: false },
  { name: 'tina', display_name: 'Tina Technician', role: 'technician', disabled: false },
  { name: 'tom', display_name: 'Tom 陈', role: 'technician', disabled: false },
  { name: 'max', display_name: 'Max Manager', role: 'manager', disabled: false },
];

const customerNames = ['王伟', '李娜', 'Anna Schmidt', '张敏', 'Jonas Weber', '刘洋', 'Familie Becker', '陈静', 'Laura Fischer',
  '杨帆', 'Markus Wagner, "Sonnenhof"', '赵磊', 'Sophie Hoffmann', '黄丽', 'Paul Schäfer', '周杰', 'Emma Koch', '吴强', 'Lukas Richter',
  '徐婷', 'Mia Klein', '孙浩', 'Felix Wolf', '马琳', 'Lena Neumann', '朱军', 'Ben Schwarz', '胡萍', 'Clara Zimmermann', '郭峰',
  'Noah Braun', '何静', 'Hannah Krüger', '高翔', 'Elias Hartmann', '林芳'];
const streets = ['Lindenstraße', 'Hauptstraße', 'Bergweg', 'Am Markt', 'Schulstraße'];
const cnStreets = ['南京路', '淮海中路', '世纪大道', '长寿路', '复兴路'];
const customers = customerNames.map((name, i) => {
  const cn = /[\u4e00-\u9fff]/.test(name);
  return {
    id: i + 1, name,
    phone: cn ? `+86 138 ${String(1000 + i * 37).padStart(4, '0')} ${String(2000 + i * 91).slice(0, 4)}` : `+49 761 ${100000 + i * 4271}`,
    email: cn ? `user${i + 1}@example.cn` : `${name.split(/[ ,]/)[0].toLowerCase().replace(/[^a-z]/g, '')}${i + 1}@example.de`,
    address: cn ? `上海市${pick(cnStreets)}${10 + i}号` : `${pick(streets)} ${i + 3}, 79098 Freiburg`,
    notes: i % 5 === 0 ? (cn ? '屋顶通道需提前预约' : 'Call before visiting; dog on premises') : '',
    created_at: iso(NOW - (400 - i) * DAY), updated_at: iso(NOW - (30 - (i % 30)) * DAY), version: 1,
  };
});

const vendors = [['Huawei', 'SUN2000-5KTL-M1'], ['SMA', 'Sunny Boy 5.0'], ['GoodWe', 'GW6000-ET'], ['Fronius', 'Symo 8.2-3-M']];
const sites = [];
const devices = [];
function addSite(customer, n) {
  const cn = customer ? /[\u4e00-\u9fff]/.test(customer.name) : n % 2 === 0;
  const site_id = `site-${String(n).padStart(4, '0')}`;
  const kwp1 = Math.round((3 + rnd() * 7) * 10) / 10;
  const arrays = [{ name: 'South roof', kwp: kwp1, tilt_deg: 30, azimuth_deg: 180 }];
  if (rnd() > 0.6) arrays.push({ name: 'West roof', kwp: Math.round((2 + rnd() * 3) * 10) / 10, tilt_deg: 25, azimuth_deg: 270 });
  sites.push({
    site_id, customer_id: customer ? customer.id : null,
    name: customer ? `${customer.name.split(',')[0]} ${cn ? '屋顶电站' : 'PV'}` : `Unclaimed gateway ${n}`,
    address: customer ? customer.address : (cn ? '上海市浦东新区' : 'Freiburg'),
    latitude: cn ? 31.2 + rnd() * 0.2 : 47.98 + rnd() * 0.05, longitude: cn ? 121.4 + rnd() * 0.2 : 7.83 + rnd() * 0.05,
    time_zone: cn ? 'Asia/Shanghai' : 'Europe/Berlin', arrays, roof_type: pick(['tile', 'metal', 'flat']),
    installed_on: '2024-04-15', grid_connected_on: '2024-05-02', warranty_end: '2034-05-02', inspection_interval_days: 365,
    first_seen: iso(NOW - 500 * DAY), version: 1,
  });
  const [vendor, model] = pick(vendors);
  devices.push({ site_id, device_id: 'inv1', vendor, model, serial: `${vendor.slice(0, 2).toUpperCase()}${100000 + n * 13}`, firmware: 'V1.2.3', unit_id: 1, first_seen: iso(NOW - 500 * DAY), last_seen: iso(NOW - 60e3), version: 1 });
  if (arrays.length > 1) devices.push({ site_id, device_id: 'inv2', vendor, model, serial: `${vendor.slice(0, 2).toUpperCase()}${200000 + n * 17}`, firmware: 'V1.2.3', unit_id: 2, first_seen: iso(NOW - 500 * DAY), last_seen: iso(NOW - 60e3), version: 1 });
  devices.push({ site_id, device_id: 'meter1', vendor: 'Eastron', model: 'SDM630', serial: `SDM${300000 + n}`, firmware: '1.0', unit_id: 3, first_seen: iso(NOW - 500 * DAY), last_seen: iso(NOW - 60e3), version: 1 });
}
let siteN = 1;
for (const c of customers) {
  addSite(c, siteN++);
  if (c.id % 7 === 0) addSite(c, siteN++);
}
for (let i = 0; i < 4; i++) addSite(null, siteN++);
const offline = new Set(sites.filter((_, i) => i % 9 === 4).map((s) => s.site_id));

const faultKinds = ['not_producing', 'comm_lost', 'inverter_fault', 'string_fault', 'underperformance', 'grid_outage', 'frozen_values', 'clock_drift', 'preventive', 'counter_backwards'];
const sevOf = { not_producing: 'major', comm_lost: 'minor', inverter_fault: 'critical', string_fault: 'major', underperformance: 'minor', grid_outage: 'critical', frozen_values: 'minor', clock_drift: 'info', preventive: 'info', counter_backwards: 'minor' };
const prioOf = { critical: 'urgent', major: 'high', minor: 'normal', info: 'low' };
const dueOf = { critical: 1, major: 3, minor: 14, info: 30 };
const summaries = {
  not_producing: 'Inverter {d} produces nothing in good sun', comm_lost: 'No answer from {d} for 2 h', inverter_fault: 'Inverter {d} reports fault code 2031 (grid overvoltage)',
  string_fault: 'MPPT 2 of {d} delivers 4% of MPPT 1 in full sun', underperformance: 'Daily energy of {d} 38% below expectation', grid_outage: 'Whole site down, no AC voltage',
  frozen_values: 'Readings of {d} stuck in daylight', clock_drift: 'Gateway clock 14 min off against solar noon', preventive: 'Preventive inspection of the site, due {due}', counter_backwards: 'Energy total of {d} decreased',
};
const states = ['new', 'new', 'new', 'new', 'assigned', 'assigned', 'assigned', 'in_progress', 'in_progress', 'done', 'done', 'closed', 'closed', 'cancelled'];
const workOrders = [];
const notes = new Map();
const history = new Map();
const tickets = [];
for (let i = 1; i <= 34; i++) {
  const site = sites[(i * 7) % sites.length];
  const kind = faultKinds[(i * 3) % faultKinds.length];
  const severity = sevOf[kind];
  const state = i <= 28 ? states[i % states.length] : 'closed';
  const created = NOW - (rnd() * (i % 4 === 0 ? 12 : 2.5) * DAY + 0.2 * HOUR);
  const due = created + dueOf[severity] * DAY;
  const device_id = kind === 'grid_outage' || kind === 'preventive' || kind === 'clock_drift' ? 'site' : 'inv1';
  const ticket_id = kind === 'preventive' ? '' : `T-${new Date(created).toISOString().slice(0, 10).replace(/-/g, '')}-${String(i).padStart(4, '0')}`;
  const assignee = ['new', 'cancelled'].includes(state) ? null : (i % 3 === 0 ? 'tom' : 'tina');
  const closed = state === 'closed' || state === 'cancelled' ? Math.min(NOW - HOUR, created + rnd() * 2 * DAY + 2 * HOUR) : null;
  const wo = {
    id: i, site_id: site.site_id, device_id, fault_kind: kind, severity, priority: prioOf[severity], state,
    created_at: iso(created), updated_at: iso(closed || created + HOUR), due_at: iso(due), ticket_id,
    summary: summaries[kind].replace('{d}', device_id).replace('{due}', iso(due).slice(0, 10)),
    evidence: kind === 'preventive' ? [] : [
      { name: 'ac_power_w', observed: kind === 'not_producing' ? 0 : 812, expected: 3400 + Math.round(rnd() * 800), unit: 'W', t: iso(created - 15 * 60e3) },
      { name: 'irradiance_proxy', observed: 0.82, expected: null, unit: '', t: iso(created - 15 * 60e3) },
      { name: 'inverter_state', observed: 6, expected: 4, unit: '', t: iso(created - 10 * 60e3) },
    ],
    condition_cleared: state === 'closed' && i % 2 === 0, cleared_at: null, assignee,
    closed_at: closed ? iso(closed) : null, close_reason: state === 'closed' ? 'completed' : state === 'cancelled' ? 'cancelled by office' : '', reopen_count: i === 5 ? 1 : 0,
    version: 1,
  };
  workOrders.push(wo);
  history.set(i, [{ at: wo.created_at, actor: 'system', action: `created from ticket ${ticket_id || '(preventive)'}` }]);
  notes.set(i, []);
  if (assignee) history.get(i).push({ at: iso(created + 0.5 * HOUR), actor: 'office', action: `assigned to ${assignee}` });
  if (['in_progress', 'done', 'closed'].includes(state)) {
    history.get(i).push({ at: iso(created + HOUR), actor: assignee, action: 'assigned → in_progress' });
    notes.get(i).push({ at: iso(created + 1.5 * HOUR), author: assignee, text: 'On site. Inverter display shows fault 2031; DC isolator checked.', parts: [] });
  }
  if (['done', 'closed'].includes(state)) {
    notes.get(i).push({ at: iso(created + 2 * HOUR), author: assignee, text: 'Replaced the communication board; production back to normal.', parts: [{ part: 'Communication board', device_id: 'inv1', new_serial: 'CB-77812' }] });
    history.get(i).push({ at: iso(created + 2 * HOUR), actor: assignee, action: 'in_progress → done' });
  }
  if (ticket_id) tickets.push({ site_id: site.site_id, event: 'opened', ticket: { id: ticket_id, device_id, fault_kind: kind, severity, state: 'open', summary: wo.summary, opened_at: created } });
}

// ---------------------------------------------------------------- telemetry model
const tzOffsetH = (site) => (site.time_zone === 'Asia/Shanghai' ? 8 : 1);
const siteKwp = (site) => site.arrays.reduce((a, b) => a + b.kwp, 0);
const invKwp = (site, dev) => (dev === 'inv2' ? site.arrays[1]?.kwp ?? 0 : site.arrays[0].kwp);
function dayFactor(dayIndex, site) { // 0.25..1 cloudiness, deterministic per site and day
  const x = Math.sin(dayIndex * 12.9898 + site.site_id.length * 78.233 + Number(site.site_id.slice(5)) * 3.7) * 43758.5453;
  return 0.25 + 0.75 * (x - Math.floor(x));
}
function seasonal(ms) { // winter ~0.35 .. summer 1
  const doy = (ms / DAY) % 365.25;
  return 0.675 - 0.325 * Math.cos(((doy - 10) / 365.25) * 2 * Math.PI);
}
function powerW(site, dev, ms) {
  const local = ms + tzOffsetH(site) * HOUR;
  const hour = (local % DAY) / HOUR;
  const len = 8 + 8 * seasonal(ms); // day length
  const rise = 12 - len / 2;
  const x = (hour - rise) / len;
  if (x <= 0 || x >= 1) return 0;
  const wo = workOrders.find((w) => w.site_id === site.site_id && w.device_id === dev && w.fault_kind === 'not_producing');
  if (wo && ms > Date.parse(wo.created_at) - 30 * 60e3 && ms < Date.parse(wo.created_at) + 6 * HOUR) return 0;
  const flicker = 0.85 + 0.15 * Math.sin(ms / 7e5 + dev.length);
  return Math.max(0, invKwp(site, dev) * 1000 * 0.82 * seasonal(ms) * Math.pow(Math.sin(Math.PI * x), 1.4) * dayFactor(Math.floor(local / DAY), site) * flicker);
}
function dayEnergyWh(site, dev, dayStartLocalMs, upTo) { // integrate 10-minute steps
  let wh = 0;
  for (let t = dayStartLocalMs; t < Math.min(dayStartLocalMs + DAY, upTo); t += 600e3) wh += powerW(site, dev, t) / 6;
  return wh;
}

// ---------------------------------------------------------------- helpers
const sessions = new Map();
function send(res, status, body, headers = {}) {
  const data = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers });
  res.end(data);
}
function problem(res, status, title, detail, field) {
  const body = { type: 'about:blank', title, status, detail };
  if (field) body.field = field;
  res.writeHead(status, { 'Content-Type': 'application/problem+json' });
  res.end(JSON.stringify(body));
}
const etag = (v) => `"v${v}"`;
function ifMatch(req, res, version) {
  const h = req.headers['if-match'];
  if (!h) { problem(res, 428, 'Precondition Required', 'send If-Match with the ETag you read, so concurrent edits are not lost'); return false; }
  if (h.replace(/^W\//, '') !== etag(version)) { problem(res, 412, 'Precondition Failed', `the resource changed since you read it (now ${etag(version)}); reload and retry`); return false; }
  return true;
}
function slaOf(wo, now = NOW) {
  const judged = wo.closed_at ? Date.parse(wo.closed_at) : now;
  const created = Date.parse(wo.created_at), due = Date.parse(wo.due_at);
  if (judged > due) return 'red';
  if ((due - judged) < 0.25 * (due - created)) return 'yellow';
  return 'green';
}
const isOpen = (wo) => !['closed', 'cancelled'].includes(wo.state);
const woJson = (wo) => ({ ...wo, sla: slaOf(wo, Date.now()) });
function readBody(req) {
  return new Promise((resolve) => {
    let d = '';
    req.on('data', (c) => (d += c));
    req.on('end', () => { try { resolve(d ? JSON.parse(d) : {}); } catch { resolve(null); } });
  });
}
function userOf(req) {
  let token = null;
  const a = req.headers.authorization;
  if (a && a.startsWith('Bearer ')) token = a.slice(7);
  const m = /(?:^|;\s*)pvfleet_session=([^;]+)/.exec(req.headers.cookie || '');
  if (!token && m) token = m[1];
  if (token && sessions.has(token)) return sessions.get(token);
  if (autologin) return users.find((u) => u.name === autologin) || null;
  return null;
}
function page(items, q, keyOf) {
  const limit = Math.min(Number(q.get('limit') || 50), 500);
  const cursor = q.get('cursor');
  let start = 0;
  if (cursor) start = items.findIndex((x) => String(keyOf(x)) === cursor) + 1;
  const slice = items.slice(start, start + limit);
  const next = start + limit < items.length ? String(keyOf(slice[slice.length - 1])) : null;
  return { items: slice, next_cursor: next };
}
const ALL = ['admin', 'back_office', 'technician', 'manager'];
const READ = ['admin', 'back_office', 'manager'];
const OFFICE = ['admin', 'back_office'];

const transitions = { new: ['assigned', 'cancelled'], assigned: ['new', 'in_progress', 'cancelled'], in_progress: ['done', 'cancelled'], done: ['in_progress', 'closed', 'cancelled'], closed: [], cancelled: [] };

// ---------------------------------------------------------------- routes
const routes = [];
const route = (method, pattern, roles, fn) => {
  const keys = [];
  const re = new RegExp('^' + pattern.replace(/\{(\w+)\}/g, (_, k) => { keys.push(k); return '([^/]+)'; }) + '$');
  routes.push({ method, re, keys, roles, fn });
};

route('POST', '/api/login', null, async (req, res) => {
  const b = await readBody(req);
  if (!b || typeof b.user !== 'string') return problem(res, 400, 'Bad Request', 'user: required', 'user');
  const u = users.find((x) => x.name === b.user);
  if (!u || b.password !== 'demo') return problem(res, 401, 'Unauthorized', 'wrong user name or password');
  const token = crypto.randomBytes(16).toString('hex');
  sessions.set(token, u);
  send(res, 200, { token, user: u.name, display_name: u.display_name, role: u.role, expires_at: iso(Date.now() + 12 * HOUR) },
    { 'Set-Cookie': `pvfleet_session=${token}; Path=/; HttpOnly; SameSite=Strict` });
});
route('POST', '/api/logout', ALL, (req, res) => {
  send(res, 200, { logged_out: true }, { 'Set-Cookie': 'pvfleet_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0' });
});
route('GET', '/api/me', ALL, (req, res, p, q, u) => send(res, 200, { user: u.name, role: u.role }));
route('GET', '/api/users', OFFICE, (req, res) => send(res, 200, { items: users }));
route('GET', '/api/stats', READ, (req, res) => {
  const open = workOrders.filter(isOpen);
  const by = (f) => open.filter(f).length;
  const now = Date.now();
  const sum = (dayOffset) => {
    let wh = 0;
    for (const s of sites) {
      const localMid = Math.floor((now + tzOffsetH(s) * HOUR) / DAY) * DAY - tzOffsetH(s) * HOUR - dayOffset * DAY;
      for (const d of devices.filter((x) => x.site_id === s.site_id && x.device_id.startsWith('inv'))) wh += dayEnergyWh(s, d.device_id, localMid, now);
    }
    return wh / 1000;
  };
  const closed = workOrders.filter((w) => w.state === 'closed' && w.assignee);
  send(res, 200, {
    sites: sites.length, sites_online: sites.length - offline.size, sites_offline: offline.size, sites_unassigned: sites.filter((s) => s.customer_id == null).length,
    open_work_orders_by_severity: Object.fromEntries(['critical', 'major', 'minor', 'info'].map((s) => [s, by((w) => w.severity === s)])),
    open_work_orders_by_age: { under_1d: by((w) => now - Date.parse(w.created_at) < DAY), '1d_to_7d': by((w) => now - Date.parse(w.created_at) >= DAY && now - Date.parse(w.created_at) < 7 * DAY), over_7d: by((w) => now - Date.parse(w.created_at) >= 7 * DAY) },
    sla: Object.fromEntries(['green', 'yellow', 'red'].map((c) => [c, by((w) => slaOf(w, now) === c)])),
    mttr_hours: closed.length ? closed.reduce((a, w) => a + (Date.parse(w.closed_at) - Date.parse(w.created_at)), 0) / closed.length / HOUR : null,
    generation_today_kwh: sum(0), generation_yesterday_kwh: sum(1), installed_kwp: sites.reduce((a, s) => a + siteKwp(s), 0),
    ingest: { messages: 182734, batches: 40211, rejected: 3, lag_ms: 240 }, at: iso(now),
  });
});
route('GET', '/api/customers', READ, (req, res, p, q) => {
  const text = (q.get('q') || '').toLowerCase();
  const list = customers.filter((c) => !text || [c.name, c.phone, c.email, c.address].some((f) => f.toLowerCase().includes(text)));
  send(res, 200, page(list, q, (c) => c.id));
});
route('POST', '/api/customers', OFFICE, async (req, res) => {
  const b = await readBody(req);
  if (!b) return problem(res, 400, 'Bad Request', 'body is not valid JSON');
  if (!b.name) return problem(res, 400, 'Bad Request', 'name: required', 'name');
  const c = { id: customers.length + 1, name: b.name, phone: b.phone || '', email: b.email || '', address: b.address || '', notes: b.notes || '', created_at: iso(Date.now()), updated_at: iso(Date.now()), version: 1 };
  customers.push(c);
  send(res, 201, c, { ETag: etag(1), Location: `/api/customers/${c.id}` });
});
route('GET', '/api/customers/{id}', READ, (req, res, p) => {
  const c = customers.find((x) => String(x.id) === p.id);
  if (!c) return problem(res, 404, 'Not Found', `no customer ${p.id}`);
  send(res, 200, { ...c, sites: sites.filter((s) => s.customer_id === c.id) }, { ETag: etag(c.version) });
});
route('PATCH', '/api/customers/{id}', OFFICE, async (req, res, p) => {
  const c = customers.find((x) => String(x.id) === p.id);
  if (!c) return problem(res, 404, 'Not Found', `no customer ${p.id}`);
  const b = await readBody(req);
  if (!b) return problem(res, 400, 'Bad Request', 'body is not valid JSON');
  if (!ifMatch(req, res, c.version)) return;
  for (const k of Object.keys(b)) {
    if (!['name', 'phone', 'email', 'address', 'notes'].includes(k)) return problem(res, 400, 'Bad Request', `${k}: unknown field`, k);
    if (typeof b[k] !== 'string') return problem(res, 400, 'Bad Request', `${k}: expected a string`, k);
  }
  if (b.email && !/^[^@\s]+@[^@\s]+$/.test(b.email)) return problem(res, 400, 'Bad Request', 'email: not an e-mail address', 'email');
  Object.assign(c, b, { version: c.version + 1, updated_at: iso(Date.now()) });
  send(res, 200, c, { ETag: etag(c.version) });
});
route('GET', '/api/sites', READ, (req, res, p, q) => {
  let list = sites;
  if (q.get('customer_id')) list = list.filter((s) => String(s.customer_id) === q.get('customer_id'));
  if (q.get('unassigned') === '1') list = list.filter((s) => s.customer_id == null);
  send(res, 200, page(list, q, (s) => s.site_id));
});
route('GET', '/api/sites/{site_id}', ALL, (req, res, p) => {
  const s = sites.find((x) => x.site_id === p.site_id);
  if (!s) return problem(res, 404, 'Not Found', `no site ${p.site_id}`);
  send(res, 200, s, { ETag: etag(s.version) });
});
route('GET', '/api/sites/{site_id}/devices', ALL, (req, res, p) => send(res, 200, { items: devices.filter((d) => d.site_id === p.site_id) }));
route('GET', '/api/sites/{site_id}/status', ALL, (req, res, p) => {
  const s = sites.find((x) => x.site_id === p.site_id);
  if (!s) return problem(res, 404, 'Not Found', `no status from site ${p.site_id} yet`);
  const off = offline.has(s.site_id);
  send(res, 200, { v: 1, kind: 'status', site_id: s.site_id, state: off ? 'offline' : 'online', sent_at: Date.now() - (off ? 3 * HOUR : 60e3), agent_version: '0.1.0', uptime_s: 86400 * 3, backlog_depth: off ? 0 : 2, config_version: '2026-05-01.1',
    devices: devices.filter((d) => d.site_id === s.site_id).map((d) => ({ device_id: d.device_id, last_ok_poll: Date.now() - 60e3 })), received_at: iso(Date.now() - (off ? 3 * HOUR : 60e3)) });
});
route('GET', '/api/sites/{site_id}/telemetry', ALL, (req, res, p, q, u) => {
  const s = sites.find((x) => x.site_id === p.site_id);
  if (!s) return send(res, 200, { site_id: p.site_id, resolution: '5min', items: [] });
  if (u.role === 'technician' && !workOrders.some((w) => w.site_id === s.site_id && w.assignee === u.name)) return problem(res, 404, 'Not Found', `no site ${s.site_id} among your work orders`);
  const now = Date.now();
  const to = Math.min(q.get('to') ? Date.parse(q.get('to')) : now, now);
  const from = q.get('from') ? Date.parse(q.get('from')) : to - DAY;
  if (Number.isNaN(from) || Number.isNaN(to)) return problem(res, 400, 'Bad Request', 'from: expected ISO-8601', 'from');
  const resolution = q.get('resolution') || '5min';
  const devs = devices.filter((d) => d.site_id === s.site_id && d.device_id.startsWith('inv') && (!q.get('device') || d.device_id === q.get('device')));
  const point = q.get('point');
  const items = [];
  if (resolution === 'raw') {
    for (let t = Math.ceil(from / 60e3) * 60e3; t <= to; t += 60e3)
      for (const d of devs) items.push({ device_id: d.device_id, t: iso(t), points: { values: { ac_power_w: Math.round(powerW(s, d.device_id, t)) } } });
  } else if (resolution === '5min') {
    for (let t = Math.ceil(from / 300e3) * 300e3; t <= to; t += 300e3)
      for (const d of devs) {
        const w = powerW(s, d.device_id, t);
        if (!point || point === 'ac_power_w') items.push({ device_id: d.device_id, t: iso(t), point: 'ac_power_w', n: 5, mean: w, min: w * 0.9, max: w * 1.1 });
      }
  } else if (resolution === 'day') {
    const off = tzOffsetH(s) * HOUR;
    for (let day = Math.floor((from + off) / DAY) * DAY; day <= to + off; day += DAY) {
      const startUtc = day - off;
      if (startUtc > now) break;
      for (const d of devs) {
        const base = 1e7 + ((startUtc - Date.parse('2024-05-01')) / DAY) * invKwp(s, d.device_id) * 2800;
        const e = dayEnergyWh(s, d.device_id, startUtc, now);
        if (!point || point === 'energy_total_wh') items.push({ device_id: d.device_id, day: iso(day).slice(0, 10), point: 'energy_total_wh', n: 288, mean: base + e / 2, min: base, max: base + e, first: base, last: base + e });
      }
    }
  } else return problem(res, 400, 'Bad Request', `resolution: unknown '${resolution}' (expected raw, 5min, day)`, 'resolution');
  send(res, 200, { site_id: s.site_id, resolution, items });
});
route('GET', '/api/work-orders', ALL, (req, res, p, q, u) => {
  let list = workOrders.slice();
  const f = (k, fn) => { if (q.get(k) != null && q.get(k) !== '') list = list.filter((w) => fn(w, q.get(k))); };
  if (q.get('state') && !transitions[q.get('state')]) return problem(res, 400, 'Bad Request', `state: unknown '${q.get('state')}'`, 'state');
  f('state', (w, v) => w.state === v);
  f('open', (w, v) => isOpen(w) === (v === '1' || v === 'true'));
  f('priority', (w, v) => w.priority === v);
  f('site_id', (w, v) => w.site_id === v);
  f('customer_id', (w, v) => String(sites.find((s) => s.site_id === w.site_id)?.customer_id) === v);
  f('assignee', (w, v) => w.assignee === v);
  if (u.role === 'technician') list = list.filter((w) => w.assignee === u.name);
  if (q.get('unassigned_site') === '1') list = list.filter((w) => sites.find((s) => s.site_id === w.site_id)?.customer_id == null);
  const rank = { urgent: 0, high: 1, normal: 2, low: 3 };
  if (q.get('sort') === 'urgency') list.sort((a, b) => (isOpen(b) - isOpen(a)) || rank[a.priority] - rank[b.priority] || Date.parse(a.due_at) - Date.parse(b.due_at) || a.id - b.id);
  else list.sort((a, b) => b.id - a.id);
  const pg = page(list, q, (w) => w.id);
  if (q.get('sort') === 'urgency') pg.next_cursor = null;
  send(res, 200, { items: pg.items.map(woJson), next_cursor: pg.next_cursor });
});
function visible(res, p, u) {
  const wo = workOrders.find((w) => String(w.id) === p.id);
  if (!wo || (u.role === 'technician' && wo.assignee !== u.name)) { problem(res, 404, 'Not Found', `no work order ${p.id}`); return null; }
  return wo;
}
route('GET', '/api/work-orders/{id}', ALL, (req, res, p, q, u) => {
  const wo = visible(res, p, u);
  if (!wo) return;
  const s = sites.find((x) => x.site_id === wo.site_id);
  const j = woJson(wo);
  if (s) {
    j.site = { site_id: s.site_id, name: s.name, address: s.address, latitude: s.latitude, longitude: s.longitude, time_zone: s.time_zone };
    const c = customers.find((x) => x.id === s.customer_id);
    if (c) j.customer = { id: c.id, name: c.name, phone: c.phone, email: c.email, address: c.address };
  }
  j.notes = notes.get(wo.id);
  j.history = history.get(wo.id);
  send(res, 200, j, { ETag: etag(wo.version) });
});
route('PATCH', '/api/work-orders/{id}', ALL, async (req, res, p, q, u) => {
  const b = await readBody(req);
  if (!b) return problem(res, 400, 'Bad Request', 'body is not valid JSON');
  const wo = visible(res, p, u);
  if (!wo) return;
  if (!ifMatch(req, res, wo.version)) return;
  if (u.role === 'manager') return problem(res, 403, 'Forbidden', `role: user '${u.name}' is a manager: managers have read-only access to work orders`);
  const now = Date.now();
  const next = { ...wo };
  const log = [];
  if (b.assignee !== undefined) {
    if (u.role === 'technician') return problem(res, 403, 'Forbidden', 'role: technicians do not assign work orders');
    const t = users.find((x) => x.name === b.assignee && x.role === 'technician');
    if (!t) return problem(res, 400, 'Bad Request', `assignee: '${b.assignee}' is not an active technician`, 'assignee');
    if (['done', 'closed', 'cancelled'].includes(next.state)) return problem(res, 400, 'Bad Request', `state: cannot assign a work order that is ${next.state}`, 'state');
    if (next.assignee !== t.name) log.push(`assigned to ${t.name}`);
    next.assignee = t.name;
    if (next.state === 'new') { next.state = 'assigned'; log.push('new → assigned'); }
  }
  if (b.state && b.state !== next.state) {
    if (!transitions[b.state]) return problem(res, 400, 'Bad Request', `state: unknown '${b.state}'`, 'state');
    if (!transitions[next.state].includes(b.state)) return problem(res, 400, 'Bad Request', `state: cannot go from '${next.state}' to '${b.state}'`, 'state');
    if (u.role === 'technician' && !((next.state === 'assigned' && b.state === 'in_progress') || (next.state === 'in_progress' && b.state === 'done')))
      return problem(res, 403, 'Forbidden', `role: technician '${u.name}' may not move #${wo.id} from ${next.state} to ${b.state}`);
    if (b.state === 'assigned' && !next.assignee) return problem(res, 400, 'Bad Request', 'assignee: required to assign', 'assignee');
    log.push(`${next.state} → ${b.state}${b.reason ? ` (${b.reason})` : ''}`);
    if (b.state === 'new') next.assignee = null;
    if (b.state === 'closed' || b.state === 'cancelled') { next.closed_at = iso(now); next.close_reason = b.reason || (b.state === 'closed' ? 'completed' : `cancelled by ${u.name}`); }
    next.state = b.state;
  }
  next.version = wo.version + 1;
  next.updated_at = iso(now);
  Object.assign(wo, next);
  for (const a of log) history.get(wo.id).push({ at: iso(now), actor: u.name, action: a });
  send(res, 200, woJson(wo), { ETag: etag(wo.version) });
});
route('POST', '/api/work-orders/{id}/notes', ALL, async (req, res, p, q, u) => {
  const b = await readBody(req);
  if (!b) return problem(res, 400, 'Bad Request', 'body is not valid JSON');
  if (u.role === 'manager') return problem(res, 403, 'Forbidden', 'managers have read-only access');
  const wo = visible(res, p, u);
  if (!wo) return;
  if (!b.text) return problem(res, 400, 'Bad Request', 'text: required', 'text');
  const parts = b.parts || [];
  for (const [i, pt] of parts.entries()) {
    if (!pt.part) return problem(res, 400, 'Bad Request', `parts/${i}/part: required`, `parts/${i}/part`);
    if (pt.device_id && !devices.some((d) => d.site_id === wo.site_id && d.device_id === pt.device_id)) return problem(res, 400, 'Bad Request', `parts: no device '${pt.device_id}' at site ${wo.site_id}`, 'parts');
  }
  for (const pt of parts) if (pt.device_id && pt.new_serial) devices.find((d) => d.site_id === wo.site_id && d.device_id === pt.device_id).serial = pt.new_serial;
  const at = iso(Date.now());
  notes.get(wo.id).push({ at, author: u.name, text: b.text, parts });
  history.get(wo.id).push({ at, actor: u.name, action: 'note' });
  send(res, 201, { work_order_id: wo.id, at });
});
route('GET', '/api/tickets', READ, (req, res, p, q) => {
  let list = tickets;
  if (q.get('site_id')) list = list.filter((t) => t.site_id === q.get('site_id'));
  if (q.get('state')) list = list.filter((t) => t.ticket.state === q.get('state'));
  send(res, 200, { items: list });
});
for (const action of ['acknowledge', 'resolve'])
  route('POST', `/api/sites/{site_id}/tickets/{ticket_id}/${action}`, ['admin', 'back_office', 'technician'], async (req, res, p, q, u) => {
    await readBody(req);
    const t = tickets.find((x) => x.site_id === p.site_id && x.ticket.id === decodeURIComponent(p.ticket_id));
    if (!t) return problem(res, 404, 'Not Found', `no ticket ${p.ticket_id} at site ${p.site_id}`);
    t.ticket.state = action === 'acknowledge' ? 'acknowledged' : 'resolved';
    send(res, 202, { command_id: `api-${Date.now()}-${t.ticket.id}`, status: 'sent' });
  });
// Over-the-air updates (docs/updates.md). Rollout 2 is a config rollout as a newer server may send it (kind,
// config_version, a per-site state the web app does not know) so the view's fallbacks can be seen.
const releases = ['arm64', 'armhf'].map((arch, i) => ({ sha256: (i ? 'b' : 'a').repeat(64), package: 'pvfleet-edge', version: '0.2.0', architecture: arch,
  size: 6_815_744 + i * 1024, signature: 'c2ln', signed_by: 'pvfleet-release-2026.pem', uploaded_at: iso(NOW - 3 * DAY), uploaded_by: 'admin' }));
const updateSettings = new Map();
const SITE_STATES_MOCK = ['healthy', 'healthy', 'healthy', 'installing', 'downloading', 'rolled_back', 'failed', 'pending'];
function mockRollout(id, extra, siteStates) {
  const chosen = sites.slice(0, siteStates.length).map((s, i) => ({
    site_id: s.site_id, stage: i < 2 ? 1 : 2, state: siteStates[i], command_id: `update-${id}-${i}`, not_before: iso(NOW - 2 * HOUR),
    architecture: 'arm64', from_version: '0.1.0', updated_at: iso(NOW - i * 60e3),
    reason: { healthy: 'healthy 0.2.0 (was 0.1.0)', installing: 'installing 0.2.0 (was 0.1.0)', downloading: 'update command sent',
      rolled_back: 'rolled_back: back on 0.1.0; the new agent did not report healthy within 180 s\nJan 01 gw pvfleet-edge[812]: store: database disk image is malformed',
      failed: 'package refused: SHA-256 9f… differs from the command’s 5f…', pending: '', applied: 'config 2026-03-01.2 applied' }[siteStates[i]] ?? '' }));
  const counts = {};
  for (const st of chosen) counts[st.state] = (counts[st.state] || 0) + 1;
  return { id, version: '0.2.0', channel: 'stable', stages: [{ sites: chosen.slice(0, 2).map((x) => x.site_id) }, { percent: 100 }],
    max_failure_percent: 20, max_concurrent_downloads: 20, start_delay_max_s: 600, state: 'running', current_stage: 2, pause_reason: '',
    created_at: iso(NOW - 2 * HOUR), created_by: 'admin', counts, sites: chosen, ...extra };
}
const rollouts = [
  mockRollout(2, { kind: 'config', channel: 'candidate', version: '', config_version: '2026-03-01.2', state: 'paused', pause_reason: 'stage 2: 2 of 6 sites failed or rolled back (more than 20 %)' },
    ['applied', 'applied', 'applied', 'failed', 'rolled_back', 'pending']),
  mockRollout(1, { kind: 'software' }, SITE_STATES_MOCK),
];
const summary = ({ sites: _, ...o }) => o;
route('GET', '/api/releases', OFFICE, (req, res) => send(res, 200, { items: releases }));
route('GET', '/api/rollouts', READ, (req, res) => send(res, 200, { items: rollouts.map(summary) }));
route('GET', '/api/rollouts/{id}', READ, (req, res, p) => {
  const o = rollouts.find((x) => String(x.id) === p.id);
  return o ? send(res, 200, o) : problem(res, 404, 'Not Found', `no rollout ${p.id}`);
});
for (const action of ['pause', 'resume', 'cancel']) {
  route('POST', `/api/rollouts/{id}/${action}`, ['admin'], (req, res, p, q, u) => {
    const o = rollouts.find((x) => String(x.id) === p.id);
    if (!o) return problem(res, 404, 'Not Found', `no rollout ${p.id}`);
    const ok = { pause: ['running'], resume: ['paused'], cancel: ['running', 'paused'] }[action].includes(o.state);
    if (!ok) return problem(res, 409, 'Conflict', `rollout ${o.id} is ${o.state}: cannot ${action}`);
    o.state = { pause: 'paused', resume: 'running', cancel: 'cancelled' }[action];
    o.pause_reason = action === 'pause' ? `paused by ${u.name}` : action === 'resume' ? '' : o.pause_reason;
    return send(res, 200, summary(o));
  });
}
route('POST', '/api/rollouts', ['admin'], async (req, res) => {
  const b = await readBody(req);
  if (!b || !releases.some((r) => r.version === b.version)) return problem(res, 400, 'Bad Request', `version: no pvfleet-edge ${b?.version} uploaded`, 'version');
  let last = 0;
  for (const [i, st] of (b.stages || []).entries()) {
    if (st.percent === undefined) continue;
    if (!Number.isInteger(st.percent) || st.percent < 1 || st.percent > 100) return problem(res, 400, 'Bad Request', `stages/${i}/percent: 1..100`, `stages/${i}/percent`);
    if (st.percent <= last) return problem(res, 400, 'Bad Request', `stages/${i}/percent: percentages are cumulative and must rise (${last} before)`, `stages/${i}/percent`);
    last = st.percent;
  }
  if (rollouts.some((o) => o.channel === b.channel && ['running', 'paused'].includes(o.state))) return problem(res, 409, 'Conflict', `a rollout of channel ${b.channel} is running or paused`, 'channel');
  const o = mockRollout(rollouts.length + 1, { channel: b.channel, stages: b.stages, current_stage: 1 }, ['pending', 'pending']);
  rollouts.unshift(o);
  return send(res, 201, summary(o));
});
route('GET', '/api/sites/{site_id}/update-settings', OFFICE, (req, res, p) => send(res, 200, updateSettings.get(p.site_id) || { site_id: p.site_id, channel: 'stable', architecture: '' }));
route('PUT', '/api/sites/{site_id}/update-settings', OFFICE, async (req, res, p) => {
  const b = await readBody(req) || {};
  if (b.architecture && !/^[a-z0-9][a-z0-9-]*$/.test(b.architecture)) return problem(res, 400, 'Bad Request', `architecture: '${b.architecture}' is not a Debian architecture name`, 'architecture');
  if (b.channel && !['stable', 'candidate'].includes(b.channel)) return problem(res, 400, 'Bad Request', 'channel: stable or candidate', 'channel');
  const s = { site_id: p.site_id, channel: b.channel || 'stable', architecture: b.architecture || '' };
  updateSettings.set(p.site_id, s);
  return send(res, 200, s);
});
route('GET', '/api/health', null, (req, res) => send(res, 200, { status: 'ok', at: iso(Date.now()) }));
route('GET', '/api/openapi.json', null, (req, res) => send(res, 200, { openapi: '3.1.0', info: { title: 'pvfleet server API (mock)', version: '1' }, paths: {} }));

// ---------------------------------------------------------------- server
const types = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };
function serveStatic(req, res, pathname) {
  let rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
  if (rel.includes('..')) return problem(res, 400, 'Bad Request', "path: '..' is not allowed");
  let file = path.join(webRoot, rel);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile()) {
    if (path.extname(rel)) return problem(res, 404, 'Not Found', `no file ${pathname}`);
    file = path.join(webRoot, 'index.html');
  }
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] || 'application/octet-stream', 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' });
  fs.createReadStream(file).pipe(res);
}

http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  if (!url.pathname.startsWith('/api/')) return serveStatic(req, res, url.pathname);
  const delay = Number(process.env.MOCK_DELAY_MS || 0);
  if (delay) await new Promise((r) => setTimeout(r, delay));
  for (const r of routes) {
    const m = r.re.exec(url.pathname);
    if (!m) continue;
    if (r.method !== req.method) continue;
    const params = Object.fromEntries(r.keys.map((k, i) => [k, decodeURIComponent(m[i + 1])]));
    let u = null;
    if (r.roles) {
      u = userOf(req);
      if (!u) { res.setHeader('WWW-Authenticate', 'Bearer realm="pvfleet"'); return problem(res, 401, 'Unauthorized', 'log in first (POST /api/login), then send Authorization: Bearer <token>'); }
      if (!r.roles.includes(u.role)) return problem(res, 403, 'Forbidden', `the role ${u.role} may not ${req.method} ${url.pathname}`);
    }
    try { return await r.fn(req, res, params, url.searchParams, u); } catch (e) { console.error(e); return problem(res, 500, 'Internal Server Error', String(e)); }
  }
  problem(res, 404, 'Not Found', `no route ${req.method} ${url.pathname}`);
}).listen(port, '127.0.0.1', () => console.log(`pvfleet mock on http://127.0.0.1:${port}/ (users admin, office, tina, tom, max; password demo)${autologin ? `; autologin ${autologin}` : ''}`));
