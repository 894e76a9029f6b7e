// Hand-written inline SVG charts: a line/area chart over time and a bar chart. Sized by viewBox, so they scale
// with their container; hover shows the value under the pointer.
import { s, h } from './dom.js';

const W = 760;
const PAD = { l: 56, r: 16, t: 14, b: 30 };

export function niceTicks(max, count = 4) {
  if (!(max > 0)) return { top: 1, ticks: [0, 1] };
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw);
  const top = Math.ceil(max / step) * step;
  const ticks = [];
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Math.round(v * 1e9) / 1e9);
  return { top, ticks };
}

function frame(height, yTicks, yFmt, yScale, unit) {
  const g = s('g', { class: 'chart-grid' });
  for (const v of yTicks) {
    const y = yScale(v);
    g.append(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, class: v === 0 ? 'axis' : 'grid' }));
    g.append(s('text', { x: PAD.l - 8, y: y + 4, 'text-anchor': 'end', class: 'tick' }, yFmt(v)));
  }
  if (unit) g.append(s('text', { x: PAD.l - 8, y: PAD.t - 2, 'text-anchor': 'end', class: 'unit' }, ''));
  return g;
}

function wrap(svg, legend, emptyText, hasData) {
  const box = h('div', { class: 'chart' });
  if (!hasData) {
    box.append(h('div', { class: 'chart-empty' }, emptyText));
    return box;
  }
  box.append(svg);
  if (legend && legend.length) box.append(h('div', { class: 'chart-legend' }, legend.map((l) => h('span', { class: 'legend-item' }, h('i', { style: { background: l.color } }), l.label))));
  return box;
}

/**
 * series: [{label, color, points: [[ms, y], ...], area}], from/to (ms), yFmt(v), xFmt(ms), markers: [{x, label}],
 * yUnit shown in the hover label.
 */
