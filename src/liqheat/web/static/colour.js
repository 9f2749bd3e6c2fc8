// The heatmap's colours off the page's main thread (a module worker, started by index.html): decoding an answer,
// each cell's brightness and the bitmap (a third of a million cells on a desktop view) run here while the main
// thread draws the candles. A message asks for one view; the answer gives back the heatmap it coloured.

import { columnPrices, decodeQ16, paint } from './heatmap.js';

self.onmessage = ({ data }) => {
  const { id, buffer, heatmap, scale, contrast, times, opens } = data;
  try {
    const h = buffer ? decodeQ16(buffer) : heatmap;
    const { image, level, legend } = paint(h, scale, { contrast, prices: columnPrices(h, times, opens) });
    self.postMessage({ id, heatmap: h, image, level, legend }, [image, h.long.buffer, h.short.buffer, level.buffer]);
  } catch (error) {
    self.postMessage({ id, error: String(error?.message ?? error) });
  }
};
