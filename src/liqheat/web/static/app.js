'use strict';
// liqheat page: TradingView Lightweight Charts v5 candles over one pre-coloured heatmap bitmap
// (a series primitive drawn beneath the candles, redrawn by the chart on every pan and zoom).

const LWC = window.LightweightCharts;
const $ = (id) => document.getElementById(id);
const state = { market: '', window: '7d', interval: '', side: 'both', lev: '1-200', scale: 'relative', tab: 'heatmap' };
const params = new URLSearchParams(location.search);
for (const key of Object.keys(state)) if (params.has(key)) state[key] = params.get(key);
const page = {
  heatmap: null, bars: [], candles: [], map: null, summary: null, clusters: [], priceLines: [], markers: null,
  levelLines: [], planLines: [], levels: null, plan: null, cascade: null,
  dataAt: 0, firstPaintMs: null, drawMs: [],
};
// resolution overrides for benchmarks and big screens: ?bins=1000&columns=2000
const detail = { bins: Number(params.get('bins') || 300), columns: params.get('columns') ? Number(params.get('columns')) : null };
window.liqheat = page;

function saveUrl() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v) p.set(k, v);
  history.replaceState(null, '', `?${p}`);
}

function usd(x) {
  const a = Math.abs(x);
  if (a >= 1e9) return `$${(x / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `$${(x / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `$${(x / 1e3).toFixed(1)}k`;
  return `$${x.toFixed(0)}`;
}
function price(p) {
  return p.toLocaleString('en-US', { maximumFractionDigits: p >= 1000 ? 0 : p >= 1 ? 2 : 6 });
}
function utc(t) {
  return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

async function api(path) {
  const response = await fetch(path);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = typeof body.detail === 'string' ? body.detail : body.detail.map((d) => `${d.loc.slice(-1)[0]}: ${d.msg}`).join('; ');
    } catch (e) { /* not JSON: keep the status line */ }
    throw new Error(message);
  }
  return response;
}
// Every text from the API or the link goes into the page as a text node, never as markup: a bundle's
// symbol or venue names are whatever its meta.json says (issue #11).
// Children are strings (text), nodes, nested arrays of them, or null/false (left out).
const nodes = (children) => children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
// h('li', { className: 'long' }, 'text', child, [more]) → <li class="long">text…</li>
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (key === 'dataset') Object.assign(el.dataset, value); else el[key] = value;
  }
  el.append(...nodes(children));
  return el;
}
const fill = (el, ...children) => el.replaceChildren(...nodes(children));
// [[term, value], …] → dt/dd pairs
const terms = (rows) => rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]);

function showError(error) {
  const el = $('error');
  el.textContent = `Error: ${error.message}`;
  el.hidden = false;
  document.body.dataset.state = 'error';
}

// ---------------------------------------------------------------------------------------- colours

const STOPS = [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
function colour(v) {
  const x = Math.min(1, Math.max(0, v)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + (STOPS[i + 1][k] - c) * f));
}

const LUT = new Uint8Array(256 * 3);
for (let k = 0; k < 256; k++) LUT.set(colour(k / 255), 3 * k);

function paint(h, scale) {
  const canvas = document.createElement('canvas');
  canvas.width = h.columns;
  canvas.height = h.rows;
  const ctx = canvas.getContext('2d');
  const img = ctx.createImageData(h.columns, h.rows);
  const values = new Float32Array(h.columns * h.rows);
  for (let i = 0; i < values.length; i++) values[i] = h.long[i] + h.short[i];
  // the 99.5th percentile of the non-zero cells, from a sample (a full sort of 2M cells costs seconds)
  const step = Math.max(1, Math.floor(values.length / 20000));
  const sample = [];
  for (let i = 0; i < values.length; i += step) if (values[i] > 0) sample.push(values[i]);
  sample.sort((a, b) => a - b);
  const top = sample.length ? sample[Math.floor(0.995 * (sample.length - 1))] : 1;
  for (let c = 0; c < h.columns; c++) {
    let columnMax = 0;
    if (scale === 'relative') for (let r = 0; r < h.rows; r++) columnMax = Math.max(columnMax, values[c * h.rows + r]);
    for (let r = 0; r < h.rows; r++) {
      const v = values[c * h.rows + r];
      if (v <= 0) continue;
      let level;
      if (scale === 'log') level = Math.log1p(v) / Math.log1p(top);
      else if (scale === 'relative') level = Math.sqrt(v / columnMax);
      else level = Math.sqrt(v / top);
      const k = Math.min(255, (level * 255) | 0);
      const o = 4 * ((h.rows - 1 - r) * h.columns + c); // image row 0 = highest price
      img.data[o] = LUT[3 * k];
      img.data[o + 1] = LUT[3 * k + 1];
      img.data[o + 2] = LUT[3 * k + 2];
      img.data[o + 3] = 90 + ((165 * k) / 255) | 0;
    }
  }
  ctx.putImageData(img, 0, 0);
  return canvas;
}

