// What the API says about the market, drawn in the side panels (market, sentiment, venues, clusters,
// support and resistance, realized liquidations, the store's liquidations), in the hover, and as the
// lines and markers those panels put on the chart. `app` is { state, page, chart, series } from main.js.

import * as api from './api.js';
import { $, fill, h, price, terms, usd, utc } from './format.js';
import { barIndex, cellAt, exactAt, GRADIENT, usdAt } from './heatmap.js';

const LWC = window.LightweightCharts;

// Realized liquidations on the candles: summed per shown bar and side, and only the significant bars (the
// 90th percentile of the side's bars and up, at most one bar in 20), sized by notional, the largest three
// labelled. Longs below the bar, shorts above; the side filter applies.
export function drawMarkers({ page, series, state }, liqs) {
  if (page.markers) page.markers.setMarkers([]);
  const sides = state.side === 'both' ? ['long', 'short'] : [state.side];
  const totals = { long: new Map(), short: new Map() };
  for (let i = 0; i < liqs.time.length; i++) {
    if (!sides.includes(liqs.side[i])) continue;
    const index = Math.min(page.bars.length - 1, Math.max(0, Math.floor(barIndex(page.bars, liqs.time[i]) ?? 0)));
    const bar = page.bars[index];
    totals[liqs.side[i]].set(bar, (totals[liqs.side[i]].get(bar) ?? 0) + liqs.usd[i]);
  }
  const shown = [];
  const cut = {};
  for (const side of sides) {
    const bars = [...totals[side].entries()].sort((a, b) => b[1] - a[1]);
    if (!bars.length) continue;
    const keep = Math.max(3, Math.ceil(page.bars.length / 20));
    const p90 = bars[Math.floor(0.1 * (bars.length - 1))][1];
    const kept = bars.slice(0, keep).filter(([, usdSum]) => usdSum >= p90);
    cut[side] = kept[kept.length - 1][1];
    const biggest = bars[0][1];
    kept.forEach(([time, usdSum], rank) => shown.push({
      time,
      position: side === 'long' ? 'belowBar' : 'aboveBar',
      color: side === 'long' ? '#f85149' : '#3fb950',
      shape: 'circle',
      size: 0.6 + 1.8 * Math.sqrt(usdSum / biggest),
      text: rank < 3 ? usd(usdSum) : '',
    }));
  }
  page.markerBars = shown;
  shown.sort((a, b) => a.time - b.time);
  page.markers = LWC.createSeriesMarkers(series, shown);
  const legend = $('markerlegend');
  legend.textContent = Object.keys(cut).length
    ? `● realized liquidations per bar: ${Object.entries(cut).map(([side, v]) => `${side} ≥ ${usd(v)}`).join(', ')}`
    : '';
  legend.title = 'the significant bars of realized liquidations in the window (top decile, at most one bar in 20), sized by notional';
}

// The colour bar under the chart: the gradient with what its colours stand for in USD on the current scale.
export function drawColourBar({ page }, legend) {
  page.legend = legend;
  const bar = $('colourbar');
  bar.querySelector('.swatch').style.background = GRADIENT;
  const ticks = [0.25, 0.5, 1].map((x) => usdAt(legend, x));
  let text = ticks[0] === null ? legend.label : `${ticks.map((v) => usd(v)).join(' · ')} ${legend.label}`;
  if (legend.sides) {
    const sides = `long ${usd(legend.sides.long)} · short ${usd(legend.sides.short)}`;
    text = narrowChart() ? `brightest: ${sides}` : `brightest ${legend.label}: ${sides} a cell`;
  }
  bar.querySelector('.ticks').textContent = text;
  bar.title = `colour scale (${legend.note}): a quarter, half and full brightness in USD; the hover gives each cell's dollars`;
}

// On a phone the lines' titles would cover a third of the chart: there a cluster's line says only its dollars
// (its colour says the side) and a level's nothing but ✦ when it meets a cluster (its axis colour says the kind).
export const narrowChart = () => $('chart').clientWidth < 600;

