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

const FOCUS = 0.05; // ±5 % of price: the zone a trader acts on
const EDGE = 0.01; // the two scales blend over ±1 % around the zone's edge, so it shows no seam
const FAR = 0.65; // the brightest level beyond it is drawn at this brightness, so it never outshines the focus

function quantile(sample, q) {
  if (!sample.length) return 0;
  const sorted = Float64Array.from(sample).sort(); // a typed array sorts numbers natively, 10× a comparator's speed
  return sorted[Math.floor(q * (sorted.length - 1))];
}

// The largest of each column's values over a window of neighbouring columns: a reference that follows the
// market without flickering from one column to the next. A monotone deque: linear in the columns.
function rollingMax(values, half) {
  const n = values.length;
  const out = new Float64Array(n);
  const queue = new Int32Array(n);
  let head = 0;
  let tail = 0;
  let next = 0; // the next column to enter the window
  for (let c = 0; c < n; c++) {
    for (; next <= Math.min(n - 1, c + half); next++) {
      while (tail > head && values[queue[tail - 1]] <= values[next]) tail--;
      queue[tail++] = next;
    }
    while (queue[head] < c - half) head++;
    out[c] = Math.max(0, values[queue[head]]);
  }
  return out;
}

// The local scale's references per column ([near short, near long, far short, far long]: shorts above price, longs
// below, near = within ±5 % of the column's price): the largest cell of each kind in columns c0 … c1 - 1.
function localMaxes(g, maxes, c0, c1) {
  const { rows, values, logCenters, logPrices } = g;
  for (let c = c0; c < c1; c++) {
    for (const m of maxes) m[c] = 0;
    const logPrice = logPrices[c];
    for (let r = 0, i = c * rows; r < rows; r++, i++) {
      const v = values[i];
      if (v <= 0) continue;
      const d = Number.isNaN(logPrice) ? Infinity : logCenters[r] - logPrice;
      const k = (Math.abs(d) <= FOCUS ? 0 : 2) + (d < 0 ? 1 : 0);
      if (v > maxes[k][c]) maxes[k][c] = v;
    }
  }
}

// The local scale's brightness of every cell of column c, against the references `refs` (rolling maxes).
function localColumn(g, refs, lift, out, c) {
  const { rows, values, logCenters, logPrices } = g;
  const logPrice = logPrices[c];
  for (let r = 0, i = c * rows; r < rows; r++, i++) {
    const v = values[i];
    if (v <= 0) { out[i] = 0; continue; }
    const d = Number.isNaN(logPrice) ? Infinity : logCenters[r] - logPrice;
    const below = d < 0 ? 1 : 0;
    // 1 within the zone, 0 beyond it, blended across its edge: a cell on the edge gets one power, not two
    const w = Math.min(1, Math.max(0, (FOCUS + EDGE - Math.abs(d)) / (2 * EDGE)));
    const nearRef = refs[below][c];
    const farRef = refs[2 + below][c];
    const inner = w === 0 ? 0 : nearRef > 0 ? Math.min(1, lift(v / nearRef)) : 1;
    const outer = w === 1 ? 0 : farRef > 0 ? Math.min(1, lift(v / farRef)) * FAR : FAR;
    out[i] = w * inner + (1 - w) * outer;
  }
}

const localLegend = (scale, power, refs) => {
  const last = refs[0].length - 1;
  const note = 'each side within ±5 % of price against its largest level there, farther bands dimmed';
  return { scale, power, ref: null, sides: { long: refs[1][last], short: refs[0][last] }, label: 'near price', note };
};

