// The CSV import of the back office (leads, projects: docs/crm.md, docs/projects.md): a file read in the browser and
// sent whole; the server writes every row or none and names each refused cell by line and column, listed here so
// the spreadsheet can be mended and sent again.
import { h, mount } from './dom.js';
import { t, fmtNumber } from './i18n.js';
import { post, ApiError } from './api.js';
import { card, table, busy, errorText, toast } from './ui.js';

// The largest file sent (the transport's body limit; the server bounds the rows itself).
const MAX_BYTES = 1024 * 1024 - 1024;

// `path`: the import route; `summary(report)`: the line shown after a committed import; `onDone`: reload the list.
export function importCard({ path, testid, summary, onDone }) {
  const file = h('input', { type: 'file', accept: '.csv,text/csv', testid: `${testid}-file` });
  const result = h('div', { testid: `${testid}-result` });
  const send = h('button', { class: 'btn btn-secondary', type: 'button', testid: `${testid}-send`,
    onClick: () => busy(send, async () => {
      const f = file.files?.[0];
      if (!f) { toast(t('import.choose'), 'error'); return; }
      if (f.size > MAX_BYTES) { mount(result, h('div', { class: 'alert alert-error' }, t('import.too_large', { mb: fmtNumber(MAX_BYTES / 1048576, 1) }))); return; }
      const csv = await f.text();
      try {
        const report = await post(path, { csv });
        mount(result, h('div', { class: 'alert alert-success', testid: `${testid}-done` }, summary(report)));
        onDone?.();
      } catch (e) {
        if (e instanceof ApiError && e.status === 422 && Array.isArray(e.problem.errors)) {
          mount(result,
            h('div', { class: 'alert alert-error', testid: `${testid}-refused` }, t('import.refused', { n: e.problem.errors.length, rows: e.problem.rows })),
            table(e.problem.errors, [
              { label: t('import.line'), value: (x) => String(x.line), class: 'num' },
              { label: t('import.column'), value: (x) => h('code', {}, x.column || '—') },
              { label: t('import.problem'), value: (x) => x.message },
            ], { testid: `${testid}-errors` }));
        } else {
          mount(result, h('div', { class: 'alert alert-error' }, errorText(e)));
        }
      }
    }) }, t('import.send'));
  return card(t('import.title'), h('div', { class: 'form' },
    h('p', { class: 'muted small' }, t('import.hint')),
    h('div', { class: 'form-actions' }, file, send), result), { testid });
}
