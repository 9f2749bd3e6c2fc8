// The view the page shows and its first data: index.html's inline script reads the view from the address and asks
// its data with the page's first bytes (window.liqheatView); this module reads their answers as the API's client
// reads any (errors in the server's words), and the colour worker it started.

import * as api from './api.js';

const view = window.liqheatView;
export const { state, params, detail, heatmapQuery, candleQuery } = view;

// Whether a heatmap asked with `query` can stand for the view's `wanted` one: the same but for its columns, within
// 10 % (the bitmap is drawn on the bars whatever its columns; the first ask guesses the chart's width).
export function serves(query, wanted) {
  const { columns, ...rest } = query;
  const { columns: want, ...same } = wanted;
  return JSON.stringify(rest) === JSON.stringify(same) && Math.abs(columns - want) <= 0.1 * want;
}

const quiet = (promise) => { promise.catch(() => {}); return promise; }; // its awaiter reports a failure, once
const asked = view.first;
export const first = {
  markets: quiet(api.json(asked.markets)),
  candles: asked.candles && { key: asked.candles.key, answer: quiet(api.json(asked.candles.response)) },
  heatmap: asked.heatmap && { ...asked.heatmap, answer: () => quiet(api.binary(asked.heatmap.response)) },
  painted: asked.painted ?? null, // the heatmap coloured by the worker with those candles (null: read the answers)
};

// colour(ask, transfer) → the colour worker's answer to `ask` (colour.js; index.html started it with the page).
let asks = 0;
const waiting = new Map();
view.colours.onmessage = ({ data }) => {
  const wait = waiting.get(data.id);
  waiting.delete(data.id);
  if (data.error) wait?.reject(new Error(`colouring the heatmap: ${data.error}`)); else wait?.resolve(data);
};
view.colours.onerror = (event) => {
  for (const wait of waiting.values()) wait.reject(new Error(`the colour worker failed: ${event.message ?? 'not loaded'}`));
  waiting.clear();
};
export function colour(ask, transfer = []) {
  const id = ++asks;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    view.colours.postMessage({ id, ...ask }, transfer);
  });
}
