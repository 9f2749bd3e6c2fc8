// liqheat page, the entry module: the view's state (kept in the URL), the chart with the heatmap beneath its
// candles (heatmap.js), loading a market into the panels, and the controls. Lightweight Charts is a classic
// script that index.html loads before the modules; they read its global.

import * as api from './api.js';
import { exportView } from './export.js';
import { $, fill, h, price } from './format.js';
import { clearCascade, clearPlan, wireForms } from './forms.js';
import { appendColumns, barIndex, decodeQ16, ExactPrimitive, HeatmapPrimitive, xOf } from './heatmap.js';
import * as live from './live.js';
import { candleQuery, colour, first, heatmapQuery, serves, state } from './view.js';
import { drawMap, loadMap, mapTooltip } from './mapview.js';
import {
  drawClusters, drawColourBar, drawLevels, drawMarkers, drawRealized, drawSentiment, drawSummary, drawTooltip, drawVenues,
  loadAlerts, loadStoreLiquidations,
} from './panels.js';

const LWC = window.LightweightCharts;
const page = {
  heatmap: null, bars: [], candles: [], map: null, summary: null, clusters: [], priceLines: [], markers: null,
  levelLines: [], planLines: [], levels: null, plan: null, cascade: null,
  dataAt: 0, firstPaintMs: null, drawMs: [], answers: {}, answerText: {},
  modulesAt: performance.now(), // when the page's modules began to run (after the chart library): bench/web.py, tests
};
window.liqheat = page;

function saveUrl() {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(state)) if (v) p.set(k, v);
  history.replaceState(null, '', `?${p}`);
}