// ---------------------------------------------------------------------------------------- chart

const chart = LWC.createChart($('chart'), {
  autoSize: true,
  layout: { background: { type: 'solid', color: '#0d1117' }, textColor: '#c9d1d9', attributionLogo: true },
  grid: { vertLines: { color: '#161b22' }, horzLines: { color: '#161b22' } },
  timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#30363d' },
  rightPriceScale: { borderColor: '#30363d' },
  localization: { priceFormatter: price },
});
const series = chart.addSeries(LWC.CandlestickSeries, {
  upColor: '#3fb950', downColor: '#f85149', wickUpColor: '#3fb950', wickDownColor: '#f85149', borderVisible: false,
});

function barIndex(t) {
  // fractional index of time t among the bars (the time scale is indexed by bars, not by time)
  const bars = page.bars;
  if (!bars.length) return null;
  let lo = 0;
  let hi = bars.length - 1;
  if (t <= bars[0]) return (t - bars[0]) / Math.max(1, (bars[1] ?? bars[0] + 60) - bars[0]);
  if (t >= bars[hi]) return hi + (t - bars[hi]) / Math.max(1, bars[hi] - (bars[hi - 1] ?? bars[hi] - 60));
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (bars[mid] <= t) lo = mid; else hi = mid;
  }
  return lo + (t - bars[lo]) / (bars[hi] - bars[lo]);
}

function xOf(ts, logical) {
  // logicalToCoordinate wants whole bars: interpolate between the two around a fractional index
  const i = Math.floor(logical);
  const a = ts.logicalToCoordinate(i);
  const b = ts.logicalToCoordinate(i + 1);
  if (a === null || b === null) return null;
  return a + (logical - i) * (b - a);
}

class HeatmapPrimitive {
  constructor() {
    this.image = null;
    this.view = { zOrder: () => 'bottom', renderer: () => ({ draw: (target) => this.draw(target) }) };
  }
  attached({ requestUpdate }) { this.requestUpdate = requestUpdate; }
  detached() {}
  updateAllViews() {}
  paneViews() { return [this.view]; }
  set(image) { this.image = image; if (this.requestUpdate) this.requestUpdate(); }
  draw(target) {
    const h = page.heatmap;
    if (!h || !this.image) return;
    const ts = chart.timeScale();
    const first = barIndex(h.time[0]);
    const last = barIndex(h.time[h.time.length - 1]);
    if (first === null) return;
    const step = h.columns > 1 ? (last - first) / (h.columns - 1) : 1;
    const x0 = xOf(ts, first - step / 2);
    const x1 = xOf(ts, last + step / 2);
    if (x0 === null || x1 === null) return;
    const started = performance.now();
    target.useBitmapCoordinateSpace(({ context, horizontalPixelRatio, verticalPixelRatio }) => {
      context.imageSmoothingEnabled = false;
      for (let r = 0; r < h.rows; r++) {
        const yTop = series.priceToCoordinate(h.price_edges[r + 1]);
        const yBottom = series.priceToCoordinate(h.price_edges[r]);
        if (yTop === null || yBottom === null) continue;
        context.drawImage(this.image, 0, h.rows - 1 - r, h.columns, 1,
          x0 * horizontalPixelRatio, yTop * verticalPixelRatio, (x1 - x0) * horizontalPixelRatio,
          Math.max(1, (yBottom - yTop) * verticalPixelRatio));
      }
    });
    const finished = performance.now();
    page.drawMs.push(finished - started);
    if (page.firstPaintMs === null && page.dataAt) page.firstPaintMs = finished - page.dataAt;
  }
}
const heatmapPrimitive = new HeatmapPrimitive();
series.attachPrimitive(heatmapPrimitive);