// Brightness 0..1 of every cell, and what a brightness means in USD (the colour bar).
// - local (the default): within ±5 % of the column's price, each cell against the largest level of its side
//   (longs below price, shorts above) within ±5 % in the columns around it; beyond, against the largest of its
//   side beyond, drawn at most 65 % bright. The levels beside price show however large the far bands are, a
//   thin side is not drowned by a crowded one, and the far bands stay visible.
// - relative: each column against its own largest cell. absolute / log: every cell against the view's
//   99.5th percentile, on a square-root or log scale.
// `contrast` > 1 lifts the faint cells, < 1 keeps only the strongest; `prices` is the price at each column.
//
// Painter colours one frame and keeps what it needs to colour the next: a live candle moves the frame by a column or two,
// and with the local scale only the columns whose references moved (a few dozen of ~1,400) are coloured again, to the
// same bytes as colouring the whole frame (a browser test compares them).
export class Painter {
  // The whole frame h: each cell's brightness, its legend and its pixels.
  colour(h, scale, contrast = 1, prices = null) {
    const n = h.columns * h.rows;
    const values = new Float32Array(n);
    for (let i = 0; i < n; i++) values[i] = h.long[i] + h.short[i];
    this.g = { h, rows: h.rows, values, scale, contrast, power: 0.5 / contrast, prices };
    const g = this.g;
    const lift = g.power === 0.5 ? Math.sqrt : (x) => x ** g.power;
    const out = new Float32Array(n);
    if (scale === 'local' && prices) {
      g.logCenters = new Float64Array(h.rows); // logs once per row and column, not per cell
      for (let r = 0; r < h.rows; r++) g.logCenters[r] = 0.5 * (Math.log(h.price_edges[r]) + Math.log(h.price_edges[r + 1]));
      g.logPrices = Float64Array.from(prices, (p) => (p > 0 ? Math.log(p) : NaN));
      g.maxes = [0, 1, 2, 3].map(() => new Float64Array(h.columns));
      localMaxes(g, g.maxes, 0, h.columns);
      g.half = Math.max(2, Math.round(h.columns / 50));
      g.refs = g.maxes.map((m) => rollingMax(m, g.half));
      for (let c = 0; c < h.columns; c++) localColumn(g, g.refs, lift, out, c);
      g.legend = localLegend(scale, g.power, g.refs);
    } else {
      g.legend = globalLevels(h, values, scale, contrast, out);
    }
    g.level = out;
    g.pixels = new Uint32Array(n);
    for (let c = 0; c < h.columns; c++) this.pixelColumn(c);
    this.again = h.columns; // how many columns were coloured (tests read it)
    return { level: out, legend: g.legend, pixels: g.pixels };
  }

  // The frame less its first `drop` columns, then the columns of `delta` (decoded, the same rows), coloured as
  // colour() would colour it whole; null when there is no held frame of those rows to move on (colour it whole).
  append(delta, drop, prices) {
    const g = this.g;
    if (!g || g.scale !== 'local' || !g.prices || delta.rows !== g.rows || drop > g.h.columns
        || delta.price_edges.some((e, r) => e !== g.h.price_edges[r])) return null;
    const h = appendColumns(g.h, delta, drop);
    if (h.columns !== g.h.columns) return this.colour(h, g.scale, g.contrast, prices);
    const { rows } = g;
    const kept = h.columns - delta.columns;
    const shift = (a, size) => { const out = new a.constructor(h.columns * size); out.set(a.subarray(drop * size, (drop + kept) * size)); return out; };
    const values = shift(g.values, rows);
    for (let i = kept * rows; i < h.columns * rows; i++) values[i] = h.long[i] + h.short[i];
    const logPrices = Float64Array.from(prices, (p) => (p > 0 ? Math.log(p) : NaN));
    const again = new Uint8Array(h.columns); // the columns coloured again
    for (let c = 0; c < h.columns; c++) {
      const was = g.logPrices[c + drop];
      again[c] = c >= kept || !(was === logPrices[c] || (Number.isNaN(was) && Number.isNaN(logPrices[c]))) ? 1 : 0;
    }
    const next = { ...g, h, values, logPrices, prices };
    const maxes = g.maxes.map((m) => shift(m, 1));
    for (let c = 0; c < h.columns; c++) if (again[c]) localMaxes(next, maxes, c, c + 1);
    const refs = maxes.map((m) => rollingMax(m, g.half));
    for (let c = 0; c < kept; c++) if (refs.some((ref, k) => ref[c] !== g.refs[k][c + drop])) again[c] = 1;
    const lift = g.power === 0.5 ? Math.sqrt : (x) => x ** g.power;
    const out = shift(g.level, rows);
    for (let c = 0; c < h.columns; c++) if (again[c]) localColumn(next, refs, lift, out, c);
    const pixels = new Uint32Array(h.columns * rows);
    for (let y = 0; y < rows; y++) pixels.set(g.pixels.subarray(y * h.columns + drop, (y + 1) * h.columns), y * h.columns);
    this.g = { ...next, maxes, refs, level: out, pixels, legend: localLegend(g.scale, g.power, refs) };
    for (let c = 0; c < h.columns; c++) if (again[c]) this.pixelColumn(c);
    this.again = again.reduce((a, b) => a + b, 0);
    return { level: out, legend: this.g.legend, pixels };
  }