function showError(error) {
  const el = $('error');
  el.textContent = `Error: ${error.message}`;
  el.hidden = false;
  document.body.dataset.state = 'error';
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
// the price scale holds the candles and whatever the trader asked to see (a plan's lines)
series.applyOptions({
  autoscaleInfoProvider: (original) => {
    const range = original();
    const extra = page.fitPrices ?? [];
    if (!range || !extra.length) return range;
    const { minValue, maxValue } = range.priceRange;
    return { ...range, priceRange: { minValue: Math.min(minValue, ...extra), maxValue: Math.max(maxValue, ...extra) } };
  },
});
const heatmapPrimitive = new HeatmapPrimitive(chart, series, page);
series.attachPrimitive(heatmapPrimitive);
const exactPrimitive = new ExactPrimitive(chart, series, page); // attached after: drawn over the bitmap, under the candles
series.attachPrimitive(exactPrimitive);

// what the other modules draw with
const app = { state, page, chart, series };
// The tests and bench/web.py evaluate these by name, as they could when the page was one classic script.
Object.assign(window, { page, chart, series, xOf, barIndex: (t) => barIndex(page.bars, t), refresh: () => load({ keepView: true }),
  refreshAlerts: () => loadAlerts(app) });

// the permalink keeps the zoom: the visible time range, once the trader moves it
let zoomTimer = null;
chart.timeScale().subscribeVisibleTimeRangeChange((range) => {
  if (!range || !page.zoomReady || document.body.dataset.state === 'loading') return;
  clearTimeout(zoomTimer);
  zoomTimer = setTimeout(() => { state.from = String(range.from); state.to = String(range.to); saveUrl(); }, 250);
});

chart.subscribeCrosshairMove((param) => {
  if (!param.point && performance.now() - (page.touchedAt ?? -1e9) < 4000) return; // a tap's hover stays a while
  drawTooltip(app, param);
});
// Touch: a tap or a drag on the chart shows the hover of the cell under the finger (a phone has no cursor).
$('chart').addEventListener('pointerdown', touchHover, { capture: true });
$('chart').addEventListener('pointermove', touchHover, { capture: true });
function touchHover(event) {
  if (event.pointerType !== 'touch') return;
  const box = $('chart').getBoundingClientRect();
  const point = { x: event.clientX - box.left, y: event.clientY - box.top };
  const time = chart.timeScale().coordinateToTime(point.x);
  if (time === null) return;
  page.touchedAt = performance.now();
  drawTooltip(app, { point, time });
}

// ---------------------------------------------------------------------------------------- data

// The heatmap's colours come from colour.js's worker; these hand its answers to the chart.
function drawPainted(got, heatmap) {
  page.colourMs = performance.now() - page.colourAskedAt;
  page.heatmap = heatmap;
  page.painted = { image: got.image, level: got.level, legend: got.legend, again: got.again, spent: got.spent };
  heatmapPrimitive.set(state.source === 'exact' && page.exactLayer ? null : got.image);
  drawColourBar(app, got.legend);
  showExact();
}
const scaleAsked = () => ({ scale: state.scale, contrast: Number(state.contrast) || 1 });
const pricesAsked = () => ({ times: page.bars, opens: page.candles.map((c) => c.open) });

// New heatmap data coloured and drawn: a whole frame (an answer's bytes, decoded by the worker, or a decoded frame),
// or a live candle's columns ({ append, heatmap }: coloured on the frame the worker holds).
async function repaint(data) {
  page.colourAskedAt = performance.now(); // bench/web.py: the worker's share of a frame
  if (data.painted) { drawPainted(data.painted, data.painted.heatmap); return; } // coloured as the page loaded
  if (data.append) {
    const got = await colour({ kind: 'append', ...data.append, ...pricesAsked() });
    if (!got.stale) { drawPainted(got, data.heatmap); return; }
    data = data.heatmap; // the worker holds another frame: this one whole
  }
  const ask = { kind: 'whole', ...scaleAsked(), ...pricesAsked() };
  const got = await colour(data.buffer ? { ...ask, buffer: data.buffer } : { ...ask, heatmap: data }, data.buffer ? [data.buffer] : []);
  drawPainted(got, got.heatmap ?? data);
}

// The frame on the scale and contrast now chosen. One at a time: those asked while one runs become one (a contrast
// slider dragged asks dozens), which takes the state as it is when it starts.
let recolouring = null;
let recolourAgain = false;
function recolour() {
  if (recolouring) { recolourAgain = true; return recolouring; }
  recolouring = colour({ kind: 'recolour', ...scaleAsked() })
    .then((got) => (got.stale ? repaint(page.heatmap) : drawPainted(got, page.heatmap)))
    .finally(() => {
      recolouring = null;
      if (recolourAgain) { recolourAgain = false; recolour().catch(showError); }
    });
  return recolouring;
}

// The levels select (estimated, exact, both) on the heatmap: the bitmap is the estimate, the violet runs the
// exact levels; shown only where the market has an exact source.
const hasExact = () => Boolean(page.markets?.find((m) => m.id === state.market)?.exact?.length);
function showExact() {
  const layer = page.exactLayer;
  page.exactShown = Boolean(layer) && state.source !== 'estimated';
  $('mapsourcelabel').hidden = !hasExact() && state.source === 'all';
  $('mapsource').value = state.source;
  $('colourbar').hidden = state.source === 'exact' && Boolean(layer); // the bitmap's scale, with no bitmap drawn
  const legend = $('exactlegend');
  const snaps = (layer?.sources ?? []).map((s) => `${s.source} ${s.snapshots.map((x) => x.as_of.slice(0, 10)).join(', ') || 'none in the window'}`);
  legend.textContent = page.exactShown && snaps.length ? `▬ exact on-chain levels: ${snaps.join(' · ')}` : '';
  legend.title = page.exactShown ? `${layer.note}\n${layer.sources.flatMap((s) => s.snapshots.map((x) => `${s.source} as of `
    + `${x.as_of.replace('T', ' ').slice(0, 16)} UTC: ${x.positions.toLocaleString('en-US')} positions. ${x.note}`)).join('\n')}` : '';
  exactPrimitive.update();
}

// The exact layer on the heatmap's columns and rows (asked alike), or null where the market has no exact source
async function exactData() {
  if (!hasExact()) return null;
  const { query } = heatmapQuery();
  const { format, ...asked } = query;
  return api.heatmapExact(state.market, asked);
}

// The view's heatmap as index.html left it: coloured already (with the candles it asked), else its answer's bytes.
async function firstHeatmap(live, early, sameCandles) {
  const asked = early?.heatmap && serves(early.heatmap.query, heatmapQuery().query) ? early.heatmap : null;
  const got = asked && sameCandles ? await early.painted : null;
  if (!got || got.error || got.stale) return heatmapData(live, asked);
  page.heatmapKey = asked.key; // the query held: a live candle asks its columns while the view stays
  page.heatmapAnswer = { bytes: got.heatmap.bytes, delta: false };
  return { painted: got };
}

// The heatmap of the view (the one asked first, when it is this view's). On a live refresh of the same view only the
// columns after the page's last are asked (the server answers the whole frame when its rows moved): a few kB a candle
// instead of a megabyte.
async function heatmapData(live = false, asked = null) {
  const wanted = heatmapQuery();
  const held = page.heatmap;
  // the query of the frame held, while it serves the view (its columns guessed by the first ask), else the view's
  const heldQuery = page.heatmapKey ? JSON.parse(page.heatmapKey)[1] : null;
  let { query, key } = heldQuery && serves(heldQuery, wanted.query) && live ? { query: heldQuery, key: page.heatmapKey } : wanted;
  const delta = live && held && page.heatmapKey === key && held.columns > 0
    ? { since: held.time[held.columns - 1], lo: held.price_edges[0], rows: held.rows } : {};
  const buffer = asked && serves(asked.query, query) ? await asked.answer() : await api.heatmap(state.market, { ...query, ...delta });
  if (asked && serves(asked.query, query)) ({ query, key } = asked);
  page.heatmapKey = key;
  page.heatmapAnswer = { bytes: buffer.byteLength, delta: false }; // what the last answer cost (tests read it)
  if (delta.since === undefined) return { buffer }; // a whole view: decoded in the colour worker
  const got = decodeQ16(buffer); // the columns after the page's (or the whole view, when its rows moved)
  if (!got.delta) return got;
  page.heatmapAnswer.delta = true;
  const drop = held.time.indexOf(got.first);
  if (drop < 0) return { buffer: await api.heatmap(state.market, query) };
  if (drop === 0 && got.columns === 0) return null; // the candle moved no column: the frame drawn stands
  return { append: { delta: got, drop, base: { first: held.time[0], columns: held.columns } }, heatmap: appendColumns(held, got, drop) };
}


const SECONDS = { '1m': 60, '5m': 300, '15m': 900, '1h': 3600, '4h': 14400, '1d': 86400 };
const WINDOW_SECONDS = { '4h': 14400, '12h': 43200, '24h': 86400, '3d': 259200, '7d': 604800, '30d': 2592000, '90d': 7776000, '180d': 15552000, '1y': 31536000 };
function nativeSeconds() {
  const market = page.markets?.find((m) => m.id === state.market);
  const m = /^(\d+)([smhdw])$/.exec(market?.timeframe ?? '1m');
  return m ? Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]] : 60;
}

