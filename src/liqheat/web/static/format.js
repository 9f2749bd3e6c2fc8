// How numbers and times read on the page, and the only way text enters it: as text nodes, never as
// markup. A bundle's symbol and venue names are whatever its meta.json says (issue #11).

export const $ = (id) => document.getElementById(id);

export function usd(x) {
  const a = Math.abs(x);
  if (a >= 1e9) return `$${(x / 1e9).toFixed(2)}B`;
  if (a >= 1e6) return `$${(x / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `$${(x / 1e3).toFixed(1)}k`;
  return `$${x.toFixed(0)}`;
}
// Digits grouped by thousands, at most 0, 2 or 6 decimals by size, trailing zeros dropped (en-US's
// maximumFractionDigits). Not Intl: its first formatter loads locale data, ~60 ms of the page's first frame.
export function price(p) {
  if (!Number.isFinite(p)) return String(p);
  const digits = Math.abs(p) >= 1000 ? 0 : Math.abs(p) >= 1 ? 2 : 6;
  let [whole, fraction = ''] = Math.abs(p).toFixed(digits).split('.');
  fraction = fraction.replace(/0+$/, '');
  whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const sign = p < 0 && (Number(whole.replace(/,/g, '')) > 0 || fraction) ? '-' : '';
  return `${sign}${whole}${fraction ? `.${fraction}` : ''}`;
}
export function utc(t) {
  return new Date(t * 1000).toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
}

// Children are strings (text), nodes, nested arrays of them, or null/false (left out).
const nodes = (children) => children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false);
// h('li', { className: 'long' }, 'text', child, [more]) → <li class="long">text…</li>
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (key === 'dataset') Object.assign(el.dataset, value); else el[key] = value;
  }
  el.append(...nodes(children));
  return el;
}
export const fill = (el, ...children) => el.replaceChildren(...nodes(children));
// [[term, value], …] → dt/dd pairs
export const terms = (rows) => rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]);