  // The held frame coloured on another scale or contrast.
  recolour(scale, contrast) {
    return this.g ? this.colour(this.g.h, scale, contrast, this.g.prices) : null;
  }

  get heatmap() { return this.g?.h ?? null; }

  pixelColumn(c) {
    const { h, level, pixels } = this.g;
    for (let r = 0, i = c * h.rows; r < h.rows; r++, i++) {
      const x = level[i];
      pixels[(h.rows - 1 - r) * h.columns + c] = x > 0 ? PIXEL[Math.min(255, (x * 255) | 0)] : 0; // image row 0 = highest price
    }
  }
}

// The relative, absolute and log scales' brightness into `out`; their legend.
function globalLevels(h, values, scale, contrast, out) {
  const n = h.columns * h.rows;
  const power = 0.5 / contrast;
  const step = Math.max(1, Math.floor(n / 20000));
  const sample = [];
  for (let i = 0; i < n; i += step) if (values[i] > 0) sample.push(values[i]);
  const top = quantile(sample, 0.995) || 1;
  for (let c = 0; c < h.columns; c++) {
    let columnMax = 0;
    if (scale === 'relative') for (let r = 0; r < h.rows; r++) columnMax = Math.max(columnMax, values[c * h.rows + r]);
    for (let r = 0; r < h.rows; r++) {
      const i = c * h.rows + r;
      const v = values[i];
      if (v <= 0) continue;
      if (scale === 'log') out[i] = Math.min(1, (Math.log1p(v) / Math.log1p(top)) ** (1 / contrast));
      else if (scale === 'relative') out[i] = (v / columnMax) ** power;
      else out[i] = Math.min(1, (v / top) ** power);
    }
  }
  const note = scale === 'relative' ? 'each column against its largest cell' : 'every cell on one scale';
  const label = scale === 'relative' ? 'dark → bright per column' : 'every cell';
  return { scale, power, ref: scale === 'relative' ? null : top, label, note };
}

// `held` less its first `drop` columns, then the columns of `delta` (the same rows)
export function appendColumns(held, delta, drop) {
  const rows = held.rows;
  const kept = held.columns - drop;
  const join = (a, b) => { const out = new Float32Array((kept + delta.columns) * rows); out.set(a.subarray(drop * rows)); out.set(b, kept * rows); return out; };
  return { ...held, time: [...held.time.slice(drop), ...delta.time], columns: kept + delta.columns,
    long: join(held.long, delta.long), short: join(held.short, delta.short), price_edges: delta.price_edges, delta: true, bytes: delta.bytes };
}

// The USD a brightness stands for on the legend's scale (null where it depends on the column).
export function usdAt(legend, level) {
  if (legend.ref === null) return null;
  if (legend.scale === 'log') return Math.expm1(level ** (0.5 / legend.power) * Math.log1p(legend.ref));
  return legend.ref * level ** (1 / legend.power);
}

// Each brightness byte's pixel, RGBA packed in one 32-bit word in the platform's byte order (ImageData's bytes are
// R, G, B, A in memory): a pixel is one write.
const PIXEL = new Uint32Array(256);
{
  const bytes = new Uint8Array(PIXEL.buffer);
  for (let k = 0; k < 256; k++) bytes.set([LUT[3 * k], LUT[3 * k + 1], LUT[3 * k + 2], 90 + ((165 * k) / 255) | 0], 4 * k);
}

