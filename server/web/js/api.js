// REST client: JSON in and out, Bearer token from sessionStorage (plus the HttpOnly session cookie the server
// sets), problem+json errors as ApiError, ETags for If-Match. A 401 anywhere but the login ends the session.
const SESSION_KEY = 'pvfleet.session';

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.field = problem?.field;
  }
}

let session = null;
try { session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null'); } catch { session = null; }
let onUnauthorized = () => {};

export function getSession() { return session; }
export function setSession(s) {
  session = s;
  try {
    if (s) sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
    else sessionStorage.removeItem(SESSION_KEY);
  } catch { /* storage unavailable: the cookie still carries the session */ }
}
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** Query string from an object, leaving out empty values. */
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== null && v !== '' && v !== false) p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

/**
 * request('GET', '/api/x') → {data, etag, status}. Options: body (JSON), ifMatch (ETag), signal.
 */
export async function request(method, path, { body, ifMatch, signal } = {}) {
  const headers = { Accept: 'application/json, application/problem+json' };
  if (session?.token) headers.Authorization = `Bearer ${session.token}`;
  // The server answers 415 to any state-changing request not typed as JSON, even without a body.
  if (body !== undefined || (method !== 'GET' && method !== 'HEAD')) headers['Content-Type'] = 'application/json';
  if (ifMatch) headers['If-Match'] = ifMatch;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin', signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, { title: 'Network error', detail: '' });
  }
  const type = res.headers.get('Content-Type') || '';
  let data = null;
  if (type.includes('json')) {
    try { data = await res.json(); } catch { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw new ApiError(res.status, data || { title: res.statusText, status: res.status });
  }
  return { data, etag: res.headers.get('ETag'), status: res.status };
}

export const get = async (path, opts) => (await request('GET', path, opts)).data;
export const post = async (path, body, opts) => (await request('POST', path, { ...opts, body })).data;

/** Every page of a cursor-paginated list (for CSV export); stops after `max` items. */
export async function getAll(path, params = {}, max = 20000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(path + qs({ ...params, limit: 500, cursor }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
