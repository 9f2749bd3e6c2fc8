// The heatmap's colours off the page's main thread (a module worker, started by index.html): decoding an answer,
// each cell's brightness and the bitmap (a third of a million cells on a desktop view) run here while the main
// thread draws the candles. It keeps the frame it coloured last, so a live candle's columns are coloured on it
// (Painter.append) rather than the whole frame again. Asks, answered in order:
// - whole: a frame (`buffer`, an answer's bytes decoded here and sent back, or a decoded `heatmap`) on a scale;
// - append: the held frame less its first `drop` columns, then `delta`'s; `base` names the frame the page moved on,
//   and an answer { stale: true } says the held one differs (the page then sends the whole frame);
// - recolour: the held frame on another scale or contrast ({ stale: true } when none is held).

import { bitmap, columnPrices, decodeQ16, Painter } from './heatmap.js';

const painter = new Painter();

const loadedAt = performance.timeOrigin + performance.now();

// `got` sent back: its pixels as a bitmap, with how long the ask took here (bench/web.py reads `spent`)
function answer(id, got, heatmap = null, began = 0) {
  const h = painter.heatmap;
  const image = bitmap(got.pixels, h.columns, h.rows);
  const level = got.level.slice();
  const sent = heatmap ? { ...heatmap, long: heatmap.long.slice(), short: heatmap.short.slice() } : null;
  const moved = [image, level.buffer, ...(sent ? [sent.long.buffer, sent.short.buffer] : [])];
  const spent = { ms: performance.now() - began, loadedAt };
  self.postMessage({ id, image, level, legend: got.legend, heatmap: sent, again: painter.again ?? null, spent }, moved);
}

self.onmessage = ({ data }) => {
  const { id, kind, scale, contrast, times, opens } = data;
  const began = performance.now();
  try {
    if (kind === 'append') {
      const held = painter.heatmap;
      const same = held && held.time[0] === data.base.first && held.columns === data.base.columns;
      const time = same ? [...held.time.slice(data.drop), ...data.delta.time] : null;
      const got = same ? painter.append(data.delta, data.drop, columnPrices({ columns: time.length, time }, times, opens)) : null;
      if (!got) self.postMessage({ id, stale: true }); else answer(id, got, null, began);
    } else if (kind === 'recolour') {
      const got = painter.recolour(scale, contrast);
      if (!got) self.postMessage({ id, stale: true }); else answer(id, got, null, began);
    } else {
      const h = data.buffer ? decodeQ16(data.buffer) : data.heatmap;
      answer(id, painter.colour(h, scale, contrast, columnPrices(h, times, opens)), data.buffer ? h : null, began);
    }
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
};
