// The web app's two languages hold the same keys, and every key the app's code names literally — t('…') — exists
// in both: a missing key shows as its raw name on a user's screen, in the language nobody checked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const webDir = process.env.PVFLEET_WEB_DIR ?? new URL('../../../server/web', import.meta.url).pathname;
const load = async (name) => (await import(`data:text/javascript,${encodeURIComponent(readFileSync(join(webDir, 'i18n', name), 'utf8'))}`)).default;
const en = await load('en.js');
const zh = await load('zh-CN.js');

function sources(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sources(path));
    else if (entry.name.endsWith('.js')) out.push({ path, text: readFileSync(path, 'utf8') });
  }
  return out;
}

test('en and zh-CN have the same keys', () => {
  const onlyEn = Object.keys(en).filter((k) => !(k in zh));
  const onlyZh = Object.keys(zh).filter((k) => !(k in en));
  assert.deepEqual(onlyEn, [], `keys missing in zh-CN.js: ${onlyEn.join(', ')}`);
  assert.deepEqual(onlyZh, [], `keys missing in en.js: ${onlyZh.join(', ')}`);
});

test('no translation is empty', () => {
  for (const [name, table] of [['en', en], ['zh-CN', zh]]) {
    const empty = Object.entries(table).filter(([, v]) => typeof v !== 'string' || !v.trim()).map(([k]) => k);
    assert.deepEqual(empty, [], `${name}: empty strings for ${empty.join(', ')}`);
  }
});

test("every literal t('key') in the app's code exists in both languages", () => {
  const missing = [];
  for (const { path, text } of sources(join(webDir, 'js'))) {
    for (const m of text.matchAll(/\bt\('([a-z0-9_.-]+)'/gi)) {
      if (!(m[1] in en) || !(m[1] in zh)) missing.push(`${path.slice(webDir.length + 1)}: ${m[1]}`);
    }
  }
  assert.deepEqual(missing, [], `unknown keys:\n${missing.join('\n')}`);
});
