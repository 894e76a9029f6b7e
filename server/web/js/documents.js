// The documents card of the customer, project and work-order pages (docs/documents.md): thumbnails served at
// size=thumb that open the phone size, PDFs as downloads, upload with category and caption (on a phone the
// camera opens: capture="environment"), delete for whoever may; and the serial scanner of the visit form
// (BarcodeDetector and the rear camera, shown only where both exist; typing always works).
import { h, mount } from './dom.js';
import { t, tEnum, fmtDateTime } from './i18n.js';
import { get, request, getSession, ApiError } from './api.js';
import { card, role, toast, errorText, busy } from './ui.js';

export const DOC_CATEGORIES = ['survey_photo', 'roof', 'wiring', 'serial_plate', 'signed_contract', 'grid_approval', 'other'];

/** POST the file's bytes as they are; the server sniffs the type. → the document. */
export async function uploadDocument(path, file, { category, caption }) {
  const params = new URLSearchParams({ category, name: file.name || '' });
  if (caption) params.set('caption', caption);
  const headers = { 'Content-Type': 'application/octet-stream', Accept: 'application/json, application/problem+json' };
  const token = getSession()?.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(`${path}?${params}`, { method: 'POST', headers, body: file, credentials: 'same-origin' });
  } catch {
    throw new ApiError(0, { title: 'Network error', detail: '' });
  }
  let data = null;
  try { data = await res.json(); } catch { data = null; }
  if (!res.ok) throw new ApiError(res.status, data || { title: res.statusText, status: res.status });
  return data;
}

/**
 * kind: 'customers' | 'projects' | 'work-orders'. writers: the roles that may add (the server checks the owner).
 * capture: open the rear camera on phones.
 */
export function documentsCard(kind, ownerId, { writers, capture = false, signal } = {}) {
  const base = `/api/${kind}/${ownerId}/documents`;
  const list = h('div', { class: 'doc-grid', testid: 'doc-list' }, h('div', { class: 'muted' }, t('common.loading')));
  const writable = (writers || []).includes(role());
  const err = h('div', { class: 'alert alert-error', hidden: true, role: 'alert', testid: 'doc-error' });

  async function load() {
    try {
      const res = await get(base, { signal });
      draw(res.items || []);
    } catch (e) {
      if (e.name === 'AbortError') return;
      mount(list, h('div', { class: 'alert alert-error' }, errorText(e)));
    }
  }

  function draw(items) {
    if (!items.length) { mount(list, h('p', { class: 'muted', testid: 'doc-empty' }, t('docs.none'))); return; }
    mount(list, items.map((d) => {
      const label = d.caption || d.file_name;
      const preview = d.thumb_url
        ? h('a', { href: d.phone_url, target: '_blank', rel: 'noopener', class: 'doc-thumb-link', testid: `doc-open-${d.id}` },
          h('img', { src: d.thumb_url, alt: label, loading: 'lazy', class: 'doc-thumb', testid: 'doc-thumb' }))
        : h('a', { href: d.content_url, download: d.file_name, class: 'doc-file', testid: `doc-file-${d.id}` }, '📄 ', d.file_name);
      const del = writable ? h('button', { class: 'btn btn-ghost btn-icon', type: 'button', 'aria-label': t('docs.delete'), testid: `doc-delete-${d.id}` }, '✕') : null;
      del?.addEventListener('click', () => busy(del, async () => {
        if (!window.confirm(t('docs.delete_confirm', { name: d.file_name }))) return;
        try {
          await request('DELETE', `/api/documents/${d.id}`);
          toast(t('docs.deleted'), 'success');
          await load();
        } catch (e) { toast(errorText(e), 'error'); }
      }));
      return h('figure', { class: 'doc', testid: `doc-${d.id}` }, preview,
        h('figcaption', {}, h('span', { class: 'chip' }, tEnum('doc_category', d.category)), ' ', label,
          h('div', { class: 'muted small' }, `${d.uploaded_by} · ${fmtDateTime(d.uploaded_at)}`), del));
    }));
  }

  let form = null;
  if (writable) {
    const category = h('select', { testid: 'doc-category', 'aria-label': t('docs.category') },
      DOC_CATEGORIES.map((c) => h('option', { value: c }, tEnum('doc_category', c))));
    const caption = h('input', { type: 'text', maxlength: 200, testid: 'doc-caption', placeholder: t('docs.caption'), 'aria-label': t('docs.caption') });
    const file = h('input', { type: 'file', accept: 'image/*,application/pdf', testid: 'doc-file-input', 'aria-label': t('docs.file') });
    // On a phone the camera opens straight away; desktops ignore the attribute.
    if (capture) file.setAttribute('capture', 'environment');
    const submit = h('button', { class: 'btn btn-primary', type: 'submit', testid: 'doc-upload' }, t('docs.upload'));
    form = h('form', {
      class: 'form doc-form', testid: 'doc-form',
      onSubmit: async (ev) => {
        ev.preventDefault();
        err.hidden = true;
        const f = file.files?.[0];
        if (!f) { file.focus(); return; }
        await busy(submit, async () => {
          try {
            await uploadDocument(base, f, { category: category.value, caption: caption.value.trim() });
            toast(t('docs.uploaded'), 'success');
            file.value = '';
            caption.value = '';
            await load();
          } catch (e) {
            err.textContent = e.status === 413 ? t('docs.too_large') : e.status === 415 ? t('docs.wrong_type') : errorText(e);
            err.hidden = false;
          }
        });
      },
    }, h('div', { class: 'inline' }, category, caption), h('div', { class: 'inline' }, file, submit), err);
  }
  load();
  return card(t('docs.title'), [list, form], { testid: 'documents-card' });
}