export function lineChart({ series, from, to, xFmt, yFmt = String, hoverFmt, markers = [], height = 240, emptyText = '', xTicks = 6, testid }) {
  const hasData = series.some((se) => se.points.length > 0);
  const maxY = Math.max(0, ...series.flatMap((se) => se.points.map((p) => p[1])));
  const { top, ticks } = niceTicks(maxY || 1);
  const x = (ms) => PAD.l + ((ms - from) / Math.max(1, to - from)) * (W - PAD.l - PAD.r);
  const y = (v) => height - PAD.b - (v / top) * (height - PAD.t - PAD.b);
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart-svg', role: 'img', 'data-testid': testid });
  svg.append(frame(height, ticks, yFmt, y));
  const xa = s('g', { class: 'chart-x' });
  for (let i = 0; i <= xTicks; i++) {
    const ms = from + ((to - from) * i) / xTicks;
    xa.append(s('text', { x: x(ms), y: height - 8, 'text-anchor': i === 0 ? 'start' : i === xTicks ? 'end' : 'middle', class: 'tick' }, xFmt(ms)));
  }
  svg.append(xa);
  markers.forEach((m, i) => {
    if (m.x < from || m.x > to) return;
    svg.append(s('line', { x1: x(m.x), x2: x(m.x), y1: PAD.t, y2: height - PAD.b, class: `marker ${m.class || ''}` }));
    const left = i % 2 === 1 || x(m.x) > W - 90;
    svg.append(s('text', { x: x(m.x) + (left ? -4 : 4), y: PAD.t + 10 + i * 14, 'text-anchor': left ? 'end' : 'start', class: `marker-label ${m.class || ''}` }, m.label));
  });
  for (const se of series) {
    if (!se.points.length) continue;
    // Break the line where readings are missing (gap > 3 × the usual spacing).
    const pts = se.points;
    const step = pts.length > 1 ? (pts[pts.length - 1][0] - pts[0][0]) / (pts.length - 1) : 0;
    let d = '';
    let area = '';
    let segStart = 0;
    const flush = (end) => {
      const seg = pts.slice(segStart, end);
      if (!seg.length) return;
      d += seg.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
      if (se.area) area += `M${x(seg[0][0]).toFixed(1)},${y(0)}` + seg.map((p) => `L${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('') + `L${x(seg[seg.length - 1][0]).toFixed(1)},${y(0)}Z`;
    };
    for (let i = 1; i < pts.length; i++) if (step && pts[i][0] - pts[i - 1][0] > 3 * step) { flush(i); segStart = i; }
    flush(pts.length);
    if (se.area) svg.append(s('path', { d: area, fill: se.color, 'fill-opacity': 0.14, stroke: 'none' }));
    svg.append(s('path', { d, fill: 'none', stroke: se.color, 'stroke-width': 2, 'stroke-linejoin': 'round', class: 'series' }));
  }
  // Hover: nearest point of the first series with data.
  const main = series.find((se) => se.points.length);
  if (main) {
    const guide = s('line', { y1: PAD.t, y2: height - PAD.b, class: 'hover-line', visibility: 'hidden' });
    const dot = s('circle', { r: 4, fill: main.color, visibility: 'hidden' });
    const label = s('text', { class: 'hover-label', y: PAD.t + 12, visibility: 'hidden' });
    const hit = s('rect', { x: PAD.l, y: PAD.t, width: W - PAD.l - PAD.r, height: height - PAD.t - PAD.b, fill: 'transparent' });
    hit.addEventListener('mousemove', (ev) => {
      const r = svg.getBoundingClientRect();
      const px = ((ev.clientX - r.left) / r.width) * W;
      const ms = from + ((px - PAD.l) / (W - PAD.l - PAD.r)) * (to - from);
      let best = main.points[0];
      for (const p of main.points) if (Math.abs(p[0] - ms) < Math.abs(best[0] - ms)) best = p;
      const bx = x(best[0]);
      for (const el of [guide, dot, label]) el.setAttribute('visibility', 'visible');
      guide.setAttribute('x1', bx); guide.setAttribute('x2', bx);
      dot.setAttribute('cx', bx); dot.setAttribute('cy', y(best[1]));
      label.textContent = (hoverFmt || ((p) => `${xFmt(p[0])} · ${yFmt(p[1])}`))(best);
      const right = bx > W * 0.6;
      label.setAttribute('x', right ? bx - 8 : bx + 8);
      label.setAttribute('text-anchor', right ? 'end' : 'start');
    });
    hit.addEventListener('mouseleave', () => { for (const el of [guide, dot, label]) el.setAttribute('visibility', 'hidden'); });
    svg.append(guide, dot, label, hit);
  }
  return wrap(svg, series.length > 1 || markers.length ? series.map((se) => ({ label: se.label, color: se.color })) : null, emptyText, hasData);
}

/** bars: [{label, value, title, highlight}], yFmt(v); labelEvery: show every n-th x label. */
export function barChart({ bars, yFmt = String, height = 240, emptyText = '', labelEvery = 1, color = 'var(--chart-1)', testid }) {
  const hasData = bars.some((b) => b.value > 0);
  const maxY = Math.max(0, ...bars.map((b) => b.value || 0));
  const { top, ticks } = niceTicks(maxY || 1);
  const y = (v) => height - PAD.b - (v / top) * (height - PAD.t - PAD.b);
  const svg = s('svg', { viewBox: `0 0 ${W} ${height}`, class: 'chart-svg', role: 'img', 'data-testid': testid });
  svg.append(frame(height, ticks, yFmt, y));
  const slot = (W - PAD.l - PAD.r) / Math.max(1, bars.length);
  const bw = Math.max(2, Math.min(42, slot * 0.7));
  bars.forEach((b, i) => {
    const cx = PAD.l + slot * (i + 0.5);
    if (b.value > 0) {
      const rect = s('rect', { x: cx - bw / 2, y: y(b.value), width: bw, height: Math.max(1, y(0) - y(b.value)), rx: 2, fill: b.highlight ? 'var(--chart-2)' : color, class: 'bar' },
        s('title', {}, b.title || `${b.label}: ${yFmt(b.value)}`));
      svg.append(rect);
    }
    if (i % labelEvery === 0) svg.append(s('text', { x: cx, y: height - 8, 'text-anchor': 'middle', class: 'tick' }, b.label));
  });
  return wrap(svg, null, emptyText, hasData);
}

/** Horizontal stacked bar of parts [{label, value, color}] with legend: used for SLA and site status. */
export function stackBar(parts, { testid } = {}) {
  const total = parts.reduce((a, p) => a + (p.value || 0), 0);
  const bar = h('div', { class: 'stackbar', 'data-testid': testid });
  for (const p of parts) if (p.value > 0) bar.append(h('span', { class: `stack-seg ${p.class || ''}`, style: { flexGrow: String(p.value), background: p.color || '' }, title: `${p.label}: ${p.value}` }));
  if (!total) bar.append(h('span', { class: 'stack-seg empty', style: { flexGrow: '1' } }));
  return bar;
}
