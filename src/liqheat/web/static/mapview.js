// The liquidation map view: notional at risk per price now (bars) and cumulative from the price outwards
// (lines), drawn on a canvas, with the price as a dashed line.

import * as api from './api.js';
import { $, fill, h, price, usd } from './format.js';

export async function loadMap({ state, page }) {
  const m = await api.liquidationMap(state.market, { bins: 160, span_pct: 25 });
  page.map = m;
  const canvas = $('mapcanvas');
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  const W = canvas.clientWidth;
  const H = canvas.clientHeight;
  const side = W < 500 ? 8 : 70; // a phone's width has no room for margins; the labels sit inside the plot
  const pad = { l: side, r: side, t: 20, b: 30 };
  page.mapGeometry = { width: W, plotWidth: W - pad.l - pad.r, pad };
  const n = m.long.length;
  const barMax = Math.max(...m.long, ...m.short, 1);
  const cumMax = Math.max(...m.cumulative_long, ...m.cumulative_short, 1);
  const x = (i) => pad.l + (i / n) * (W - pad.l - pad.r);
  ctx.fillStyle = '#0d1117';
  ctx.fillRect(0, 0, W, H);
  for (let i = 0; i < n; i++) {
    for (const [values, colour] of [[m.long, '#f85149'], [m.short, '#3fb950']]) {
      const v = values[i];
      if (v <= 0) continue;
      const height = (v / barMax) * (H - pad.t - pad.b);
      ctx.fillStyle = colour;
      ctx.fillRect(x(i), H - pad.b - height, Math.max(1, x(i + 1) - x(i) - 1), height);
    }
  }
  for (const [values, colour] of [[m.cumulative_long, '#ff7b72'], [m.cumulative_short, '#7ee787']]) {
    ctx.strokeStyle = colour;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false;
    values.forEach((v, i) => {
      if (v <= 0) { started = false; return; }
      const y = H - pad.b - (v / cumMax) * (H - pad.t - pad.b);
      if (started) ctx.lineTo(x(i + 0.5), y); else ctx.moveTo(x(i + 0.5), y);
      started = true;
    });
    ctx.stroke();
  }
  const logLo = Math.log(m.price_edges[0]);
  const logHi = Math.log(m.price_edges[n]);
  const px = pad.l + ((Math.log(m.price) - logLo) / (logHi - logLo)) * (W - pad.l - pad.r);
  ctx.strokeStyle = '#c9d1d9';
  ctx.setLineDash([4, 4]);
  ctx.beginPath(); ctx.moveTo(px, pad.t); ctx.lineTo(px, H - pad.b); ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = '#c9d1d9';
  ctx.font = '12px system-ui';
  ctx.fillText(`price ${price(m.price)}`, px + 4, pad.t + 12);
  for (let k = 0; k <= 4; k++) {
    const i = Math.round((k / 4) * n);
    ctx.fillText(price(m.price_edges[i]), x(i) - 20, H - 10);
  }
  ctx.fillText(`bars: notional per price (max ${usd(barMax)})`, pad.l, pad.t);
  ctx.textAlign = 'right';
  ctx.fillText(`cumulative (max ${usd(cumMax)})`, W - pad.r, pad.t);
  fill($('maplegend'), h('span', { className: 'long' }, 'longs liquidate below price'), ' · ',
    h('span', { className: 'short' }, 'shorts above'), ` · map at ${m.at.replace('T', ' ').slice(0, 16)} UTC`);
}