// Only the candle intervals the market can give (its own timeframe and multiples of it); a window longer
// than the market's data says it shows all of it.
function fitControls() {
  const market = page.markets?.find((m) => m.id === state.market);
  const native = nativeSeconds();
  for (const option of $('interval').options) {
    const seconds = SECONDS[option.value];
    option.disabled = Boolean(option.value) && (seconds < native || seconds % native !== 0);
    option.title = option.disabled ? `finer than, or not a multiple of, this market's ${market?.timeframe} candles` : '';
  }
  if ($('interval').selectedOptions[0]?.disabled) { state.interval = ''; $('interval').value = ''; }
  const held = market ? (Date.parse(market.last) - Date.parse(market.first)) / 1000 + native : Infinity;
  const asked = WINDOW_SECONDS[state.window];
  const note = $('windownote');
  note.hidden = !(asked > held * 1.02);
  note.textContent = note.hidden ? '' : `the data holds ${Math.round(held / 86400)} days: all of it is shown`;
}

const SLOW_MS = 60_000;

// page.candles with new native candles folded in: into the last bar while they fall in its interval, else as
// new bars (the candles answer's shape)
function appended(native) {
  const step = SECONDS[page.interval] ?? nativeSeconds();
  const bars = page.candles.map((b) => ({ ...b }));
  native.time.forEach((t, i) => {
    const time = Math.floor(t / step) * step;
    const last = bars.at(-1);
    if (last && last.time === time) {
      last.high = Math.max(last.high, native.high[i]);
      last.low = Math.min(last.low, native.low[i]);
      last.close = native.close[i];
    } else if (!last || time > last.time) {
      bars.push({ time, open: native.open[i], high: native.high[i], low: native.low[i], close: native.close[i] });
    }
  });
  const column = (key) => bars.map((b) => b[key]);
  return { time: column('time'), open: column('open'), high: column('high'), low: column('low'), close: column('close') };
}

