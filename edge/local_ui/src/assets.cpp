#include "assets.hpp"

namespace pvfleet::local_ui::assets {

// The page's markup: a login form and two tabs (live, commissioning); app.js fills them in.
const std::string_view kIndexHtml = R"html(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>pvfleet gateway</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/local/app.css">
<script src="/local/app.js" defer></script></head>
<body>
<header><b id="site">pvfleet gateway</b> <span id="version"></span>
<span id="link" data-testid="link-state"></span>
<button id="logout" hidden>Log out</button></header>
<main>
<form id="login" hidden>
<h2>Log in</h2>
<input id="password" type="password" autocomplete="current-password" placeholder="Password" data-testid="login-password" required>
<button data-testid="login-submit">Log in</button>
<p class="err" id="login-error" data-testid="login-error"></p>
</form>
<div id="app" hidden>
<nav><button data-tab="live" id="tab-live" class="on" data-testid="tab-live">Live</button><button data-tab="setup" id="tab-setup" data-testid="tab-setup">Commissioning</button></nav>
<section id="live">
<h2>Today</h2><div id="today" data-testid="today"></div>
<h2>Devices</h2><div id="devices"></div>
<h2>Tickets</h2><div id="tickets"></div>
<p class="muted" id="updated"></p>
</section>
<section id="setup" hidden>
<div id="guide" class="card" data-testid="commissioning-guide" hidden>
<h3>New gateway: no site config yet</h3>
<p>Nothing is polled until a site config is saved. Three steps:</p>
<ol><li><b>Scan</b> the bus (the inverter's or RS-485 gateway's HOST:PORT) for the unit ids that answer.</li>
<li><b>Probe</b> each unit: make, model, serial and the register map (profile) that reads it.</li>
<li><b>Write the site config</b> below from what you found (site id, location, endpoint, inverters with unit
and profile, arrays), <b>Validate</b>, then <b>Save</b>: the agent starts with it.</li></ol>
<p class="err" id="guide-note" data-testid="commissioning-note"></p>
</div>
<h2>Join the fleet</h2>
<p class="muted">The enrollment code from the back office (or its QR code) and the server's address: the gateway makes
its key here and gets its certificate.</p>
<form id="enroll"><input name="server" placeholder="https://pv.example.com" data-testid="enroll-server" size="30">
<input name="code" placeholder="XXXX-XXXX-XXXX-XXXX" autocomplete="off" autocapitalize="characters" data-testid="enroll-code">
<button data-testid="enroll-start">Enroll</button></form>
<pre id="enroll-out" data-testid="enroll-result"></pre>
<h2>Scan a bus</h2>
<form id="scan"><select name="endpoint"></select>
<input name="tcp" placeholder="or HOST:PORT" data-testid="scan-tcp">
<input name="unit_from" type="number" min="0" max="247" value="1" aria-label="first unit">
<input name="unit_to" type="number" min="0" max="247" value="10" aria-label="last unit">
<button data-testid="scan-start">Scan</button></form>
<pre id="scan-out" data-testid="scan-result"></pre>
<h2>Probe a device</h2>
<form id="probe"><select name="device_id"></select>
<input name="tcp" placeholder="or HOST:PORT" data-testid="probe-tcp"><input name="unit" type="number" min="0" max="247" value="1" aria-label="unit">
<input name="profile" placeholder="auto"><button data-testid="probe-start">Probe</button></form>
<div id="probe-out" data-testid="probe-result"></div>
<h2>Site config</h2>
<textarea id="config" spellcheck="false" data-testid="config-text"></textarea>
<p><button id="cfg-load">Reload</button> <button id="cfg-validate" data-testid="config-validate">Validate</button>
<button id="cfg-save" data-testid="config-save">Save and restart</button></p>
<ul id="cfg-out" data-testid="config-result"></ul>
</section>
</div>
</main></body></html>
)html";

// Plain script, no framework: fetch the JSON API, build rows with textContent (never innerHTML with data).
const std::string_view kAppJs = R"js('use strict';
const $ = (s) => document.querySelector(s);
const el = (tag, text, attrs) => {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
};
let timer = null, state = null;

async function api(method, path, body, raw) {
  const opt = {method, credentials: 'same-origin', headers: {}};
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = raw ? body : JSON.stringify(body);
  }
  const r = await fetch('/local/api/' + path, opt);
  if (r.status === 401 && path !== 'login') { showLogin(); throw new Error('log in first'); }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (e) { data = text; }
  return {status: r.status, data};
}

