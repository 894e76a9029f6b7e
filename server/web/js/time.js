// Calendar arithmetic in a site's IANA time zone (days and months of the charts are the site's local ones).
const partsCache = new Map();
function dtf(tz) {
  if (!partsCache.has(tz)) {
    partsCache.set(tz, new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' }));
  }
  return partsCache.get(tz);
}

export function validZone(tz) {
  try { dtf(tz); return tz; } catch { return 'UTC'; }
}

/** Offset of `tz` from UTC at instant ms, in ms. */
export function tzOffsetMs(ms, tz) {
  const p = dtf(tz).formatToParts(new Date(ms));
  const g = (k) => Number(p.find((x) => x.type === k).value);
  return Date.UTC(g('year'), g('month') - 1, g('day'), g('hour'), g('minute'), g('second')) - Math.floor(ms / 1000) * 1000;
}

/** The instant of local midnight y-m-d (m 0-based; overflowing days and months roll over). */
export function zonedMidnight(y, m, d, tz) {
  const guess = Date.UTC(y, m, d);
  const off = tzOffsetMs(guess, tz);
  let t = guess - off;
  const off2 = tzOffsetMs(t, tz);
  if (off2 !== off) t = guess - off2;
  return t;
}

/** {y, m (0-based), d} of instant ms in tz. */
export function zonedDate(ms, tz) {
  const p = dtf(tz).formatToParts(new Date(ms));
  const g = (k) => Number(p.find((x) => x.type === k).value);
  return { y: g('year'), m: g('month') - 1, d: g('day') };
}

export const isoDay = (y, m, d) => {
  const dt = new Date(Date.UTC(y, m, d));
  return dt.toISOString().slice(0, 10);
};
export const daysInMonth = (y, m) => new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
