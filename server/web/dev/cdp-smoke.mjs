// Smoke test over the Chrome DevTools protocol (no Playwright needed). Start the mock on 8093 (no autologin) and
// chromium --headless --no-sandbox --remote-debugging-port=9333 about:blank, then: node --experimental-websocket server/web/dev/cdp-smoke.mjs
const list = await (await fetch('http://127.0.0.1:9333/json/list')).json();
const page = list.find((p) => p.type === 'page');
const ws = new WebSocket(page.webSocketDebuggerUrl);
await new Promise((r) => ws.addEventListener('open', r));
let id = 0; const pending = new Map();
ws.addEventListener('message', (m) => { const d = JSON.parse(m.data); if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); } if (d.method === 'Runtime.exceptionThrown') console.log('EXC', JSON.stringify(d.params.exceptionDetails.exception?.description || d.params.exceptionDetails.text)); if (d.method==='Runtime.consoleAPICalled' && d.params.type==='error') console.log('CONSOLE', JSON.stringify(d.params.args.map(a=>a.value||a.description))); });
const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
const ev = async (expr) => { const r = await send('Runtime.evaluate', { expression: expr, awaitPromise: true, returnByValue: true }); if (r.result.exceptionDetails) return 'ERR ' + r.result.exceptionDetails.exception?.description; return r.result.result.value; };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const check = (name, ok, got) => console.log(ok ? 'PASS' : 'FAIL', name, ok ? '' : JSON.stringify(got));
await send('Runtime.enable');
await send('Page.navigate', { url: 'http://127.0.0.1:8093/#/dashboard' }); await sleep(1200);
check('redirect to login', (await ev('location.hash')).startsWith('#/login'), await ev('location.hash'));
await ev(`(() => { const $ = (s) => document.querySelector('[data-testid="' + s + '"]'); $('login-user').value = 'office'; $('login-password').value = 'wrong'; $('login-submit').click(); })()`); await sleep(500);
check('wrong password message', (await ev(`document.querySelector('[data-testid=login-error]').textContent`)).includes('Wrong'), await ev(`document.querySelector('[data-testid=login-error]').textContent`));
await ev(`(() => { const $ = (s) => document.querySelector('[data-testid="' + s + '"]'); $('login-password').value = 'demo'; $('login-submit').click(); })()`); await sleep(1200);
check('back to dashboard after login', (await ev('location.hash')) === '#/dashboard', await ev('location.hash'));
check('kpi shown', await ev(`!!document.querySelector('[data-testid=kpi-generation]')`));
await ev(`location.hash = '#/work-orders/14'`); await sleep(1200);
await ev(`(() => { const s = document.querySelector('[data-testid=assign-select]'); s.value = 'tina'; document.querySelector('[data-testid=assign-submit]').click(); })()`); await sleep(1200);
check('assigned', (await ev(`document.querySelector('[data-testid=wo-state]').textContent`)) === 'Assigned', await ev(`document.querySelector('[data-testid=wo-state]').textContent`));
// conflict: bump the version behind the page's back
await ev(`fetch('/api/work-orders/14', {method:'PATCH', headers:{'Content-Type':'application/json','If-Match':'"v2"','Authorization':'Bearer ' + JSON.parse(sessionStorage.getItem('pvfleet.session')).token}, body: JSON.stringify({assignee:'tom'})}).then(r=>r.status)`);
await ev(`document.querySelector('[data-testid="state-btn-in_progress"]').click()`); await sleep(800);
check('conflict shown', await ev(`!!document.querySelector('[data-testid=wo-conflict]')`));
await ev(`document.querySelector('[data-testid=wo-reload]').click()`); await sleep(800);
await ev(`document.querySelector('[data-testid="state-btn-in_progress"]').click()`); await sleep(800);
check('in progress', (await ev(`document.querySelector('[data-testid=wo-state]').textContent`)) === 'In progress', await ev(`document.querySelector('[data-testid=wo-state]').textContent`));
// note with part
await ev(`(() => { document.querySelector('[data-testid=note-text]').value = 'Swapped board'; document.querySelector('[data-testid=note-add-part]').click(); document.querySelector('[data-testid=part-name-0]').value='Comm board'; const d=document.querySelector('[data-testid=part-device-0]'); d.value=d.options[1].value; document.querySelector('[data-testid=part-serial-0]').value='NEW-1'; document.querySelector('[data-testid=note-submit]').click(); })()`); await sleep(1000);
check('note saved', (await ev(`document.querySelector('[data-testid=wo-notes]')?.textContent || ''`)).includes('NEW-1'), await ev(`document.querySelector('[data-testid=wo-notes]')?.textContent`));
// language
await ev(`(() => { const s = document.querySelector('[data-testid=lang-switch]'); s.value = 'zh-CN'; s.dispatchEvent(new Event('change')); })()`); await sleep(1000);
check('zh nav', (await ev(`document.querySelector('[data-testid=nav-dashboard]').textContent`)) === '总览', await ev(`document.querySelector('[data-testid=nav-dashboard]').textContent`));
check('zh remembered', (await ev(`localStorage.getItem('pvfleet.lang')`)) === 'zh-CN');
await ev(`location.hash = '#/work-orders?priority=urgent'`); await sleep(1200);
check('board filter', await ev(`[...document.querySelectorAll('[data-testid^=wo-card-]')].every(c => c.dataset.priority === 'urgent') && document.querySelectorAll('[data-testid^=wo-card-]').length > 0`));
await ev(`location.hash = '#/customers'`); await sleep(1000);
await ev(`(() => { const s = document.querySelector('[data-testid=customer-search]'); s.value = 'Schmidt'; s.dispatchEvent(new Event('input')); })()`); await sleep(900);
check('search', (await ev(`document.querySelectorAll('[data-testid^=customer-row-]').length`)) === 1, await ev(`document.querySelectorAll('[data-testid^=customer-row-]').length`));
await ev(`location.hash = '#/customers/3'`); await sleep(1200);
await ev(`document.querySelector('[data-testid=gen-mode-month]').click()`); await sleep(1000);
check('month bars', (await ev(`document.querySelectorAll('[data-testid=gen-svg] rect.bar').length`)) >= 1, await ev(`document.querySelectorAll('[data-testid=gen-svg] rect.bar').length`));
await ev(`document.querySelector('[data-testid=gen-mode-year]').click()`); await sleep(1500);
check('year bars', (await ev(`document.querySelectorAll('[data-testid=gen-svg] rect.bar').length`)) >= 1, await ev(`document.querySelectorAll('[data-testid=gen-svg] rect.bar').length`));
await ev(`(() => { document.querySelector('[data-testid=customer-edit]').click(); document.querySelector('[data-testid=customer-field-phone]').value = '+49 1'; document.querySelector('[data-testid=customer-save]').click(); })()`); await sleep(800);
check('customer saved', (await ev(`document.querySelector('[data-testid=customer-contact]').textContent`)).includes('+49 1'), await ev(`document.querySelector('[data-testid=customer-contact]').textContent`));
const csv = await ev(`import('/js/csv.js').then(m => m.toCsv([{a:'x,"y"', b:'王伟\\nz'}], [{label:'A', value:r=>r.a},{label:'B', value:r=>r.b}]))`);
check('csv quoting', csv === 'A,B\r\n"x,""y""","王伟\nz"\r\n', csv);
// manager: read only
await ev(`document.querySelector('[data-testid=logout]').click()`); await sleep(800);
await ev(`(() => { const $ = (s) => document.querySelector('[data-testid="' + s + '"]'); $('login-user').value = 'max'; $('login-password').value = 'demo'; $('login-submit').click(); })()`); await sleep(1000);
await ev(`location.hash = '#/work-orders/4'`); await sleep(1200);
check('manager read-only', await ev(`!document.querySelector('[data-testid=assign-select]') && !document.querySelector('[data-testid^=state-btn-]') && !!document.querySelector('[data-testid=read-only]')`));
await ev(`document.querySelector('[data-testid=logout]').click()`); await sleep(800);
await ev(`(() => { const $ = (s) => document.querySelector('[data-testid="' + s + '"]'); $('login-user').value = 'tina'; $('login-password').value = 'demo'; $('login-submit').click(); })()`); await sleep(1500);
check('tech lands on my', (await ev('location.hash')) === '#/my', await ev('location.hash'));
await ev(`location.hash = '#/dashboard'`); await sleep(500);
check('tech kept out of dashboard', (await ev('location.hash')) === '#/my', await ev('location.hash'));
await ev(`location.hash = '#/work-orders/4'`); await sleep(1200);
check('tech redirected to my/4', (await ev('location.hash')) === '#/my/4', await ev('location.hash'));
await ev(`document.querySelector('[data-testid="state-btn-in_progress"]').click()`); await sleep(900);
check('tech start', (await ev(`document.querySelector('[data-testid=wo-state]').textContent`)), await ev(`document.querySelector('[data-testid=wo-state]').textContent`));
await ev(`window.prompt = () => 'on my way'; document.querySelector('[data-testid=ticket-acknowledge]').click()`); await sleep(800);
check('ack toast', await ev(`!!document.querySelector('[data-testid=toast-success]')`));
ws.close(); process.exit(0);