// The clusters within reach of the side shown, the API's leaders of each side in one list by what they are expected
// to liquidate within 24 h (a near short band a trader will likely see swept before a far long one, whichever side
// it is on; by the API's order where an answer has no expectation): dashed lines on the chart, a list in the
// panel saying the chance and the dollars it ranks by, and a mark at the chart's top or bottom edge for each one
// priced off the visible range, with its distance.
export function drawClusters({ page, series, state }, clusters) {
  for (const line of page.priceLines) series.removePriceLine(line);
  const sided = clusters.filter((c) => state.side === 'both' || c.side === state.side);
  const ranked = sided.every((c) => Number.isFinite(c.expected_usd_24h));
  const shown = ranked ? [...sided].sort((a, b) => b.expected_usd_24h - a.expected_usd_24h) : sided;
  page.shownClusters = shown;
  page.priceLines = shown.slice(0, 6).map((c) => series.createPriceLine({
    price: c.peak_price,
    color: c.side === 'long' ? '#f85149' : '#3fb950',
    lineStyle: LWC.LineStyle.Dashed,
    lineWidth: 1,
    axisLabelVisible: true,
    title: narrowChart() ? usd(c.notional_usd) : `${c.side} cluster ${usd(c.notional_usd)}`,
  }));
  const chance = (c) => (c.hit_prob_24h === null || c.hit_prob_24h === undefined ? ''
    : ` · ${Math.round(c.hit_prob_24h * 100)}% in 24 h` + (Number.isFinite(c.expected_usd_24h) ? `, ≈ ${usd(c.expected_usd_24h)} expected` : ''));
  fill($('clusters'), shown.map((c) => h('li', { className: c.side }, `${c.side} ${price(c.price_low)}–${price(c.price_high)} · `
    + `${usd(c.notional_usd)} · ${c.distance_pct >= 0 ? '+' : ''}${c.distance_pct.toFixed(2)}%`
    + (c.distance_atr === null ? '' : ` (${Math.abs(c.distance_atr).toFixed(1)} ATR)`) + chance(c)
    + (c.age_hours === null ? '' : ` · ${c.age_at_least ? '≥ ' : ''}${age(c.age_hours)} old`))));
  page.afterDraw = () => markOffscreen(page, series);
  markOffscreen(page, series);
}

// 5 h, 40 h, 3 d 8 h, 12 d: hours while they count, then days
export function age(hours) {
  const hrs = Math.round(hours);
  if (hrs < 48) return `${hrs} h`;
  const days = Math.floor(hrs / 24);
  return days >= 10 ? `${days} d` : `${days} d ${hrs % 24} h`;
}

// Clusters priced above or below what the chart shows, as marks at its top and bottom edges.
function markOffscreen(page, series) {
  const box = $('offscreen');
  const height = $('chart').clientHeight - 30; // the time axis
  const above = [];
  const below = [];
  for (const c of page.shownClusters ?? []) {
    const y = series.priceToCoordinate(c.peak_price);
    if (y === null) continue;
    const text = `${c.side} ${usd(c.notional_usd)} ${c.distance_pct >= 0 ? '+' : ''}${c.distance_pct.toFixed(1)}%`;
    if (y < 0) above.push(text); else if (y > height) below.push(text);
  }
  const key = `${above.join('|')}#${below.join('|')}`;
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  fill(box, above.length ? h('div', { className: 'edge top' }, `▲ ${above.join(' · ')}`) : null,
    below.length ? h('div', { className: 'edge bottom' }, `▼ ${below.join(' · ')}`) : null);
}

export function drawRealized({ page }, r) {
  page.realized = r;
  if (!r.time.length) { $('realized').textContent = 'none recorded for this market'; return; }
  const days = r.time.flatMap((t, i) => [h('dt', null, utc(t).slice(0, 10)),
    h('dd', null, h('span', { className: 'long' }, usd(r.long_usd[i])), ' · ', h('span', { className: 'short' }, usd(r.short_usd[i])))]);
  const orders = r.largest.map((o) => h('li', { className: o.side }, `${o.ts.replace('T', ' ').slice(5, 16)} ${o.side} ${usd(o.usd)} @ ${price(o.price)}`));
  fill($('realized'), h('dl', null, days), orders.length ? h('ol', null, orders) : null, h('small', null, r.venues.join(', ')));
}

