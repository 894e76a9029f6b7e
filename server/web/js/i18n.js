// Strings, dates and numbers in the chosen language. Every visible string goes through t(); tables live in
// ../i18n/<lang>.js. Missing keys fall back to English, then to the key itself (visible in the UI, easy to spot).
import en from '../i18n/en.js';
import zhCN from '../i18n/zh-CN.js';

const tables = { en, 'zh-CN': zhCN };
export const LANGUAGES = [
  { code: 'en', label: 'English' },
  { code: 'zh-CN', label: '中文' },
];
const KEY = 'pvfleet.lang';

function initial() {
  let saved = null;
  try { saved = localStorage.getItem(KEY); } catch { /* private mode */ }
  if (saved && tables[saved]) return saved;
  return (navigator.language || '').toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

let lang = initial();
const listeners = new Set();
document.documentElement.lang = lang;

export function getLang() { return lang; }

export function setLang(code) {
  if (!tables[code] || code === lang) return;
  lang = code;
  try { localStorage.setItem(KEY, code); } catch { /* ignore */ }
  document.documentElement.lang = code;
  for (const fn of listeners) fn(code);
}

export function onLangChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

/** t('wo.count', {n: 3}) — replaces {name} placeholders. */
export function t(key, params) {
  let str = tables[lang][key] ?? tables.en[key] ?? key;
  if (params) str = str.replace(/\{(\w+)\}/g, (m, k) => (params[k] !== undefined ? String(params[k]) : m));
  return str;
}

/** Enum values from the API (state, priority, fault kind, severity, sla, role): unknown ones show as they are. */
export function tEnum(kind, value) {
  if (value === null || value === undefined || value === '') return '—';
  const key = `${kind}.${value}`;
  return tables[lang][key] ?? tables.en[key] ?? String(value);
}

const cache = new Map();
function fmt(kind, opts) {
  const k = `${lang}|${kind}|${JSON.stringify(opts)}`;
  if (!cache.has(k)) cache.set(k, kind === 'n' ? new Intl.NumberFormat(lang, opts) : new Intl.DateTimeFormat(lang, opts));
  return cache.get(k);
}

export function fmtNumber(n, digits = 0, more = {}) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return fmt('n', { maximumFractionDigits: digits, minimumFractionDigits: more.min ?? digits, ...more }).format(n);
}

export function fmtPercent(ratio, digits = 0) {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return fmt('n', { style: 'percent', maximumFractionDigits: digits, signDisplay: 'exceptZero' }).format(ratio);
}

function toDate(v) { return v instanceof Date ? v : new Date(v); }

export function fmtDateTime(v, timeZone) {
  if (!v) return '—';
  const d = toDate(v);
  if (Number.isNaN(d.getTime())) return '—';
  return fmt('d', { dateStyle: 'medium', timeStyle: 'short', ...(timeZone ? { timeZone } : {}) }).format(d);
}

export function fmtDate(v, opts = { dateStyle: 'medium' }) {
  if (!v) return '—';
  const d = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v) ? new Date(`${v}T12:00:00Z`) : toDate(v);
  if (Number.isNaN(d.getTime())) return '—';
  return fmt('d', { ...opts, ...(typeof v === 'string' && v.length === 10 ? { timeZone: 'UTC' } : {}) }).format(d);
}

export function fmtTime(v, timeZone) {
  return fmt('d', { hour: '2-digit', minute: '2-digit', ...(timeZone ? { timeZone } : {}) }).format(toDate(v));
}

/** Custom Intl.DateTimeFormat options (e.g. axis labels). */
export function fmtWith(v, opts) { return fmt('d', opts).format(toDate(v)); }

/** A duration as the largest sensible unit: "45 min", "5 h", "3 d" (Intl unit formatting). */
export function fmtDuration(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  const a = Math.abs(ms);
  let out;
  if (a < 3600e3) out = fmt('n', { style: 'unit', unit: 'minute', unitDisplay: 'short', maximumFractionDigits: 0 }).format(Math.max(1, Math.round(a / 60e3)));
  else if (a < 48 * 3600e3) out = fmt('n', { style: 'unit', unit: 'hour', unitDisplay: 'short', maximumFractionDigits: 0 }).format(Math.round(a / 3600e3));
  else out = fmt('n', { style: 'unit', unit: 'day', unitDisplay: 'short', maximumFractionDigits: 0 }).format(Math.round(a / 86400e3));
  return neg ? `−${out}` : out;
}

export function fmtHours(h) {
  if (h === null || h === undefined) return '—';
  return fmt('n', { style: 'unit', unit: 'hour', unitDisplay: 'short', maximumFractionDigits: 1 }).format(h);
}