function showLogin() {
  clearInterval(timer); timer = null;
  $('#app').hidden = true; $('#logout').hidden = true; $('#login').hidden = false;
  $('#password').focus();
}

function showApp() {
  $('#login').hidden = true; $('#app').hidden = false; $('#logout').hidden = false;
  refresh();
  if (!timer) timer = setInterval(refresh, 5000);
}

const fmt = (v, unit, digits) => (v === null || v === undefined) ? '–' : Number(v).toFixed(digits ?? 0) + (unit ? ' ' + unit : '');
const ago = (t) => t ? new Date(t).toLocaleTimeString() : 'never';

function renderLink(l) {
  const s = l.configured === false ? 'local only' :
    (l.broker_connected ? 'online' : 'broker offline') + ' · backlog ' + l.backlog_depth +
    (l.last_status_at ? ' · status ' + ago(l.last_status_at) : '');
  const e = $('#link'); e.textContent = s; e.className = l.broker_connected ? 'ok' : 'warn';
}

function renderToday(t) {
  const box = $('#today'); box.replaceChildren();
  const tb = el('table');
  tb.append(el('tr')); tb.lastChild.append(el('th', 'Device'), el('th', 'Today'), el('th', 'Clear-sky expected'));
  const row = (name, e, x) => { const tr = el('tr'); tr.append(el('td', name), el('td', fmt(e, 'kWh', 1)), el('td', fmt(x, 'kWh', 1))); tb.append(tr); };
  for (const d of t.devices) row(d.id, d.energy_kwh, d.expected_kwh);
  row('Total', t.energy_kwh, t.expected_kwh);
  box.append(tb);
}

function renderDevices(list) {
  const box = $('#devices'); box.replaceChildren();
  for (const d of list) {
    const c = el('div', null, {class: 'card ' + d.state, 'data-testid': 'device-' + d.id});
    const r = d.readings || {};
    c.append(el('h3', d.id + ' · ' + d.state), el('p', fmt(r.ac_power_w, 'W') + ' · total ' + fmt(r.energy_total_wh == null ? null : r.energy_total_wh / 1000, 'kWh', 1) +
      (r.inverter_state ? ' · ' + r.inverter_state : '')));
    for (const [k, v] of Object.entries(r.arrays || {})) c.append(el('p', k + ': ' + v.map((x) => fmt(x, '', 1)).join(' / '), {class: 'muted'}));
    if ((r.events || []).length) c.append(el('p', 'events: ' + r.events.join(', '), {class: 'err'}));
    c.append(el('p', 'last poll ' + ago(d.last_ok_poll), {class: 'muted'}));
    box.append(c);
  }
}

function renderTickets(list) {
  const box = $('#tickets'); box.replaceChildren();
  if (!list.length) box.append(el('p', 'No open tickets.', {class: 'muted'}));
  for (const t of list) {
    const row = el('div', null, {class: 'card ticket ' + t.severity, 'data-testid': 'ticket-' + t.id});
    row.append(el('h3', t.device_id + (t.input ? ' · MPPT ' + t.input : '') + ' · ' + t.kind + ' · ' + t.state, {'data-testid': 'ticket-state-' + t.id}), el('p', t.summary));
    if (t.acknowledged_by) row.append(el('p', 'acknowledged by ' + t.acknowledged_by + (t.acknowledge_note ? ': ' + t.acknowledge_note : ''), {class: 'muted'}));
    const note = el('input', null, {placeholder: 'note', 'data-testid': 'note-' + t.id});
    const act = (what, label) => {
      const b = el('button', label, {'data-testid': (what === 'acknowledge' ? 'ack-' : 'resolve-') + t.id});
      b.onclick = async () => {
        b.disabled = true;
        const r = await api('POST', 'tickets/' + encodeURIComponent(t.id) + '/' + what, {note: note.value});
        if (r.status !== 200) alert((r.data && r.data.error) || 'failed');
        refresh();
      };
      return b;
    };
    if (t.state === 'open') row.append(note, act('acknowledge', 'Acknowledge'), act('resolve', 'Resolve'));
    else row.append(note, act('resolve', 'Resolve'));
    box.append(row);
  }
}

