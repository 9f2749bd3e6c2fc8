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
export function price(p) {
  return p.toLocaleString('en-US', { maximumFractionDigits: p >= 1000 ? 0 : p >= 1 ? 2 : 6 });
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