/** The scan button beside a serial field: null where the browser cannot detect barcodes. */
export function serialScanButton(input) {
  if (!('BarcodeDetector' in window) || !navigator.mediaDevices?.getUserMedia) return null;
  const btn = h('button', { class: 'btn btn-secondary', type: 'button', hidden: true, testid: 'serial-scan', 'aria-label': t('scan.button') }, t('scan.button'));
  // Only with a camera (enumerateDevices lists video inputs without asking for permission).
  (navigator.mediaDevices.enumerateDevices ? navigator.mediaDevices.enumerateDevices() : Promise.resolve([]))
    .then((devices) => { btn.hidden = !devices.some((d) => d.kind === 'videoinput'); })
    .catch(() => { btn.hidden = true; });
  btn.addEventListener('click', () => scan(input));
  return btn;
}

async function scan(input) {
  const video = h('video', { autoplay: true, muted: true, playsinline: true, class: 'scan-video', testid: 'scan-video' });
  video.muted = true;  // the property, not only the attribute: autoplay needs it
  const status = h('p', { class: 'muted', testid: 'scan-status' }, t('scan.looking'));
  let stream = null;
  let done = false;
  const close = () => {
    done = true;
    stream?.getTracks().forEach((tr) => tr.stop());
    overlay.remove();
  };
  const overlay = h('div', { class: 'scan-overlay', role: 'dialog', 'aria-label': t('scan.title'), testid: 'scan-overlay' },
    h('div', { class: 'scan-box' }, h('h3', {}, t('scan.title')), video, status,
      h('button', { class: 'btn', type: 'button', testid: 'scan-cancel', onClick: close }, t('common.cancel'))));
  document.body.append(overlay);
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    video.srcObject = stream;
    await video.play().catch(() => {});
    const detector = new window.BarcodeDetector();
    while (!done) {
      let codes = [];
      try { codes = await detector.detect(video); } catch { codes = []; }
      const value = codes.find((c) => c.rawValue)?.rawValue;
      if (value) {
        input.value = value.trim();
        input.dispatchEvent(new Event('input', { bubbles: true }));
        toast(t('scan.found', { value: input.value }), 'success');
        close();
        input.focus();
        return;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    if (done) return;
    status.textContent = t('scan.failed');
    console.warn('serial scan', e);
  }
}