function cellAt(time, p) {
  const h = page.heatmap;
  if (!h) return null;
  let c = 0;
  while (c + 1 < h.time.length && h.time[c + 1] <= time) c++;
  let r = 0;
  while (r + 1 < h.rows && h.price_edges[r + 1] <= p) r++;
  if (p < h.price_edges[0] || p > h.price_edges[h.rows]) return null;
  return { c, r, long: h.long[c * h.rows + r], short: h.short[c * h.rows + r] };
}

chart.subscribeCrosshairMove((param) => {
  const tip = $('tooltip');
  if (!param.point || param.time === undefined) { tip.hidden = true; return; }
  const p = series.coordinateToPrice(param.point.y);
  const cell = cellAt(param.time, p);
  if (!cell) { tip.hidden = true; return; }
  const split = venueSplit(param.time);
  const perVenue = split ? [h('br'), h('small', null, 'by venue (open-interest share): '
    + split.map(([name, share]) => `${name} ${usd((cell.long + cell.short) * share)}`).join(' · '))] : [];
  fill(tip, h('b', null, utc(param.time)), h('br'), 'price ', h('b', null, price(p)), h('br'),
    h('span', { className: 'long' }, `longs at risk ${usd(cell.long)}`), h('br'),
    h('span', { className: 'short' }, `shorts at risk ${usd(cell.short)}`), ...perVenue);
  tip.dataset.long = cell.long;
  tip.dataset.short = cell.short;
  tip.hidden = false;
  tip.style.left = `${Math.min(param.point.x + 16, $('chart').clientWidth - 190)}px`;
  tip.style.top = `${Math.max(param.point.y - 40, 4)}px`;
});

// ---------------------------------------------------------------------------------------- data

async function heatmapData() {
  const [lo, hi] = state.lev.split('-');
  const url = `/api/markets/${state.market}/heatmap?window=${state.window}&side=${state.side}&lev_min=${lo}&lev_max=${hi}`
    + `&bins=${detail.bins}&columns=${detail.columns ?? Math.min(2000, Math.max(200, Math.round($('chart').clientWidth)))}&format=q16`;
  const buffer = await (await api(url)).arrayBuffer();
  const n = new DataView(buffer).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  let offset = 4 + n;
  offset += (4 - (offset % 4)) % 4;
  const size = head.columns * head.rows;
  const decode = (codes) => {
    const out = new Float32Array(codes.length);
    for (let i = 0; i < codes.length; i++) out[i] = codes[i] ? Math.expm1(codes[i] / head.scale) : 0;
    return out;
  };
  head.long = decode(new Uint16Array(buffer, offset, size));
  head.short = decode(new Uint16Array(buffer, offset + 2 * size, size));
  return head;
}

const SECONDS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '4h': 14400, '1d': 86400 };
const WINDOW_SECONDS = { '4h': 14400, '12h': 43200, '24h': 86400, '3d': 259200, '7d': 604800, '30d': 2592000, '90d': 7776000, '180d': 15552000, '1y': 31536000 };
function autoInterval() {
  // the finest interval that keeps the window to about 3,000 candles, never finer than the market's
  const market = page.markets?.find((m) => m.id === state.market);
  const m = /^(\d+)([smhdw])$/.exec(market?.timeframe ?? '1m');
  const native = m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]] : 60;
  const span = WINDOW_SECONDS[state.window] ?? 604800;
  let pick = null;
  for (const [name, seconds] of Object.entries(SECONDS)) {
    if (seconds >= native && seconds % native === 0) {
      pick = name;
      if (span / seconds <= 3000) return name;
    }
  }
  return pick ?? market?.timeframe ?? '1d';
}