// A frame's pixels as a bitmap (an ImageBitmap made on an OffscreenCanvas: colour.js paints off the main thread).
export function bitmap(pixels, columns, rows) {
  const canvas = new OffscreenCanvas(columns, rows);
  canvas.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(pixels.buffer, pixels.byteOffset, pixels.byteLength), columns, rows), 0, 0);
  return canvas.transferToImageBitmap();
}

// The price each heatmap column stands at: the open of the candle its time falls in (the map a candle opens on).
export function columnPrices(h, times, opens) {
  const out = new Float64Array(h.columns);
  let k = 0;
  for (let c = 0; c < h.columns; c++) {
    while (k + 1 < times.length && times[k + 1] <= h.time[c]) k++;
    out[c] = opens[k] ?? 0;
  }
  return out;
}

export const GRADIENT = `linear-gradient(90deg, ${[0, 0.25, 0.5, 0.75, 1].map((x) => `rgb(${colour(x).join(',')})`).join(', ')})`;

// ---------------------------------------------------------------------------------------- data

// Every code's value at a scale: computed once per scale (65,536 logs), not once per cell (two per pixel).
let codeTable = { scale: null, values: null };
function codeValues(scale) {
  if (codeTable.scale !== scale) {
    const values = new Float32Array(65536);
    for (let k = 1; k < 65536; k++) values[k] = Math.expm1(k / scale);
    codeTable = { scale, values };
  }
  return codeTable.values;
}