// The candles of a load on the chart (a new view's at once, with another view's bitmap taken away; a live one's with
// its heatmap), its visible range kept, set from the address, or fitted.
function showCandles(candles, visible, { live = false, follows = false } = {}) {
  if (!follows) page.interval = candles.interval;
  page.bars = candles.time;
  page.candles = candles.time.map((t, i) => ({ time: t, open: candles.open[i], high: candles.high[i], low: candles.low[i], close: candles.close[i] }));
  if (!live) heatmapPrimitive.set(null);
  series.setData(page.candles);
  if (visible) chart.timeScale().setVisibleLogicalRange(visible);
  else if (state.from && state.to) chart.timeScale().setVisibleRange({ from: Number(state.from), to: Number(state.to) });
  else chart.timeScale().fitContent();
}

async function load({ keepView = false, live = false, delta = null, early = null } = {}) {
  $('error').hidden = true;
  document.body.dataset.state = 'loading';
  const visible = keepView ? chart.timeScale().getVisibleLogicalRange() : null;
  saveUrl();
  try {
    const id = state.market;
    // A live refresh (the market grew by a candle) asks again only for what a candle changes; the slow panels
    // (7-day totals, venues, S/R, 24 h sentiment) at most once a minute. A panel is redrawn only when its
    // answer changed.
    const slow = !live || performance.now() - (page.slowAt ?? -Infinity) > SLOW_MS;
    const kept = (key, ask) => (slow ? ask() : Promise.resolve(page.answers[key]));
    // The chart first: candles and heatmap are drawn as soon as they arrive; the panels follow.
    const token = (page.loadToken = (page.loadToken ?? 0) + 1);
    // the event's candles, when they follow the last one this page has: appended, not asked again
    const follows = delta?.candles && page.answers.summary?.id === id && page.answers.summary.last === delta.previous_last;
    const firstCandles = early?.candles?.key === candleQuery().key ? early.candles.answer : null;
    const candlesAsked = follows ? Promise.resolve(appended(delta.candles)) : firstCandles ?? api.candles(id, candleQuery().query);
    // a new view's candles are drawn as they arrive, while its heatmap is coloured: the chart's first render
    // (~100 ms of the main thread) overlaps the worker's colouring, and the bitmap then only needs its own draw
    const shown = live ? null : candlesAsked.then((candles) => { if (token === page.loadToken) showCandles(candles, visible); });
    shown?.catch(() => {}); // the picture's await reports a failure
    const picture = Promise.all([
      candlesAsked,
      firstHeatmap(live, early, Boolean(firstCandles)).catch((error) => (early ? heatmapData(live) : Promise.reject(error))),
      exactData(),
      shown,
    ]);
    // On a new view the panels are asked once the chart is drawn (their answers would share the server's cores
    // with its data, and the page's main thread with its first frame); on a live refresh at once: the new columns
    // are a few kB and the worker colours only the columns that moved, so the panels' answers are the longer wait.
    const painted = () => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0))); // after the frame
    const asked = live ? Promise.resolve() : picture.catch(() => {}).then(painted);
    const panels = asked.then(() => Promise.all([
      api.liquidations(id, { window: state.window, limit: 5000 }),
      api.summary(id),
      api.clusters(id, { top: 3, lev_min: state.lev.split('-')[0], lev_max: state.lev.split('-')[1] }),
      kept('realized', () => api.liquidationTotals(id, { window: '7d', bucket: '1d', largest: 5 })),
      kept('venues', () => api.venues(id)),
      kept('levels', () => api.levels(id, { top: 8 })),
      kept('mood', () => api.sentiment(id, { window: '24h' })),
    ]));
    panels.catch(() => {}); // awaited below; a failure there is reported once, by that await
    const [candles, heat, exact] = await picture;
    if (token !== page.loadToken) return; // another load began (the trader changed the view): it draws
    if (slow) page.slowAt = performance.now();
    page.requests = (page.requests ?? 0) + (slow ? 9 : 5) - (follows ? 1 : 0);
    page.dataAt = performance.now();
    page.pictureAt = performance.timeOrigin + page.dataAt;
    page.firstPaintMs = null;
    if (live) showCandles(candles, visible, { live, follows });
    page.exactLayer = exact;
    if (heat) await repaint(heat); // the chart draws the candles meanwhile
    else Object.assign(page, { colourMs: 0, painted: { ...page.painted, again: 0 } }); // nothing to colour again
    if (token !== page.loadToken) return;
    page.zoomReady = true;
    page.chartAt = performance.timeOrigin + performance.now();
    const [liqs, summary, clusters, realized, venues, levels, mood] = await panels;
    page.panelsAt = performance.timeOrigin + performance.now();
    if (token !== page.loadToken) return;
    const changed = (key, value) => {
      const text = JSON.stringify(value);
      if (live && page.answerText[key] === text) return false;
      page.answerText[key] = text;
      page.answers[key] = value;
      return true;
    };
    if (changed('liqs', liqs)) drawMarkers(app, liqs);
    if (changed('clusters', clusters)) drawClusters(app, clusters.clusters);
    if (changed('summary', summary)) drawSummary(app, summary);
    if (changed('realized', realized)) drawRealized(app, realized);
    if (changed('venues', venues)) drawVenues(app, venues);
    if (changed('levels', levels)) drawLevels(app, levels);
    if (changed('mood', mood)) drawSentiment(app, mood);
    page.updatedAt = performance.timeOrigin + performance.now();
    // What the trader drew stays until they clear it: a plan until the market changes, a cascade's path (drawn
    // in bar steps after the last candle) until the market or the bars change.
    const bars = `${id}|${state.window}|${state.interval}`;
    if (page.drawnFor && page.drawnFor.split('|')[0] !== id) clearPlan(app);
    if (page.drawnFor && page.drawnFor !== bars) clearCascade(app);
    page.drawnFor = bars;
    page.clusters = clusters.clusters;
    if (state.tab === 'map') await loadMap(app);
    document.body.dataset.state = 'ready';
    if (page.grewWhileLoading) { page.grewWhileLoading = false; load({ keepView: true, live: true }); }
  } catch (error) {
    showError(error);
  }
}