async function load({ keepView = false } = {}) {
  $('error').hidden = true;
  document.body.dataset.state = 'loading';
  const visible = keepView ? chart.timeScale().getVisibleLogicalRange() : null;
  saveUrl();
  try {
    const interval = `&interval=${state.interval || autoInterval()}`;
    const [candles, heat, liqs, summary, clusters, realized, venues, levels, mood] = await Promise.all([
      api(`/api/markets/${state.market}/candles?window=${state.window}${interval}`).then((r) => r.json()),
      heatmapData(),
      api(`/api/markets/${state.market}/liquidations?window=${state.window}&limit=300`).then((r) => r.json()),
      api(`/api/markets/${state.market}/summary`).then((r) => r.json()),
      api(`/api/markets/${state.market}/clusters?top=3`).then((r) => r.json()),
      api(`/api/markets/${state.market}/liquidations/totals?window=7d&bucket=1d&largest=5`).then((r) => r.json()),
      api(`/api/markets/${state.market}/venues`).then((r) => r.json()),
      api(`/api/markets/${state.market}/levels?top=8`).then((r) => r.json()),
      api(`/api/markets/${state.market}/sentiment?window=24h`).then((r) => r.json()),
    ]);
    page.dataAt = performance.now();
    page.firstPaintMs = null;
    page.bars = candles.time;
    page.candles = candles.time.map((t, i) => ({ time: t, open: candles.open[i], high: candles.high[i], low: candles.low[i], close: candles.close[i] }));
    series.setData(page.candles);
    page.heatmap = heat;
    heatmapPrimitive.set(paint(heat, state.scale));
    drawMarkers(liqs);
    drawClusters(clusters.clusters);
    drawSummary(summary);
    drawRealized(realized);
    drawVenues(venues);
    drawLevels(levels);
    drawSentiment(mood);
    clearPlan();
    clearCascade();
    page.clusters = clusters.clusters;
    if (visible) chart.timeScale().setVisibleLogicalRange(visible); else chart.timeScale().fitContent();
    if (state.tab === 'map') await loadMap();
    document.body.dataset.state = 'ready';
  } catch (error) {
    showError(error);
  }
}

function drawMarkers(liqs) {
  if (page.markers) page.markers.setMarkers([]);
  if (!liqs.time.length) return;
  const biggest = Math.max(...liqs.usd);
  const markers = liqs.time.map((t, i) => {
    const index = Math.max(0, Math.floor(barIndex(t) ?? 0));
    return {
      time: page.bars[Math.min(index, page.bars.length - 1)],
      position: liqs.side[i] === 'long' ? 'belowBar' : 'aboveBar',
      color: liqs.side[i] === 'long' ? '#f85149' : '#3fb950',
      shape: 'circle',
      size: 0.4 + 1.6 * Math.sqrt(liqs.usd[i] / biggest),
    };
  }).sort((a, b) => a.time - b.time);
  page.markers = LWC.createSeriesMarkers(series, markers);
}

function drawClusters(clusters) {
  for (const line of page.priceLines) series.removePriceLine(line);
  page.priceLines = clusters.slice(0, 6).map((c) => series.createPriceLine({
    price: c.peak_price,
    color: c.side === 'long' ? '#f85149' : '#3fb950',
    lineStyle: LWC.LineStyle.Dashed,
    lineWidth: 1,
    axisLabelVisible: true,
    title: `${c.side} cluster ${usd(c.notional_usd)}`,
  }));
  fill($('clusters'), clusters.map((c) => h('li', { className: c.side }, `${c.side} ${price(c.peak_price)} · ${usd(c.notional_usd)} · `
    + `${c.distance_pct >= 0 ? '+' : ''}${c.distance_pct.toFixed(2)}%`
    + (c.distance_atr === null ? '' : ` (${Math.abs(c.distance_atr).toFixed(1)} ATR)`)
    + (c.age_hours === null ? '' : ` · ${c.age_at_least ? '≥' : ''}${Math.round(c.age_hours)} h old`))));
}

function drawRealized(r) {
  page.realized = r;
  if (!r.time.length) { $('realized').textContent = 'none recorded for this market'; return; }
  const days = r.time.flatMap((t, i) => [h('dt', null, utc(t).slice(0, 10)),
    h('dd', null, h('span', { className: 'long' }, usd(r.long_usd[i])), ' · ', h('span', { className: 'short' }, usd(r.short_usd[i])))]);
  const orders = r.largest.map((o) => h('li', { className: o.side }, `${o.ts.replace('T', ' ').slice(5, 16)} ${o.side} ${usd(o.usd)} @ ${price(o.price)}`));
  fill($('realized'), h('dl', null, days), orders.length ? h('ol', null, orders) : null, h('small', null, r.venues.join(', ')));
}

