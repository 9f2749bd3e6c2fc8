// liqheat page: TradingView Lightweight Charts v5 candles over one pre-coloured heatmap bitmap
// (a series primitive drawn beneath the candles, redrawn by the chart on every pan and zoom).

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

export function paint(h, scale) {
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

// ---------------------------------------------------------------------------------------- data

// The heatmap endpoint's format=q16 answer: a uint32 header length, the JSON header, padding to 4 bytes,
// then the long and the short cells as uint16 codes round(log1p(v) · scale).
export function decodeQ16(buffer) {
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

// ---------------------------------------------------------------------------------------- chart

export function barIndex(bars, t) {
  // fractional index of time t among the bars (the time scale is indexed by bars, not by time)
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

export function xOf(ts, logical) {
  // logicalToCoordinate wants whole bars: interpolate between the two around a fractional index
  const i = Math.floor(logical);
  const a = ts.logicalToCoordinate(i);
  const b = ts.logicalToCoordinate(i + 1);
  if (a === null || b === null) return null;
  return a + (logical - i) * (b - a);
}

// Draws page.heatmap (placed on page.bars) as the bitmap set(); records each draw's time in page.drawMs
// and the first paint after page.dataAt in page.firstPaintMs (bench/web.py reads both).
export class HeatmapPrimitive {
  constructor(chart, series, page) {
    this.chart = chart;
    this.series = series;
    this.page = page;
    this.image = null;
    this.view = { zOrder: () => 'bottom', renderer: () => ({ draw: (target) => this.draw(target) }) };
  }
  attached({ requestUpdate }) { this.requestUpdate = requestUpdate; }
  detached() {}
  updateAllViews() {}
  paneViews() { return [this.view]; }
  set(image) { this.image = image; if (this.requestUpdate) this.requestUpdate(); }
  draw(target) {
    const { page, series } = this;
    const h = page.heatmap;
    if (!h || !this.image) return;
    const ts = this.chart.timeScale();
    const first = barIndex(page.bars, h.time[0]);
    const last = barIndex(page.bars, h.time[h.time.length - 1]);
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

// the cell of heatmap h under (time, price p), with its long and short notional; null off the map
export function cellAt(h, time, p) {
  if (!h) return null;
  let c = 0;
  while (c + 1 < h.time.length && h.time[c + 1] <= time) c++;
  let r = 0;
  while (r + 1 < h.rows && h.price_edges[r + 1] <= p) r++;
  if (p < h.price_edges[0] || p > h.price_edges[h.rows]) return null;
  return { c, r, long: h.long[c * h.rows + r], short: h.short[c * h.rows + r] };
}
