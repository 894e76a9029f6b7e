// CSV export, client-side: RFC 4180 (fields with comma, quote, CR or LF quoted; quotes doubled; CRLF line ends)
// with a UTF-8 byte-order mark so Excel opens Chinese text correctly.
//
// Formula injection (OWASP "CSV Injection"): a spreadsheet runs a cell that starts with = + - @ TAB or CR as a
// formula (`=HYPERLINK(...)` in a customer's name), some also after leading spaces. Such a text cell gets a
// single quote in front, inside a quoted field, so it shows as the text it is. Only strings are neutralised: a
// JavaScript number (an id, an energy figure such as -12.5) stays a number the spreadsheet can sum.
const FORMULA_START = /^(?:[\t\r]|\s*[=+\-@])/;

export function csvField(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  const s = String(v);
  if (FORMULA_START.test(s)) return `"'${s.replace(/"/g, '""')}"`;
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** columns: [{label, value: row => any}] */
export function toCsv(rows, columns) {
  const lines = [columns.map((c) => csvField(c.label)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvField(c.value(r))).join(','));
  return `${lines.join('\r\n')}\r\n`;
}

export function downloadCsv(filename, rows, columns) {
  const blob = new Blob(['\uFEFF', toCsv(rows, columns)], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function stamp(d = new Date()) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}-${p(d.getHours())}${p(d.getMinutes())}`;
}