// The heatmap endpoint's format=q16 answer: a uint32 header length, the JSON header, padding to 4 bytes,
// then the long and the short cells as uint16 codes round(log1p(v) · scale).
export function decodeQ16(buffer) {
  const n = new DataView(buffer).getUint32(0, true);
  const head = JSON.parse(new TextDecoder().decode(new Uint8Array(buffer, 4, n)));
  let offset = 4 + n;
  offset += (4 - (offset % 4)) % 4;
  const size = head.columns * head.rows;
  const codes = new Uint16Array(buffer, offset, 2 * size);
  const value = codeValues(head.scale);
  const decode = (from) => {
    const out = new Float32Array(size);
    for (let i = 0; i < size; i++) out[i] = value[codes[from + i]];
    return out;
  };
  head.long = decode(0);
  head.short = decode(size);
  head.bytes = buffer.byteLength;
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

// A series primitive drawn beneath the candles (the chart calls draw(target) on every pan and zoom) whose
// columns are times placed on page.bars: the heatmap's bitmap and the exact levels over it.
class BeneathCandles {
  constructor(chart, series, page) {
    this.chart = chart;
    this.series = series;
    this.page = page;
    this.view = { zOrder: () => 'bottom', renderer: () => ({ draw: (target) => this.draw(target) }) };
  }
  attached({ requestUpdate }) { this.requestUpdate = requestUpdate; }
  detached() {}
  updateAllViews() {}
  paneViews() { return [this.view]; }
  update() { if (this.requestUpdate) this.requestUpdate(); }
  // the bar indices of the first and last of `time` (a column per time) and the bars a column spans; null off the bars
  placed(time, columns) {
    const first = barIndex(this.page.bars, time[0]);
    const last = barIndex(this.page.bars, time[time.length - 1]);
    if (first === null) return null;
    return { first, last, step: columns > 1 ? (last - first) / (columns - 1) : 1 };
  }
}

// Draws page.heatmap (placed on page.bars) as the bitmap set(); records each draw's time in page.drawMs
// and the first paint after page.dataAt in page.firstPaintMs, the page's first after navigation in
// page.firstPaintAt (bench/web.py reads them).
export class HeatmapPrimitive extends BeneathCandles {
  image = null;
  set(image) { this.image = image; this.update(); }
  draw(target) {
    const { page, series } = this;
    const h = page.heatmap;
    if (!h || !this.image) return;
    const ts = this.chart.timeScale();
    const at = this.placed(h.time, h.columns);
    if (at === null) return;
    const { first, last, step } = at;
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
    if (page.afterDraw) queueMicrotask(page.afterDraw); // what follows the price scale (off-screen marks)
    if (page.firstPaintMs === null && page.dataAt) {
      page.firstPaintMs = finished - page.dataAt;
      page.firstPaintAt ??= finished; // after navigation (performance.now() counts from it)
    }
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

// ---------------------------------------------------------------------------------------- exact levels

// The exact on-chain levels (the /heatmap/exact answer, on the heatmap's own columns and rows) over the bitmap:
// each run a violet band across the columns it is open, as strong as its dollars against the largest, with a thin
// line through it so a faint band still shows. Its own primitive: the heatmap stays one bitmap.
export const EXACT_FILL = [163, 113, 247];
export const EXACT_LINE = [194, 151, 255];
export class ExactPrimitive extends BeneathCandles {
  draw(target) {
    const { page, series } = this;
    const layer = page.exactLayer;
    if (!layer || !page.exactShown || !layer.runs.usd.length) return;
    const ts = this.chart.timeScale();
    const at = this.placed(layer.time, layer.columns);
    if (at === null) return;
    const { first, step } = at;
    const runs = layer.runs;
    const order = [...runs.usd.keys()].sort((a, b) => runs.usd[a] - runs.usd[b]); // the largest drawn last, on top
    target.useBitmapCoordinateSpace(({ context, horizontalPixelRatio: hr, verticalPixelRatio: vr }) => {
      const boxes = [];
      for (const i of order) {
        const x0 = xOf(ts, first + (runs.first[i] - 0.5) * step);
        const x1 = xOf(ts, first + (runs.last[i] + 0.5) * step);
        const yTop = series.priceToCoordinate(layer.price_edges[runs.row[i] + 1]);
        const yBottom = series.priceToCoordinate(layer.price_edges[runs.row[i]]);
        if (x0 === null || x1 === null || yTop === null || yBottom === null) continue;
        boxes.push([x0, x1, (yTop + yBottom) / 2, Math.max(3, yBottom - yTop), Math.sqrt(runs.usd[i] / (layer.max || 1))]);
      }
      for (const [x0, x1, mid, height, strength] of boxes) { // the bands, then the lines over every band
        context.fillStyle = `rgba(${EXACT_FILL.join(',')}, ${(0.12 + 0.5 * strength).toFixed(3)})`;
        context.fillRect(x0 * hr, (mid - height / 2) * vr, (x1 - x0) * hr, height * vr);
      }
      for (const [x0, x1, mid, , strength] of boxes) { // thin, nearly opaque: a level reads as a line, its band as its size
        context.fillStyle = `rgba(${EXACT_LINE.join(',')}, ${(0.85 + 0.15 * strength).toFixed(3)})`;
        context.fillRect(x0 * hr, Math.round((mid - 0.5) * vr), (x1 - x0) * hr, Math.max(1, Math.round(vr)));
      }
    });
  }
}

// The exact notional of each source at (time, price p) on the layer: { label, long, short } per source with some
export function exactAt(layer, time, p) {
  if (!layer || !layer.columns || p < layer.price_edges[0] || p > layer.price_edges[layer.rows]) return [];
  let c = 0;
  while (c + 1 < layer.time.length && layer.time[c + 1] <= time) c++;
  let r = 0;
  while (r + 1 < layer.rows && layer.price_edges[r + 1] <= p) r++;
  const out = layer.sources.map((s) => ({ label: s.label, long: 0, short: 0 }));
  const runs = layer.runs;
  for (let i = 0; i < runs.usd.length; i++) {
    if (runs.row[i] === r && runs.first[i] <= c && c <= runs.last[i]) out[runs.source[i]][runs.side[i]] += runs.usd[i];
  }
  return out.filter((s) => s.long > 0 || s.short > 0);
}