// Realized liquidations across the whole store (every venue and symbol imported or followed), beside the
// market's own: shown only when the server has a store (`serve --store`).
async function loadStoreLiquidations() {
  const form = $('storeliqform');
  const query = `window=${form.window.value}&bucket=${form.bucket.value}&top=10&largest=5`;
  const response = await fetch(`/api/liquidations?${query}`);
  if (response.status === 404) { $('storeliq').hidden = true; return; }
  $('storeliq').hidden = false;
  if (!response.ok) { $('storeliqout').textContent = (await response.json()).detail; return; }
  drawStoreLiquidations(await response.json());
}

function drawStoreLiquidations(r) {
  page.storeLiquidations = r;
  const row = (label, x) => h('tr', null, h('td', null, label), h('td', { className: 'long' }, usd(x.long_usd)),
    h('td', { className: 'short' }, usd(x.short_usd)), h('td', null, x.orders.toLocaleString()));
  const head = (label) => h('tr', null, [label, 'long', 'short', 'orders'].map((k) => h('th', null, k)));
  const bound = (v) => (r.lower_bound.includes(v) ? ' ≥' : '');
  const venues = r.venues.map((v) => row(`${v.venue}${bound(v.venue)}`, v));
  const times = r.series.slice(-8).map((x) => row(`${utc(Date.parse(x.bucket) / 1000).slice(5, r.bucket === '1h' ? 16 : 10)} ${x.venue}`, x));
  const symbols = r.symbols.map((x) => row(`${x.symbol.split(':')[0]}${r.venues.length > 1 ? ` · ${x.venue}` : ''}`, x));
  const orders = r.largest.map((o) => h('li', { className: o.side }, `${o.ts.replace('T', ' ').slice(5, 16)} ${o.symbol.split(':')[0]} `
    + `${o.side} ${usd(o.usd)} @ ${price(o.price)}`));
  const gaps = r.gaps.map((g) => h('li', { className: 'gap' },
    `${g.venue} ${g.symbol.split(':')[0]}: nothing seen ${g.from.slice(5, 16)} to ${g.to.slice(5, 16)}`));
  const table = h('table', null, h('tbody', null, head('venue'), venues, head(r.bucket === '1h' ? 'hour' : 'day'), times,
    head(`top of ${r.symbols_total} markets`), symbols));
  fill($('storeliqout'), table, orders.length ? h('ol', null, orders) : null, gaps.length ? h('ul', null, gaps) : null,
    r.lower_bound.length ? h('small', null, `≥ ${r.lower_bound.join(', ')}: a throttled stream, a lower bound`) : null);
}

// Per-venue shares of open interest (store-backed markets): the hover splits a level by them, and the
// panel says how fresh each venue is, so a lagging venue is visible instead of silently stale.
function drawVenues(v) {
  page.venues = v;
  const panel = $('venues');
  if (!v.status.length) { panel.textContent = 'one source (a bundle)'; return; }
  const now = Date.now() / 1000;
  fill(panel, v.status.map((s) => {
    const last = s.last_candle ? Date.parse(s.last_candle) / 1000 : null;
    const mins = last === null ? null : Math.max(0, Math.round((now - last) / 60));
    const age = mins === null ? '—' : mins < 120 ? `${mins} min ago` : mins < 2880 ? `${Math.round(mins / 60)} h ago` : utc(last).slice(0, 16);
    const share = s.oi_share === null ? '' : ` · ${(s.oi_share * 100).toFixed(0)}% of OI`;
    const gaps = s.candle_gaps.length + s.stream_gaps.length;
    return h('li', { className: `venue ${s.state.replace(' ', '-')}`, dataset: { venue: s.venue } }, h('b', null, s.venue), ` ${s.symbol} · `,
      h('span', { className: 'state' }, s.state), `${share} · last candle ${age}${gaps ? ` · ${gaps} gap(s)` : ''}`);
  }));
}

function venueSplit(time) {
  const v = page.venues;
  if (!v || !v.ts.length) return null;
  let i = 0;
  while (i + 1 < v.ts.length && v.ts[i + 1] <= time) i++;
  return v.venues.map((name) => [name.split(':')[0], v.shares[name][i]]).filter(([, s]) => s !== null);
}