// Realized liquidations across the whole store (every venue and symbol imported or followed), beside the
// market's own: shown only when the server has a store (`serve --store`).
export async function loadStoreLiquidations(app) {
  const form = $('storeliqform');
  let answer;
  try {
    answer = await api.storeLiquidations({ window: form.window.value, bucket: form.bucket.value, top: 10, largest: 5 });
  } catch (error) {
    if (error.status === 404) { $('storeliq').hidden = true; return; }
    if (error.status === undefined) throw error; // no answer at all: the caller shows it
    $('storeliq').hidden = false;
    $('storeliqout').textContent = error.message;
    return;
  }
  $('storeliq').hidden = false;
  drawStoreLiquidations(app, answer);
}

function drawStoreLiquidations({ page }, r) {
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
  // the tbody is what the HTML parser adds to a table written as markup; kept so the DOM is the same
  const table = h('table', null, h('tbody', null, head('venue'), venues, head(r.bucket === '1h' ? 'hour' : 'day'), times,
    head(`top of ${r.symbols_total} markets`), symbols));
  fill($('storeliqout'), table, orders.length ? h('ol', null, orders) : null, gaps.length ? h('ul', null, gaps) : null,
    r.lower_bound.length ? h('small', null, `≥ ${r.lower_bound.join(', ')}: a throttled stream, a lower bound`) : null);
}