// ---------------------------------------------------------------------------------------- controls

function showTab(tab) {
  state.tab = tab;
  $('view-heatmap').hidden = tab !== 'heatmap';
  $('view-map').hidden = tab !== 'map';
  $('tab-heatmap').classList.toggle('on', tab === 'heatmap');
  $('tab-map').classList.toggle('on', tab === 'map');
  saveUrl();
  if (tab === 'map') loadMap(app).catch(showError);
}

// ---------------------------------------------------------------------------------------- markets

const marketLabel = (m) => `${m.symbol} · ${m.venues.join('+')} · ${m.timeframe}`;
const sameGroup = (a, b) => a.symbol === b.symbol && a.quote === b.quote && a.contract === b.contract && a.timeframe === b.timeframe;

// The venue select: the market's venues aggregated, or one of them (the server serves each as a market).
function fitVenues() {
  const current = page.markets?.find((m) => m.id === state.market);
  const group = current ? page.markets.filter((m) => sameGroup(m, current)) : [];
  $('venuelabel').hidden = group.length < 2;
  fill($('venue'), group.map((m) => new Option(m.venues.length > 1 ? `all (${m.venues.join('+')})` : m.venues[0], m.id)));
  $('venue').value = state.market;
  fitCalc();
}

// The planner and the calculator price the market shown on its venue (where it has margin rules).
const RULES = ['binance', 'bybit', 'okx', 'hyperliquid'];
function fitCalc() {
  const m = page.markets?.find((x) => x.id === state.market);
  const venue = m?.venues.find((v) => RULES.includes(v));
  if (venue) { $('calc').elements.venue.value = venue; $('plan').elements.venue.value = venue; }
}

function chooseMarket(id) {
  state.market = id;
  state.from = '';
  state.to = '';
  $('market').value = id;
  fitVenues();
  fitControls();
  load();
}

// search: the first market whose symbol, venues or timeframe hold every word typed
function search(text) {
  const words = text.toLowerCase().split(/[\s·]+/).filter(Boolean);
  if (!words.length) return;
  const found = page.markets.find((m) => words.every((w) => `${marketLabel(m)} ${m.id}`.toLowerCase().includes(w)));
  $('search').setCustomValidity(found ? '' : 'no market matches');
  $('search').title = found ? '' : `no market matches “${text}”`;
  if (found && found.id !== state.market) chooseMarket(found.id);
}
$('search').addEventListener('change', () => search($('search').value));
$('search').addEventListener('keydown', (event) => { if (event.key === 'Enter') search($('search').value); });
$('venue').addEventListener('change', () => chooseMarket($('venue').value));