// Support and resistance as dotted lines (strongest first); a level that meets a cluster is marked.
function drawLevels(data) {
  page.levels = data;
  for (const line of page.levelLines) series.removePriceLine(line);
  page.levelLines = [];
  const meets = new Set(data.confluence.map((x) => x.level.price));
  if ($('sr').checked) {
    page.levelLines = data.levels.slice(0, 6).map((lv) => series.createPriceLine({
      price: lv.price, color: meets.has(lv.price) ? '#d2a8ff' : '#8b949e', lineStyle: LWC.LineStyle.Dotted, lineWidth: 1,
      axisLabelVisible: false, title: `${lv.kind === 'support' ? 'S' : 'R'} ${lv.source}${meets.has(lv.price) ? ' ✦ cluster' : ''}`,
    }));
  }
  fill($('levels'), data.levels.slice(0, 6).map((lv) => h('li', { className: `level ${lv.kind}` },
    `${lv.kind} ${price(lv.price)} · ${lv.source} · strength ${lv.strength.toFixed(2)}`,
    meets.has(lv.price) ? [' · ', h('b', null, 'meets a cluster')] : null)));
}

function drawSentiment(s) {
  page.sentiment = s;
  const pct = (x, d = 2) => (x === null || x === undefined ? '—' : `${x >= 0 ? '+' : ''}${x.toFixed(d)}%`);
  const rows = [
    ['longs at risk', usd(s.long_at_risk_usd)], ['shorts at risk', usd(s.short_at_risk_usd)],
    ['long ÷ short', s.long_short_ratio === null ? '—' : s.long_short_ratio.toFixed(2)], ['skew', s.skew.toFixed(2)],
    ['open interest', pct(s.open_interest_change_pct)], ['price', pct(s.price_change_pct)],
    ['funding (mean)', s.funding_mean === null ? '—' : `${(s.funding_mean * 100).toFixed(4)}%`],
  ];
  fill($('sentiment'), terms(rows));
}

function clearPlan() {
  for (const line of page.planLines) series.removePriceLine(line);
  page.planLines = [];
  page.plan = null;
}

$('plan').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  if (!form.get('entry') && page.summary) form.set('entry', page.summary.price);
  try {
    const p = await (await api(`/api/markets/${state.market}/plan?${new URLSearchParams(form)}`)).json();
    clearPlan();
    page.plan = p;
    const line = (value, color, title) => series.createPriceLine({ price: value, color, lineWidth: 2, lineStyle: LWC.LineStyle.Solid,
      axisLabelVisible: true, title });
    page.planLines.push(line(p.entry, '#58a6ff', 'entry'), line(p.stop, '#f0883e', 'stop'));
    if (p.liquidation_price > 0 && Number.isFinite(p.liquidation_price)) page.planLines.push(line(p.liquidation_price, '#ff7b72', 'own liquidation'));
    if (p.take_profit !== null) page.planLines.push(line(p.take_profit, '#3fb950', 'target'));
    fill($('planout'), 'size ', h('b', null, p.size_base.toPrecision(4)), ` (${usd(p.notional_usd)}, margin ${usd(p.margin_usd)})`, h('br'),
      'stop ', h('b', null, price(p.stop)), ` · ${p.stop_reason}`, h('br'), 'own liquidation ', h('b', null, price(p.liquidation_price)), h('br'),
      p.take_profit === null ? 'no target cluster' : ['target ', h('b', null, price(p.take_profit)), ` · reward/risk ${p.reward_risk.toFixed(2)}`],
      p.margin_to_clear === null ? null : [h('br'), `margin to clear: ${usd(p.margin_to_clear)}`],
      p.warnings.map((w) => h('div', { className: 'warn' }, `⚠ ${w}`)));
  } catch (error) {
    $('planout').textContent = `Error: ${error.message}`;
  }
});

// The simulated cascade is drawn over the heatmap as a path after the last candle: one step per round.
function clearCascade() {
  if (page.cascadeSeries) { chart.removeSeries(page.cascadeSeries); page.cascadeSeries = null; }
  page.cascade = null;
}