function fillSelect(sel, items, empty) {
  const cur = sel.value;
  sel.replaceChildren(el('option', empty, {value: ''}), ...items.map((i) => el('option', i, {value: i})));
  sel.value = cur;
}

async function refresh() {
  let r;
  try { r = await api('GET', 'state'); } catch (e) { return; }
  if (r.status !== 200) { $('#updated').textContent = 'state: ' + ((r.data && r.data.error) || r.status); return; }
  const was = state && state.mode;
  state = r.data;
  if (state.mode === 'commissioning') return renderCommissioning(state);
  $('#guide').hidden = true; $('#tab-live').hidden = false;
  if (was === 'commissioning') { $('#tab-live').click(); loadConfig(); $('#cfg-save').textContent = 'Save and restart'; }
  $('#site').textContent = state.site_id; $('#version').textContent = 'config ' + state.config_version;
  renderLink(state.link); renderToday(state.today); renderDevices(state.devices); renderTickets(state.tickets);
  fillSelect($('#scan [name=endpoint]'), state.endpoints || [], 'endpoint…');
  fillSelect($('#probe [name=device_id]'), state.devices.map((d) => d.id), 'device…');
  $('#updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

// No site config yet: the commissioning tab alone, with the installer's three steps.
function renderCommissioning(st) {
  $('#site').textContent = 'new gateway'; $('#version').textContent = 'commissioning';
  $('#link').textContent = ''; $('#guide').hidden = false; $('#tab-live').hidden = true;
  $('#cfg-save').textContent = 'Save and start';
  $('#guide-note').textContent = st.last_config_change || '';
  if ($('#setup').hidden) $('#tab-setup').click();
  fillSelect($('#scan [name=endpoint]'), [], 'endpoint…');
  fillSelect($('#probe [name=device_id]'), [], 'device…');
}

async function job(kind, body, out) {
  out.replaceChildren(el('span', 'running…'));
  let r = await api('POST', kind, body);
  while (r.status < 300 && r.data.state === 'running') {
    await new Promise((ok) => setTimeout(ok, 1000));
    r = await api('GET', 'jobs/' + r.data.id);
  }
  if (r.status >= 300 || r.data.state === 'failed') { out.replaceChildren(el('span', (r.data && r.data.error) || 'failed', {class: 'err'})); return null; }
  return r.data.result;
}

function formBody(form) {
  const b = {};
  for (const [k, v] of new FormData(form)) { if (v !== '') b[k] = form[k].type === 'number' ? Number(v) : v; }
  return b;
}

async function enroll(ev) {
  ev.preventDefault();
  const out = $('#enroll-out'), res = await job('enroll', formBody(ev.target), out);
  if (!res) return;
  out.textContent = 'enrolled as site ' + res.site_id + '\n' + (res.lines || []).join('\n');
}

async function scan(ev) {
  ev.preventDefault();
  const out = $('#scan-out'), res = await job('scan', formBody(ev.target), out);
  if (!res) return;
  out.textContent = res.endpoint + '\n' + (res.units.length ? res.units.map((u) => 'unit ' + u.unit + ': ' + u.answer + ' (' + u.detail + ')').join('\n') : 'no unit answered' + (res.link_error ? ': ' + res.link_error : ''));
}

async function probe(ev) {
  ev.preventDefault();
  const out = $('#probe-out'), res = await job('probe', formBody(ev.target), out);
  if (!res) return;
  const tb = el('table'), dev = res.device || {};
  out.replaceChildren(el('p', [dev.vendor, dev.model, dev.serial && 'serial ' + dev.serial, dev.profile && '(' + dev.profile + ')'].filter(Boolean).join(' ')), tb);
  if (res.mppt_inputs) {
    // Per-input readings as the device reported them, for checking which strings are wired where.
    const mt = el('table', null, {'data-testid': 'probe-mppt'}), head = el('tr');
    const fmt = (v, u) => v === null || v === undefined ? '-' : v + ' ' + u;
    head.append(el('th', 'MPPT'), el('th', 'V'), el('th', 'A'), el('th', 'W'));
    mt.append(head);
    for (const m of res.mppt_inputs) { const tr = el('tr'); tr.append(el('td', String(m.input)), el('td', fmt(m.voltage_v, 'V')), el('td', fmt(m.current_a, 'A')), el('td', fmt(m.power_w, 'W'))); mt.append(tr); }
    out.append(mt);
  }
  for (const [k, v] of Object.entries(res.points || {})) { const tr = el('tr'); tr.append(el('td', k), el('td', typeof v === 'object' ? JSON.stringify(v) : String(v))); tb.append(tr); }
}

async function loadConfig() {
  const r = await api('GET', 'config');
  $('#config').value = typeof r.data === 'string' ? r.data : JSON.stringify(r.data, null, 2);
}

async function config(what) {
  const out = $('#cfg-out');
  if (what === 'save' && !confirm('Install this config and (re)start the agent?')) return;
  const r = await api('POST', 'config/' + what, $('#config').value, true);
  const errs = (r.data && r.data.errors) || (r.data && r.data.error ? [r.data.error] : []);
  out.replaceChildren(...(errs.length ? errs.map((e) => el('li', e, {class: 'err'})) :
    [el('li', what === 'save' ? 'Saved: starting with config ' + r.data.config_version : 'Valid.', {class: 'ok'})]));
  if (what === 'save' && !errs.length) setTimeout(refresh, 1500);
}

document.addEventListener('DOMContentLoaded', () => {
  $('#login').onsubmit = async (ev) => {
    ev.preventDefault();
    const r = await api('POST', 'login', {password: $('#password').value});
    $('#password').value = '';
    if (r.status === 204) { $('#login-error').textContent = ''; showApp(); }
    else $('#login-error').textContent = (r.data && r.data.error) || 'login failed';
  };
  $('#logout').onclick = async () => { await api('POST', 'logout', {}); showLogin(); };
  for (const b of document.querySelectorAll('nav button')) {
    b.onclick = () => {
      for (const o of document.querySelectorAll('nav button')) { o.classList.toggle('on', o === b); $('#' + o.dataset.tab).hidden = o !== b; }
      if (b.dataset.tab === 'setup' && !$('#config').value) loadConfig();
    };
  }
  $('#scan').onsubmit = scan; $('#probe').onsubmit = probe; $('#enroll').onsubmit = enroll;
  $('#cfg-load').onclick = loadConfig;
  $('#cfg-validate').onclick = () => config('validate'); $('#cfg-save').onclick = () => config('save');
  api('GET', 'state').then((r) => { if (r.status === 200) showApp(); }).catch(() => {});
});
)js";

// Phone first: one column, large touch targets; wider screens get a grid of device cards.
const std::string_view kAppCss = R"css(*{box-sizing:border-box}
body{margin:0;font:16px/1.4 system-ui,sans-serif;color:#222;background:#f4f5f7}
header{display:flex;flex-wrap:wrap;gap:.5em;align-items:center;padding:.6em 1em;background:#1d3557;color:#fff}
header #logout{margin-left:auto}
main{padding:1em;max-width:1100px;margin:auto}
h2{font-size:1.1em;margin:1.2em 0 .4em}h3{font-size:1em;margin:0 0 .3em}
nav{display:flex;gap:.5em}nav button.on{background:#1d3557;color:#fff}
button,input,select{font:inherit;padding:.5em .7em;border:1px solid #aab;border-radius:6px;background:#fff;min-height:2.6em}
button{cursor:pointer}input,select{max-width:100%}
form{display:flex;flex-wrap:wrap;gap:.5em}[hidden]{display:none!important}
#login{flex-direction:column;max-width:20em;margin:3em auto}
#devices,#tickets{display:grid;gap:.6em;grid-template-columns:repeat(auto-fill,minmax(16em,1fr))}
.card{background:#fff;border-radius:8px;padding:.7em;border-left:5px solid #2a9d8f}
.card p{margin:.2em 0}.card input{width:100%;margin:.3em 0}
.card.asleep{border-color:#8d99ae}.card.offline,.card.critical,.card.major{border-color:#e63946}.card.minor{border-color:#f4a261}
table{border-collapse:collapse;background:#fff;width:100%}td,th{padding:.35em .5em;border-bottom:1px solid #e4e6ea;text-align:left}
textarea{width:100%;min-height:22em;font:13px/1.3 monospace}
pre{white-space:pre-wrap;background:#fff;padding:.5em}
.muted{color:#667;font-size:.9em}.err{color:#c1121f}.ok{color:#2a9d8f}
header .ok{color:#8ee4af}header .warn{color:#ffd166}
)css";

}  // namespace pvfleet::local_ui::assets