wireForms(app);
$('sr').addEventListener('change', () => { if (page.levels) drawLevels(app, page.levels); });
for (const key of ['market', 'window', 'interval', 'side', 'lev', 'scale', 'contrast']) {
  $(key).addEventListener(key === 'contrast' ? 'input' : 'change', () => {
    state[key] = $(key).value;
    if ((key === 'scale' || key === 'contrast') && page.heatmap) { saveUrl(); recolour().catch(showError); return; }
    if (['market', 'window', 'interval'].includes(key)) { state.from = ''; state.to = ''; }
    if (key === 'market') fitVenues();
    fitControls();
    load();
  });
}
$('tab-heatmap').addEventListener('click', () => showTab('heatmap'));
$('tab-map').addEventListener('click', () => showTab('map'));
$('mapsplit').addEventListener('change', () => { state.split = $('mapsplit').value; saveUrl(); loadMap(app).catch(showError); });
$('mapsource').addEventListener('change', () => {
  state.source = $('mapsource').value;
  saveUrl();
  if (page.heatmap) recolour().catch(showError);
  if (state.tab === 'map') loadMap(app).catch(showError);
});
$('mapcanvas').addEventListener('pointermove', (event) => mapTooltip(page, event));
$('mapcanvas').addEventListener('pointerleave', () => { $('maptip').hidden = true; });
window.addEventListener('resize', () => { if (state.tab === 'map') drawMap(page); });
$('export').addEventListener('change', (event) => {
  const kind = event.target.value;
  event.target.value = '';
  if (kind) exportView(app, kind);
});

function listen() {
  // the server says when a market grew (a live venue, a followed store, the demo running on); when it is
  // gone, live.js says so and retries, and once it is back the market is loaded again
  live.listen({
    onGrew: (info) => {
      page.version = info.version;
      if (info.market !== state.market) return;
      page.grewAt = performance.timeOrigin + performance.now(); // bench/web.py: when the event reached the page
      if (document.body.dataset.state === 'loading') page.grewWhileLoading = true; // once this load ends
      else load({ keepView: true, live: true, delta: info });
      if (page.server?.store && !$('storeliq').hidden) loadStoreLiquidations(app).catch(showError);
      if (page.server?.alerts) loadAlerts(app).catch(() => {});
    },
    onReconnect: () => {
      load({ keepView: true });
      if (page.server?.store && !$('storeliq').hidden) loadStoreLiquidations(app).catch(showError);
    },
  });
}

async function start() {
  try {
    const markets = await first.markets; // asked by view.js, with a named market's candles and heatmap

    page.markets = markets;
    if (!markets.length) throw new Error('this server has no market: start it with --bundle DIR');
    fill($('market'), markets.map((m) => new Option(marketLabel(m), m.id)));
    fill($('marketlist'), markets.map((m) => h('option', { value: marketLabel(m) })));
    if (!markets.some((m) => m.id === state.market)) state.market = markets[0].id;
    if (![...$('window').options].some((o) => o.value === state.window)) $('window').add(new Option(state.window, state.window));
    for (const key of ['market', 'window', 'interval', 'side', 'lev', 'scale', 'contrast']) $(key).value = state[key];
    showTab(state.tab === 'map' ? 'map' : 'heatmap');
    fitControls();
    fitVenues();
    await load({ early: first });
    page.server = await api.server();
    if (page.server.alerts) {
      $('alertsbox').hidden = false;
      $('notify').hidden = !window.Notification || Notification.permission === 'granted';
      $('notify').addEventListener('click', async () => {
        $('notify').hidden = (await Notification.requestPermission()) === 'granted';
      });
      await loadAlerts(app);
      setInterval(() => loadAlerts(app).catch(() => {}), 15_000);
    }
    if (page.server.store) { // the store's realized liquidations, every venue and symbol: only a store has them
      $('storeliqform').addEventListener('change', () => loadStoreLiquidations(app).catch(showError));
      await loadStoreLiquidations(app);
    }
    listen();
  } catch (error) {
    showError(error);
  }
}
start();
