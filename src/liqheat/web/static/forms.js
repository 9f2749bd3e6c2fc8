// The forms that ask the API about a position: the planner (its lines on the chart), the cascade simulator
// (its path after the last candle) and the liquidation-price calculator. `app` is { state, page, chart, series }.

import * as api from './api.js';
import { $, fill, h, price, usd } from './format.js';

const LWC = window.LightweightCharts;

export function clearPlan({ page, series }) {
  for (const line of page.planLines) series.removePriceLine(line);
  page.planLines = [];
  page.plan = null;
  page.fitPrices = [];
}

// The simulated cascade is drawn over the heatmap as a path after the last candle: one step per round.
export function clearCascade({ page, chart }) {
  if (page.cascadeSeries) { chart.removeSeries(page.cascadeSeries); page.cascadeSeries = null; }
  page.cascade = null;
}

async function submitPlan(app, event) {
  const { state, page, series, chart } = app;
  event.preventDefault();
  const form = new FormData(event.target);
  if (!form.get('entry') && page.summary) form.set('entry', page.summary.price);
  try {
    const p = await api.plan(state.market, form);
    clearPlan(app);
    page.plan = p;
    const line = (value, color, title) => series.createPriceLine({ price: value, color, lineWidth: 2, lineStyle: LWC.LineStyle.Solid,
      axisLabelVisible: true, title });
    page.planLines.push(line(p.entry, '#58a6ff', 'entry'), line(p.stop, '#f0883e', 'stop'));
    if (p.liquidation_price > 0 && Number.isFinite(p.liquidation_price)) page.planLines.push(line(p.liquidation_price, '#ff7b72', 'own liquidation'));
    if (p.take_profit !== null) page.planLines.push(line(p.take_profit, '#3fb950', 'target'));
    // every line of the plan on screen: the price scale widens to hold them (main.js's autoscale)
    page.fitPrices = [p.entry, p.stop, p.liquidation_price, p.take_profit].filter((x) => x !== null && x > 0 && Number.isFinite(x));
    chart.priceScale('right').applyOptions({ autoScale: true });
    const stopText = p.sound_stop ? ['stop ', h('b', null, price(p.stop)), ` · ${p.stop_reason}`]
      : h('span', { className: 'unsound' }, `no sound stop · ${price(p.stop)} is the farthest allowed`);
    fill($('planout'), 'size ', h('b', null, p.size_base.toPrecision(4)), ` (${usd(p.notional_usd)}, margin ${usd(p.margin_usd)})`, h('br'),
      stopText, h('br'), 'own liquidation ', h('b', null, price(p.liquidation_price)), h('br'),
      p.take_profit === null ? 'no target cluster' : ['target ', h('b', null, price(p.take_profit)), ` · reward/risk ${p.reward_risk.toFixed(2)}`],
      p.margin_to_clear === null ? null : [h('br'), `margin to clear: ${usd(p.margin_to_clear)}`],
      p.warnings.map((w) => h('div', { className: 'warn' }, `⚠ ${w}`)));
  } catch (error) {
    $('planout').textContent = `Error: ${error.message}`;
  }
}

async function submitCascade(app, event) {
  const { state, page, chart } = app;
  event.preventDefault();
  const form = new FormData(event.target);
  try {
    const c = await api.cascade(state.market, form);
    clearCascade(app);
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
      h('div', { className: 'dim' }, `depth: ${c.depth_source}`),
      h('ol', null, c.rounds.filter((r) => r.fired_usd > 0).map((r) => h('li', null, `${price(r.price)} · ${usd(r.fired_usd)}`))));
  } catch (error) {
    $('cascadeout').textContent = `Error: ${error.message}`;
  }
}

async function submitCalc({ state, page }, event) {
  event.preventDefault();
  const form = new FormData(event.target);
  if (!form.get('entry') && page.summary) form.set('entry', page.summary.price);
  try {
    const r = await api.calc(state.market, form);
    fill($('calcout'), 'liquidation ', h('b', { className: r.side }, price(r.liquidation_price)), ` (${r.distance_pct?.toFixed(2)}%)`, h('br'),
      `tier ${r.bracket.tier} · MMR ${(r.bracket.mmr * 100).toFixed(2)}% · triggered by the mark price`);
  } catch (error) {
    $('calcout').textContent = `Error: ${error.message}`;
  }
}

export function wireForms(app) {
  $('plan').addEventListener('submit', (event) => submitPlan(app, event));
  $('cascade').addEventListener('submit', (event) => submitCascade(app, event));
  $('calc').addEventListener('submit', (event) => submitCalc(app, event));
  $('planclear').addEventListener('click', () => { clearPlan(app); $('planout').textContent = ''; });
  $('cascadeclear').addEventListener('click', () => { clearCascade(app); $('cascadeout').textContent = ''; });
}
