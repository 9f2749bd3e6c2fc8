// The export menu: a PNG or a self-contained HTML file of the view, CSV of the matrix or of the clusters.
// `app` is { state, page, chart, series } from main.js.

import * as api from './api.js';
import { $, h } from './format.js';

const EXPORT_STYLE = `body{background:#0d1117;color:#c9d1d9;font:13px system-ui;margin:16px}img{max-width:100%;border:1px solid #30363d}
dl{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;max-width:520px}dt{color:#8b949e}.long{color:#f85149}.short{color:#3fb950}`;

function download(href, name) {
  const a = document.createElement('a');
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// The view with a title strip above it: a picture that leaves the page says what it shows.
function viewCanvas({ state, page, chart }) {
  const view = state.tab === 'map' ? $('mapcanvas') : chart.takeScreenshot();
  const strip = 28;
  const out = document.createElement('canvas');
  out.width = view.width;
  out.height = view.height + strip;
  const ctx = out.getContext('2d');
  ctx.fillStyle = '#0d1117';
  ctx.fillRect(0, 0, out.width, out.height);
  ctx.drawImage(view, 0, strip);
  ctx.fillStyle = '#c9d1d9';
  ctx.font = '14px system-ui';
  ctx.textBaseline = 'middle';
  ctx.fillText(exportTitle(state, page), 8, strip / 2);
  return out;
}

export function exportTitle(state, page) {
  const m = page.markets?.find((x) => x.id === state.market);
  const market = m ? `${m.symbol} · ${m.venues.join('+')} · ${m.timeframe}` : state.market;
  const side = { both: 'long + short', long: 'long', short: 'short' }[state.side] ?? state.side;
  const view = state.tab === 'map' ? 'liquidation map' : `heatmap ${state.window}`;
  const lev = state.lev === '1-200' ? 'all leverage' : `${state.lev.replace('-', '–')}×`;
  const at = page.summary ? `data up to ${page.summary.last.replace('T', ' ').slice(0, 16)} UTC` : '';
  return `liqheat · ${market} · ${view} · ${side} · ${lev} · ${at}`;
}

export function exportView(app, kind) {
  const { state } = app;
  const name = `liqheat-${state.market}-${state.window}`;
  const [lo, hi] = state.lev.split('-');
  if (kind === 'png') download(viewCanvas(app).toDataURL('image/png'), `${name}.png`);
  if (kind === 'csv') {
    download(api.heatmapCsvUrl(state.market, { window: state.window, side: state.side, lev_min: lo, lev_max: hi }), `${name}.csv`);
  }
  if (kind === 'clusters') download(api.clustersCsvUrl(state.market), `${name}-clusters.csv`);
  if (kind === 'html') {
    // one file that opens without a server: the picture, what it shows, where it came from; built as a
    // document and serialized, so the market's text (and the link's window) arrive escaped
    const doc = document.implementation.createHTMLDocument(name);
    const copy = (id) => [...$(id).childNodes].map((node) => doc.importNode(node, true));
    const meta = doc.createElement('meta');
    meta.setAttribute('charset', 'utf-8');
    const picture = doc.createElement('img'); // made in the inert document: the page does not load it
    Object.assign(picture, { alt: 'heatmap', src: viewCanvas(app).toDataURL('image/png') });
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
