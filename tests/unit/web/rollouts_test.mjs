// The rollout view's logic without the DOM (server/web/js/rollouts.js): the stage editor's rows as the API's
// stages, where a server error's key path lands in the form, and unknown states from a newer server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const webDir = process.env.PVFLEET_WEB_DIR ?? new URL('../../../server/web', import.meta.url).pathname;
const source = readFileSync(join(webDir, 'js/rollouts.js'), 'utf8');
const r = await import(`data:text/javascript,${encodeURIComponent(source)}`);

test('editor rows become the API stages: whole percents as numbers, site lists split on commas and spaces', () => {
  assert.deepEqual(r.stagesFromRows([
    { mode: 'sites', value: ' lab-1, lab-2,,lab-3\nlab-4 ' },
    { mode: 'percent', value: '10' },
    { mode: 'percent', value: ' 100 ' },
  ]), [{ sites: ['lab-1', 'lab-2', 'lab-3', 'lab-4'] }, { percent: 10 }, { percent: 100 }]);
  // Anything else is sent as typed, so the server's answer names the stage.
  assert.deepEqual(r.stagesFromRows([{ mode: 'percent', value: '12.5' }, { mode: 'percent', value: '' }]),
    [{ percent: '12.5' }, { percent: '' }]);
  assert.deepEqual(r.stagesFromRows([{ mode: 'sites', value: '' }]), [{ sites: [] }]);
  assert.deepEqual(r.splitSites('站点-1，site-2'), ['站点-1', 'site-2']);  // a full-width comma typed with a Chinese IME
});

test('an error key path goes to the closest field the form has', () => {
  const keys = ['version', 'channel', 'stages', 'stages/0', 'stages/0/value', 'stages/1', 'stages/1/value', 'max_failure_percent'];
  assert.equal(r.fieldFor('stages/1/percent', keys), 'stages/1/value');
  assert.equal(r.fieldFor('stages/0/sites/3', keys), 'stages/0/value');
  assert.equal(r.fieldFor('stages/1', keys), 'stages/1');
  assert.equal(r.fieldFor('stages', keys), 'stages');
  assert.equal(r.fieldFor('stages/7/percent', keys), 'stages');  // a row the form no longer has
  assert.equal(r.fieldFor('channel', keys), 'channel');
  assert.equal(r.fieldFor('max_failure_percent', keys), 'max_failure_percent');
  assert.equal(r.fieldFor('start_delay_max_s', keys), null);
  assert.equal(r.fieldFor(undefined, keys), null);
  assert.equal(r.fieldMessage('stages/1/percent: percentages are cumulative and must rise (50 before)', 'stages/1/percent'),
    'percentages are cumulative and must rise (50 before)');
  assert.equal(r.fieldMessage('rollout 3 of channel stable is running', 'channel'), 'rollout 3 of channel stable is running');
});

test('states the view does not know get the neutral style and still count', () => {
  assert.equal(r.stateStyle('rolled_back'), 'rolled_back');
  assert.equal(r.stateStyle('applied'), 'other');
  assert.equal(r.stateStyle('x" onclick="1'), 'other');  // never a server string in a class name
  assert.equal(r.stateStyle('paused', r.ROLLOUT_STATES), 'paused');
  const { rows, total } = r.countsOf({ pending: 1, healthy: 3, failed: 1, applied: 2 });
  assert.equal(total, 7);
  assert.deepEqual(rows.map((x) => x.state), [...r.SITE_STATES, 'applied']);
  assert.equal(rows.find((x) => x.state === 'applied').n, 2);
  assert.equal(r.countsOf(undefined).total, 0);
});

test('config rollouts show their config version; releases are grouped by version, newest upload first', () => {
  assert.equal(r.rolloutVersion({ version: '0.2.0' }), '0.2.0');
  assert.equal(r.rolloutVersion({ kind: 'software', version: '0.2.0' }), '0.2.0');
  assert.equal(r.rolloutVersion({ kind: 'config', config_version: '2026-03-01.2', version: '' }), '2026-03-01.2');
  assert.deepEqual(r.versionsOf([
    { version: '0.1.0', architecture: 'arm64', uploaded_at: '2026-01-01T00:00:00Z' },
    { version: '0.2.0', architecture: 'arm64', uploaded_at: '2026-02-01T00:00:00Z' },
    { version: '0.2.0', architecture: 'amd64', uploaded_at: '2026-02-02T00:00:00Z' },
  ]), [{ version: '0.2.0', architectures: ['amd64', 'arm64'] }, { version: '0.1.0', architectures: ['arm64'] }]);
});
