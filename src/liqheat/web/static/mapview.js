// The liquidation map view: notional at risk per price band now, stacked by leverage band or venue (bars,
// left axis), cumulative from the price outwards per side (lines, right axis), the price, and a tooltip.
// It follows the header's side, leverage and window (the window sets the prices shown, as the heatmap's).

import * as api from './api.js';
import { $, fill, h, price, usd } from './format.js';

const LONG = ['#ffb3ad', '#ff7b72', '#f85149', '#b62324']; // < 10×, 10–25×, 25–50×, ≥ 50×: darker = more leverage
const SHORT = ['#aff5b4', '#7ee787', '#3fb950', '#1a7f37'];
const VENUE = ['#e3b341', '#58a6ff', '#ff9bce', '#56d4dd', '#ffa657', '#d29922'];
const EXACT = [['#a371f7', '#a371f7'], ['#d2a8ff', '#d2a8ff'], ['#6e40c9', '#6e40c9']]; // on-chain sources: violet
const TIP_GAP = 14;

// steps of 1, 2, 2.5 and 5 × 10^k: about `count` round numbers across [lo, hi]
export function niceTicks(lo, hi, count) {
  const raw = (hi - lo) / Math.max(1, count);
  const base = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * base).find((s) => s >= raw) ?? 10 * base;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

// each part's [long, short] colour: exact sources violet whatever the split, so they never pass for the model's
function colours(m) {
  let exact = 0;
  const all = ['< 10×', '10–25×', '25–50×', '≥ 50×'];
  return m.parts.map((p, k) => {
    if (p.kind === 'exact') return EXACT[exact++ % EXACT.length];
    if (m.split_by === 'venue') return [VENUE[k % VENUE.length], VENUE[k % VENUE.length]];
    if (m.split_by === 'leverage') { const b = Math.max(0, all.indexOf(p.label)); return [LONG[b], SHORT[b]]; }
    return ['#f85149', '#3fb950'];
  });
}

export async function loadMap({ state, page }) {
  const [levMin, levMax] = state.lev.split('-').map(Number);
  const venues = (page.venues?.venues ?? []).length > 1;
  const split = state.split === 'venue' && !venues ? 'none' : state.split;
  $('mapsplit').value = split;
  $('mapsplit').querySelector('option[value="venue"]').disabled = !venues;
  const m = await api.liquidationMap(state.market, {
    bins: $('mapcanvas').clientWidth < 500 ? 80 : 160, window: state.window, side: state.side, lev_min: levMin, lev_max: levMax, by: split,
    source: state.source,
  });
  page.map = m;
  $('mapsource').value = state.source; // the select is the header's: main.js shows it where the market has exact levels
  drawMap(page);
}