$('cascade').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const c = await (await api(`/api/markets/${state.market}/cascade?${new URLSearchParams(form)}`)).json();
    clearCascade();
    page.cascade = c;
    const bars = page.bars;
    const step = bars.length > 1 ? bars[bars.length - 1] - bars[bars.length - 2] : 60;
    const last = bars[bars.length - 1];
    const points = [{ time: last, value: c.price_before }, ...c.rounds.map((r, i) => ({ time: last + (i + 1) * step, value: r.price }))];
    points.push({ time: last + (c.rounds.length + 1) * step, value: c.price_after });
    page.cascadeSeries = chart.addSeries(LWC.LineSeries, { color: '#ffffff', lineWidth: 2, lineStyle: LWC.LineStyle.Dashed,
      priceLineVisible: false, lastValueVisible: true, title: 'cascade' });
    page.cascadeSeries.setData(points);
    fill($('cascadeout'), 'ends ', h('b', null, price(c.price_after)),
      ` (${c.move_pct.toFixed(2)}%, ${c.amplification.toFixed(2)}× the shock) · ${usd(c.liquidated_usd)} liquidated in ${c.rounds.length} round(s) · ${c.stop_reason}`,
      h('br'), `risk index: down ${c.risk.down.toFixed(4)}, up ${c.risk.up.toFixed(4)}`,
      h('ol', null, c.rounds.filter((r) => r.fired_usd > 0).map((r) => h('li', null, `${price(r.price)} · ${usd(r.fired_usd)}`))));
  } catch (error) {
    $('cascadeout').textContent = `Error: ${error.message}`;
  }
});

$('sr').addEventListener('change', () => { if (page.levels) drawLevels(page.levels); });

function drawSummary(s) {
  page.summary = s;
  const rho = (x) => (x === null || x === undefined ? '—' : x.toFixed(3));
  const scored = s.score && ['long', 'short'].some((side) => s.score[side]?.model !== null && s.score[side]?.model !== undefined);
  const score = !s.score ? 'no realized liquidations'
    : !scored ? 'too few realized liquidations to score'
      : ['long', 'short'].map((side) => `${side} ${rho(s.score[side]?.model)} vs ${rho(s.score[side]?.yardstick)}`).join(' · ');
  const rows = [
    ['price', price(s.price)], ['24h', `${s.change_24h_pct >= 0 ? '+' : ''}${s.change_24h_pct.toFixed(2)}%`],
    ['open interest', usd(s.open_interest_usd)], ['funding', s.funding_rate === null ? '—' : `${(s.funding_rate * 100).toFixed(4)}%`],
    ['liquidated 24h', s.liquidations_24h ? `${usd(s.liquidations_24h.long)} L · ${usd(s.liquidations_24h.short)} S` : '—'],
    ['score (Spearman)', score], ['venues', s.venues.join(', ')], ['data up to', `${s.last.replace('T', ' ').slice(0, 16)} UTC`],
    ['open interest as of', `${s.open_interest_as_of.replace('T', ' ').slice(0, 16)} UTC`],
  ];
  fill($('summary'), terms(rows));
}

// ---------------------------------------------------------------------------------------- liquidation map view

async function loadMap() {
  const m = await (await api(`/api/markets/${state.market}/map?bins=160&span_pct=25`)).json();
  page.map = m;
  const canvas = $('mapcanvas');
  const ratio = window.devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  const ctx = canvas.getContext('2d');
  ctx.scale(ratio, ratio);
  const W = canvas.clientWidth;
  const H = canvas.clientHeight;
  const pad = { l: 70, r: 70, t: 20, b: 30 };
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
      const h = (v / barMax) * (H - pad.t - pad.b);
      ctx.fillStyle = colour;
      ctx.fillRect(x(i), H - pad.b - h, Math.max(1, x(i + 1) - x(i) - 1), h);
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

// ---------------------------------------------------------------------------------------- controls

function showTab(tab) {
  state.tab = tab;
  $('view-heatmap').hidden = tab !== 'heatmap';
  $('view-map').hidden = tab !== 'map';
  $('tab-heatmap').classList.toggle('on', tab === 'heatmap');
  $('tab-map').classList.toggle('on', tab === 'map');
  saveUrl();
  if (tab === 'map') loadMap().catch(showError);
}

for (const key of ['market', 'window', 'interval', 'side', 'lev', 'scale']) {
  $(key).addEventListener('change', () => {
    state[key] = $(key).value;
    if (key === 'scale' && page.heatmap) { saveUrl(); heatmapPrimitive.set(paint(page.heatmap, state.scale)); return; }
    load();
  });
}
$('tab-heatmap').addEventListener('click', () => showTab('heatmap'));
$('tab-map').addEventListener('click', () => showTab('map'));

$('calc').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  if (!form.get('entry') && page.summary) form.set('entry', page.summary.price);
  try {
    const r = await (await api(`/api/calc?${new URLSearchParams(form)}`)).json();
    fill($('calcout'), 'liquidation ', h('b', { className: r.side }, price(r.liquidation_price)), ` (${r.distance_pct?.toFixed(2)}%)`, h('br'),
      `tier ${r.bracket.tier} · MMR ${(r.bracket.mmr * 100).toFixed(2)}% · triggered by the mark price`);
  } catch (error) {
    $('calcout').textContent = `Error: ${error.message}`;
  }
});

