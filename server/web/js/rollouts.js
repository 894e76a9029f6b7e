// Rollout logic without the DOM (docs/updates.md, "Rollouts"): the stage editor's rows as the API's stages, where a
// server error's key path belongs in the form, and which per-site states the view knows. No imports, so
// tests/unit/web/rollouts_test.mjs runs it under node.

/** Per-site states in their order along an update; any other name from the server is shown neutrally. */
export const SITE_STATES = ['pending', 'downloading', 'installing', 'healthy', 'rolled_back', 'failed'];
export const ROLLOUT_STATES = ['running', 'paused', 'done', 'cancelled'];
export const CHANNELS = ['stable', 'candidate'];

/** A CSS-safe modifier for a state chip: the state itself when known, else "other" (never a server string). */
export function stateStyle(state, known = SITE_STATES) {
  return known.includes(state) ? state : 'other';
}

/** "lab-1, lab-2,,lab-3 " → ["lab-1", "lab-2", "lab-3"]: commas or white space separate, empties dropped. */
export function splitSites(text) {
  return String(text ?? '').split(/[\s,，]+/).filter(Boolean);
}

/**
 * Editor rows [{mode: 'percent'|'sites', value: '10'}] → the API's stages. A percent that is not a whole
 * number is sent as typed (a string), so the server names the stage in its answer rather than the form guessing.
 */
export function stagesFromRows(rows) {
  return rows.map((r) => {
    if (r.mode === 'sites') return { sites: splitSites(r.value) };
    const text = String(r.value ?? '').trim();
    return { percent: /^\d+$/.test(text) ? Number(text) : text };
  });
}

/**
 * Where an error's key path (problem+json `field`, e.g. "stages/1/percent", "stages/0/sites/3", "channel") goes:
 * the longest of the form's field keys that is the path or a parent of it ("stages/1/value" stands for a
 * stage's value input, whatever its mode). null when nothing fits (the error is shown above the form).
 */
export function fieldFor(path, keys) {
  if (!path) return null;
  const parts = String(path).split('/');
  const candidates = [];
  if (parts[0] === 'stages' && /^\d+$/.test(parts[1] || '') && parts.length > 2) candidates.push(`stages/${parts[1]}/value`);
  for (let n = parts.length; n > 0; n -= 1) candidates.push(parts.slice(0, n).join('/'));
  return candidates.find((c) => keys.includes(c)) ?? null;
}

/** The version a rollout carries: a config rollout (kind "config") names its config_version instead. */
export function rolloutVersion(o) {
  return o && o.kind === 'config' ? (o.config_version ?? '') : (o?.version ?? '');
}

/** Versions of the uploaded releases, newest upload first, each with its architectures. */
export function versionsOf(releases) {
  const byVersion = new Map();
  for (const r of [...(releases || [])].sort((a, b) => String(b.uploaded_at).localeCompare(String(a.uploaded_at)))) {
    if (!byVersion.has(r.version)) byVersion.set(r.version, []);
    if (!byVersion.get(r.version).includes(r.architecture)) byVersion.get(r.version).push(r.architecture);
  }
  return [...byVersion].map(([version, architectures]) => ({ version, architectures }));
}

/** Counts per state: the known ones in order, then any the server added (a neutral style), with the total. */
export function countsOf(counts) {
  const c = counts || {};
  const rows = SITE_STATES.map((s) => ({ state: s, n: Number(c[s]) || 0 }));
  for (const [s, n] of Object.entries(c)) if (!SITE_STATES.includes(s)) rows.push({ state: s, n: Number(n) || 0 });
  return { rows, total: rows.reduce((sum, r) => sum + r.n, 0) };
}

/** A field error's text beside its field: without the key path the server puts in front ("stages/1/percent: "). */
export function fieldMessage(message, path) {
  const text = String(message ?? '');
  return path && text.startsWith(`${path}: `) ? text.slice(path.length + 2) : text;
}