// Per-venue shares of open interest (store-backed markets): the hover splits a level by them, and the
// panel says how fresh each venue is, so a lagging venue is visible instead of silently stale.
export function drawVenues({ page }, v) {
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

function venueSplit(page, time) {
  const v = page.venues;
  if (!v || !v.ts.length) return null;
  let i = 0;
  while (i + 1 < v.ts.length && v.ts[i + 1] <= time) i++;
  return v.venues.map((name) => [name.split(':')[0], v.shares[name][i]]).filter(([, s]) => s !== null);
}

// The hover: the heatmap cell under the cursor (and its split by venue), from the chart's crosshair.
// The hover of a heatmap cell: the estimate's longs and shorts (and their split by venue), then each exact source's
// at the same price and time, labelled, as the levels select shows them.
export function drawTooltip({ page, series, state }, param) {
  const tip = $('tooltip');
  if (!param.point || param.time === undefined) { tip.hidden = true; return; }
  const p = series.coordinateToPrice(param.point.y);
  const cell = cellAt(page.heatmap, param.time, p);
  if (!cell) { tip.hidden = true; return; }
  const split = venueSplit(page, param.time);
  const estimated = state.source !== 'exact';
  const exact = page.exactShown ? exactAt(page.exactLayer, param.time, p) : [];
  const perVenue = split && estimated ? [h('br'), h('small', null, 'by venue (open-interest share): '
    + split.map(([name, share]) => `${name} ${usd((cell.long + cell.short) * share)}`).join(' · '))] : [];
  const tag = page.exactLayer ? 'estimated ' : '';
  const exactLines = exact.flatMap((s) => [h('br'), h('span', { className: 'exact' },
    `${s.label}: ${[s.long > 0 ? `longs ${usd(s.long)}` : '', s.short > 0 ? `shorts ${usd(s.short)}` : ''].filter(Boolean).join(' · ')}`)]);
  fill(tip, h('b', null, utc(param.time)), h('br'), 'price ', h('b', null, price(p)),
    estimated ? [h('br'), h('span', { className: 'long' }, `${tag}longs at risk ${usd(cell.long)}`), h('br'),
      h('span', { className: 'short' }, `${tag}shorts at risk ${usd(cell.short)}`)] : [],
    perVenue, exactLines);
  tip.dataset.long = estimated ? cell.long : 0;
  tip.dataset.short = estimated ? cell.short : 0;
  tip.dataset.exactLong = exact.reduce((a, s) => a + s.long, 0);
  tip.dataset.exactShort = exact.reduce((a, s) => a + s.short, 0);
  tip.hidden = false;
  tip.style.left = `${Math.min(param.point.x + 16, $('chart').clientWidth - 190)}px`;
  tip.style.top = `${Math.max(param.point.y - 40, 4)}px`;
}

// Support and resistance as dotted lines (strongest first); a level that meets a cluster is marked.
export function drawLevels({ page, series }, data) {
  page.levels = data;
  for (const line of page.levelLines) series.removePriceLine(line);
  page.levelLines = [];
  const meets = new Set(data.confluence.map((x) => x.level.price));
  if ($('sr').checked) {
    // support blue, resistance orange, a level that meets a cluster purple and thicker; each labelled on the axis
    const colour = (lv) => (meets.has(lv.price) ? '#d2a8ff' : lv.kind === 'support' ? '#79c0ff' : '#ffa657');
    page.levelLines = data.levels.slice(0, 6).map((lv) => series.createPriceLine({
      price: lv.price, color: colour(lv), lineStyle: LWC.LineStyle.Dotted, lineWidth: meets.has(lv.price) ? 2 : 1,
      axisLabelVisible: true, axisLabelColor: colour(lv), axisLabelTextColor: '#0d1117',
      title: narrowChart() ? (meets.has(lv.price) ? '✦' : '') : `${lv.kind} (${lv.source})${meets.has(lv.price) ? ' ✦ cluster' : ''}`,
    }));
  }
  fill($('levels'), data.levels.slice(0, 6).map((lv) => h('li', { className: `level ${lv.kind}` },
    `${lv.kind} ${price(lv.price)} · ${lv.source} · strength ${lv.strength.toFixed(2)}`,
    meets.has(lv.price) ? [' · ', h('b', null, 'meets a cluster')] : null)));
}

export function drawSentiment({ page }, s) {
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

// The market panel: price, change, open interest, funding, realized liquidations, the model's score, freshness.
export function drawSummary({ page }, s) {
  page.summary = s;
  const rho = (x) => (x === null || x === undefined ? '—' : x.toFixed(3));
  const scored = s.score && ['long', 'short'].some((side) => s.score[side]?.model !== null && s.score[side]?.model !== undefined);
  const score = !s.score ? 'no realized liquidations'
    : !scored ? 'too few realized liquidations to score'
      : ['long', 'short'].map((side) => `${side} ${rho(s.score[side]?.model)} vs ${rho(s.score[side]?.yardstick)}`).join(' · ');
  const rows = [
    ['price', price(s.price)], ['24h', `${s.change_24h_pct >= 0 ? '+' : ''}${s.change_24h_pct.toFixed(2)}%`],
    ['open interest', usd(s.open_interest_usd)], ['funding', s.funding_rate === null ? '—' : `${(s.funding_rate * 100).toFixed(4)}%`],
    ['liquidated 24h', s.liquidations_24h ? `${usd(s.liquidations_24h.long)} L · ${usd(s.liquidations_24h.short)} S` : 'no data'],
    ['score (Spearman)', score], ['venues', s.venues.join(', ')], ['data up to', `${s.last.replace('T', ' ').slice(0, 16)} UTC`],
    ['open interest as of', `${s.open_interest_as_of.replace('T', ' ').slice(0, 16)} UTC`],
  ];
  fill($('summary'), terms(rows));
}

// The service's alerts (liqheat run): its rules, the latest alerts and where each went; an alert newer than the
// page has seen becomes a browser notification when the trader allowed them.
export async function loadAlerts({ page }) {
  const a = await api.alerts({ limit: 10 });
  const seen = page.alertSeq;
  page.alerts = a;
  page.alertSeq = Math.max(seen ?? 0, ...a.alerts.map((x) => x.seq));
  const state = (d) => (d.status === 'delivered' ? `${d.destination} ✓`
    : `${d.destination} ⟳ ${d.attempts}${d.last_error ? ` (${d.last_error})` : ''}`);
  fill($('alertsout'),
    h('div', { className: 'dim' }, a.rules.map((r) => `${r.name} (${r.kind}${r.markets ? `: ${r.markets.join(', ')}` : ''})`).join(' · ')),
    a.alerts.length ? h('ol', null, a.alerts.map((x) => h('li', { dataset: { seq: String(x.seq) } },
      h('b', null, x.title), h('br'), h('small', null, `${x.ts.replace('T', ' ').slice(0, 16)} · ${x.deliveries.map(state).join(', ')}`))))
      : h('div', null, 'none yet'));
  if (seen !== undefined && window.Notification?.permission === 'granted') {
    for (const x of a.alerts.filter((y) => y.seq > seen).reverse()) new Notification(x.title, { body: x.text, tag: x.key });
  }
}
