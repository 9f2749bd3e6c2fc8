// The API's client: the one place that builds its URLs (a market id is a path segment, values go
// through URLSearchParams, so both arrive encoded) and turns an error answer into a readable message.

function url(path, query) {
  const q = query ? new URLSearchParams(query).toString() : '';
  return q ? `${path}?${q}` : path;
}
const market = (id, route, query) => url(`/api/markets/${encodeURIComponent(id)}/${route}`, query);

// A fetch that gets no answer at all means the server is gone: the page says "disconnected" (and
// live.js, told by this window event, shows it and retries) rather than the browser's "Failed to fetch".
export const OFFLINE = 'liqheat:offline';

// An error carries the server's own words: FastAPI's {detail: "…"} or its list of validation errors,
// else the status line; `status` lets a caller tell "not there" (404) from a failure. `asked` is a fetch's
// promise (index.html asks the view's first data before this module has loaded).
async function answer(asked) {
  let response;
  try {
    response = await asked;
  } catch (error) {
    window.dispatchEvent(new Event(OFFLINE));
    throw Object.assign(new Error('disconnected — the server does not answer; the page retries'), { offline: true, cause: error });
  }
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try {
      const body = await response.json();
      message = typeof body.detail === 'string' ? body.detail : body.detail.map((d) => `${d.loc.slice(-1)[0]}: ${d.msg}`).join('; ');
    } catch (e) { /* not JSON: keep the status line */ }
    throw Object.assign(new Error(message), { status: response.status });
  }
  return response;
}
export const json = async (asked) => (await answer(asked)).json();
export const binary = async (asked) => (await answer(asked)).arrayBuffer();
const get = (href) => json(fetch(href));

export const markets = () => get('/api/markets');
export const candles = (id, query) => get(market(id, 'candles', query));
export const heatmap = (id, query) => binary(fetch(market(id, 'heatmap', query)));
export const liquidations = (id, query) => get(market(id, 'liquidations', query));
export const liquidationTotals = (id, query) => get(market(id, 'liquidations/totals', query));
export const summary = (id) => get(market(id, 'summary'));
export const clusters = (id, query) => get(market(id, 'clusters', query));
export const venues = (id) => get(market(id, 'venues'));
export const levels = (id, query) => get(market(id, 'levels', query));
export const sentiment = (id, query) => get(market(id, 'sentiment', query));
export const liquidationMap = (id, query) => get(market(id, 'map', query));
export const heatmapExact = (id, query) => get(market(id, 'heatmap/exact', query));
export const plan = (id, query) => get(market(id, 'plan', query));
export const cascade = (id, query) => get(market(id, 'cascade', query));
export const calc = (id, query) => get(market(id, 'calc', query));
export const server = () => get(url('/api/server'));
export const alerts = (query) => get(url('/api/alerts', query));
export const storeLiquidations = (query) => get(url('/api/liquidations', query));
export const EVENTS = '/api/events';
// addresses the page downloads from, rather than fetches
export const heatmapCsvUrl = (id, query) => market(id, 'heatmap', { ...query, format: 'csv' });
export const clustersCsvUrl = (id) => market(id, 'clusters', { top: 10, format: 'csv' });
