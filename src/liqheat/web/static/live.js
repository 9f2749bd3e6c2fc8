// The server's event stream, and what the page does when the server goes away: a note in the header
// ("disconnected — retrying in 4 s"), retries with exponential backoff (1, 2, 4 … 30 s, jittered so that
// many tabs do not all come back at once), and on reconnecting, the caller's reload, since the server
// may have restarted with other data. A fetch that gets no answer at all (api.js's OFFLINE) starts the
// same retries: a stream can look open for a while after its server is gone.

import { EVENTS, OFFLINE } from './api.js';

const FIRST_MS = 1000;
const MOST_MS = 30000;

// milliseconds before retry number `attempt` (0, 1, 2 …): 1 s doubling up to 30 s, ±25 %
export const backoff = (attempt, random = Math.random) => Math.min(MOST_MS, FIRST_MS * 2 ** attempt * (0.75 + 0.5 * random()));

// onGrew(info) when a market grew; onReconnect() when the stream is back after a loss. The note is
// #conn: hidden while connected, its data-state 'disconnected' while waiting and 'reconnecting' while trying.
export function listen({ onGrew, onReconnect, note = document.getElementById('conn') }) {
  if (!window.EventSource) return;
  let source = null;
  let attempt = 0;
  let lostAt = 0; // while disconnected, when it was noticed (0 while connected)
  let retry = 0;
  let countdown = 0;

  const show = (state, text) => {
    note.dataset.state = state;
    note.textContent = text;
    note.hidden = state === 'live';
  };

  function open() {
    source = new EventSource(EVENTS);
    source.addEventListener('hello', () => {
      attempt = 0;
      show('live', '');
      if (lostAt) {
        lostAt = 0;
        onReconnect();
      }
    });
    source.addEventListener('grew', (event) => onGrew(JSON.parse(event.data)));
    source.addEventListener('bye', lost); // the server is stopping
    source.onerror = lost;
  }

  function lost() {
    if (retry) return; // a retry is already scheduled
    source?.close();
    source = null;
    lostAt = lostAt || Date.now();
    const at = Date.now() + backoff(attempt++);
    const tell = () => show('disconnected', `disconnected — retrying in ${Math.max(1, Math.ceil((at - Date.now()) / 1000))} s`);
    tell();
    countdown = setInterval(tell, 1000);
    retry = setTimeout(() => {
      clearInterval(countdown);
      retry = 0;
      show('reconnecting', 'disconnected — reconnecting…');
      open();
    }, at - Date.now());
  }

  window.addEventListener(OFFLINE, lost);
  show('live', '');
  open();
}