function download(href, name) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function viewCanvas() {
  return state.tab === 'map' ? $('mapcanvas') : chart.takeScreenshot();
}

const EXPORT_STYLE = `body{background:#0d1117;color:#c9d1d9;font:13px system-ui;margin:16px}img{max-width:100%;border:1px solid #30363d}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;max-width:520px}dt{color:#8b949e}.long{color:#f85149}.short{color:#3fb950}`;

function exportView(kind) {
  const name = `liqheat-${state.market}-${state.window}`;
  const [lo, hi] = state.lev.split('-');
  const matrix = `/api/markets/${state.market}/heatmap?window=${state.window}&side=${state.side}&lev_min=${lo}&lev_max=${hi}&format=csv`;
  if (kind === 'png') download(viewCanvas().toDataURL('image/png'), `${name}.png`);
  if (kind === 'csv') download(matrix, `${name}.csv`);
  if (kind === 'clusters') download(`/api/markets/${state.market}/clusters?top=10&format=csv`, `${name}-clusters.csv`);
  if (kind === 'html') {
    // one file that opens without a server: the picture, what it shows, where it came from; built as a
    // document and serialized, so the market's text (and the link's window) arrive escaped
    const doc = document.implementation.createHTMLDocument(name);
    const copy = (id) => [...$(id).childNodes].map((node) => doc.importNode(node, true));
    const meta = doc.createElement('meta');
    meta.setAttribute('charset', 'utf-8');
    const picture = doc.createElement('img');  // made in the inert document: the page does not load it
    Object.assign(picture, { alt: 'heatmap', src: viewCanvas().toDataURL('image/png') });
    doc.head.prepend(meta);
    doc.head.append(h('style', null, EXPORT_STYLE));
    doc.body.append(h('h1', null, `liqheat · ${state.market} · ${state.window} · ${state.side}`),
      h('p', null, `Estimated liquidation levels: longs liquidate below price, shorts above. View: ${location.href}`),
      picture, h('h2', null, 'Market'), h('dl', null, copy('summary')),
      h('h2', null, 'Largest clusters'), h('ol', null, copy('clusters')),
      h('p', null, `Charts: TradingView Lightweight Charts. Exported ${new Date().toISOString()}.`));
    const html = `<!doctype html>${doc.documentElement.outerHTML}`;
    download(URL.createObjectURL(new Blob([html], { type: 'text/html' })), `${name}.html`);
  }
}

$('export').addEventListener('change', (event) => {
  const kind = event.target.value;
  event.target.value = '';
  if (kind) exportView(kind);
});

function listen() {
  // the server says when a market grew (a live venue, a followed store, the demo running on)
  if (!window.EventSource) return;
  const source = new EventSource('/api/events');
  source.addEventListener('grew', (event) => {
    const info = JSON.parse(event.data);
    page.version = info.version;
    if (info.market === state.market && document.body.dataset.state !== 'loading') load({ keepView: true });
    if (!$('storeliq').hidden) loadStoreLiquidations().catch(showError);
  });
}

async function start() {
  try {
    const markets = await (await api('/api/markets')).json();
    page.markets = markets;
    if (!markets.length) throw new Error('this server has no market: start it with --bundle DIR');
    fill($('market'), markets.map((m) => new Option(`${m.symbol} · ${m.venues.join('+')} · ${m.timeframe}`, m.id)));
    if (!markets.some((m) => m.id === state.market)) state.market = markets[0].id;
    if (![...$('window').options].some((o) => o.value === state.window)) $('window').add(new Option(state.window, state.window));
    for (const key of ['market', 'window', 'interval', 'side', 'lev', 'scale']) $(key).value = state[key];
    showTab(state.tab === 'map' ? 'map' : 'heatmap');
    await load();
    $('storeliqform').addEventListener('change', () => loadStoreLiquidations().catch(showError));
    await loadStoreLiquidations();
    listen();
  } catch (error) {
    showError(error);
  }
}
start();