export function drawMap(page) {
  const m = page.map;
  if (!m) return;
  const canvas = $('mapcanvas');
  const ratio = window.devicePixelRatio || 1;
  const W = canvas.clientWidth;
  const H = canvas.clientHeight;
  canvas.width = W * ratio;
  canvas.height = H * ratio;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  const narrow = W < 500; // a phone: axis labels inside narrow margins
  const pad = { l: narrow ? 40 : 64, r: narrow ? 40 : 64, t: 34, b: 34 };
  const plotW = Math.max(10, W - pad.l - pad.r);
  const plotH = Math.max(10, H - pad.t - pad.b);
  page.mapGeometry = { width: W, plotWidth: plotW, pad };
  const n = m.long.length;
  const edges = m.price_edges;
  const logLo = Math.log(edges[0]);
  const logHi = Math.log(edges[n]);
  const xOfPrice = (p) => pad.l + ((Math.log(p) - logLo) / (logHi - logLo)) * plotW;
  const x = (i) => xOfPrice(edges[i]);
  const totals = m.long.map((v, i) => v + m.short[i]);
  const barMax = Math.max(...totals, 1);
  const cumMax = Math.max(...m.cumulative_long, ...m.cumulative_short, 1);
  const yBar = (v) => pad.t + plotH - (v / barMax) * plotH;
  const yCum = (v) => pad.t + plotH - (v / cumMax) * plotH;
  const font = narrow ? '10px system-ui' : '12px system-ui';

  ctx.fillStyle = '#0d1117';
  ctx.fillRect(0, 0, W, H);
  ctx.font = font;
  ctx.strokeStyle = '#161b22';
  ctx.lineWidth = 1;
  ctx.fillStyle = '#8b949e';
  ctx.textBaseline = 'middle';
  ctx.textAlign = 'right';
  for (const t of niceTicks(0, barMax, Math.max(2, Math.floor(plotH / 60)))) { // left axis: notional per band
    const y = Math.round(yBar(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(pad.l, y); ctx.lineTo(pad.l + plotW, y); ctx.stroke();
    ctx.fillText(usd(t), pad.l - 4, y);
  }
  ctx.textAlign = 'left';
  for (const t of niceTicks(0, cumMax, Math.max(2, Math.floor(plotH / 60)))) ctx.fillText(usd(t), pad.l + plotW + 4, yCum(t));
  ctx.textAlign = 'center';
  ctx.textBaseline = 'top';
  const priceTicks = niceTicks(edges[0], edges[n], Math.max(2, Math.floor(plotW / (narrow ? 80 : 110))));
  for (const t of priceTicks) {
    const px = Math.round(xOfPrice(t)) + 0.5;
    ctx.beginPath(); ctx.moveTo(px, pad.t); ctx.lineTo(px, pad.t + plotH); ctx.stroke();
    ctx.fillText(price(t), px, pad.t + plotH + 6);
  }

  const palette = colours(m);
  for (let i = 0; i < n; i++) { // bars: each part stacked on the ones before
    let base = 0;
    const left = x(i);
    const width = Math.max(1, x(i + 1) - left - 1);
    m.parts.forEach((p, k) => {
      const v = p.long[i] + p.short[i];
      if (v <= 0) return;
      ctx.fillStyle = p.long[i] > 0 ? palette[k][0] : palette[k][1];
      ctx.fillRect(left, yBar(base + v), width, yBar(base) - yBar(base + v));
      base += v;
    });
  }
  for (const [values, colour] of [[m.cumulative_long, '#ff7b72'], [m.cumulative_short, '#7ee787']]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false;
    values.forEach((v, i) => {
      if (v <= 0) { started = false; return; }
      const y = yCum(v);
      const mid = (x(i) + x(i + 1)) / 2;
      if (started) ctx.lineTo(mid, y); else ctx.moveTo(mid, y);
      started = true;
    });
    ctx.stroke();
  }
  const px = xOfPrice(m.price);
  ctx.strokeStyle = '#c9d1d9';
  ctx.lineWidth = 1;
  ctx.setLineDash([4, 4]);
  ctx.beginPath(); ctx.moveTo(px, pad.t); ctx.lineTo(px, pad.t + plotH); ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = '#0d1117';
  const label = `price ${price(m.price)}`;
  const lw = ctx.measureText(label).width + 8;
  const lx = Math.min(Math.max(px - lw / 2, 170), W - lw - 4); // clear of the split select at the top left
  ctx.fillRect(lx, 6, lw, 18);
  ctx.fillStyle = '#f0f6fc';
  ctx.textAlign = 'left';
  ctx.fillText(label, lx + 4, 9);

  const swatches = m.parts.map((p, k) => h('span', { className: 'part' },
    h('i', { style: `background:${palette[k][0]}` }), h('i', { style: `background:${palette[k][1]}` }), ` ${p.label}`));
  // exact sources: short on the line (the share first), their details in its hover title
  const exact = m.exact.map((e) => `${e.source} ${e.as_of.slice(0, 10)}`);
  const share = m.onchain_share === null ? '' : ` ${(m.onchain_share * 100).toFixed(1)}% on-chain:`;
  const details = m.exact.map((e) => `${e.source} as of ${e.as_of.replace('T', ' ').slice(0, 16)} UTC: ${e.open_levels.toLocaleString('en-US')} `
    + `open levels of ${e.positions.toLocaleString('en-US')} positions${e.coverage === null ? ' (every position of the snapshot)'
      : `, ${Math.round(e.coverage * 100)}% of its open interest`}. ${e.note}`).join('\n');
  $('maplegend').title = details;
  fill($('maplegend'),
    m.split_by === 'none' && m.parts.length === 1
      ? [h('span', { className: 'long' }, 'longs liquidate below price'), ', ', h('span', { className: 'short' }, 'shorts above')]
      : swatches,
    exact.length ? h('span', { className: 'exactnote' }, ` ·${share} exact ${exact.join(', ')}`) : null,
    ` · bars: per band (left) · lines: cumulative from price (right) · at ${m.at.replace('T', ' ').slice(0, 16)} UTC`,
    m.note ? ` · ${m.note}` : null);
}

// the band under the pointer: its prices, each part, the total and the cumulative there
export function mapTooltip(page, event) {
  const tip = $('maptip');
  const m = page.map;
  const g = page.mapGeometry;
  if (!m || !g) { tip.hidden = true; return; }
  const rect = $('mapcanvas').getBoundingClientRect();
  const cx = event.clientX - rect.left;
  const cy = event.clientY - rect.top;
  const n = m.long.length;
  const i = Math.floor(((cx - g.pad.l) / g.plotWidth) * n);
  if (i < 0 || i >= n || cy < 0 || cy > rect.height) { tip.hidden = true; return; }
  const lo = m.price_edges[i];
  const hi = m.price_edges[i + 1];
  // the band holding the price has both sides; the larger one is told first
  const side = lo < m.price && hi > m.price ? (m.long[i] >= m.short[i] ? 'long' : 'short') : hi <= m.price ? 'long' : 'short';
  const value = side === 'long' ? m.long[i] : m.short[i];
  const cum = side === 'long' ? m.cumulative_long[i] : m.cumulative_short[i];
  const parts = m.parts.length < 2 ? [] : m.parts.filter((p) => p[side][i] > 0).map((p) => h('div', { className: p.kind }, `${p.label}: ${usd(p[side][i])}`));
  fill(tip, h('b', null, `${price(lo)} – ${price(hi)}`),
    h('div', { className: side }, `${side}s liquidating here: ${usd(value)}`), parts,
    h('div', null, `cumulative from price: ${usd(cum)}`),
    h('div', { className: 'dim' }, `${(((Math.sqrt(lo * hi) / m.price) - 1) * 100).toFixed(2)}% from price`));
  tip.dataset.value = String(value);
  tip.dataset.cumulative = String(cum);
  tip.dataset.band = String(i);
  tip.hidden = false;
  const left = cx + TIP_GAP + tip.offsetWidth > rect.width ? cx - TIP_GAP - tip.offsetWidth : cx + TIP_GAP;
  tip.style.left = `${Math.max(0, left)}px`;
  tip.style.top = `${Math.max(0, Math.min(cy + TIP_GAP, rect.height - tip.offsetHeight))}px`;
}
