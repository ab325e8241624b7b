/* global document, fetch, location, setTimeout, AbortSignal, URL */
/**
 * Live status for the landing page: asks the web host for its client configuration, then checks
 * that the signaling server answers HTTP on its port. No WebSocket is opened: a status page
 * should not count as a connection or need a token.
 */
const REFRESH_MS = 10_000;
const TIMEOUT_MS = 3_000;

/** @param {string} id @param {'up' | 'down' | 'wait'} state @param {string} text */
function show(id, state, text) {
  const el = document.getElementById(id);
  if (el === null) return;
  el.dataset.state = state;
  el.textContent = text;
}

/** @param {string} id @param {string} text */
function setText(id, text) {
  const el = document.getElementById(id);
  if (el !== null) el.textContent = text;
}

/** The URL pages connect to: the configured one, else this page's hostname and the port. */
function signalingUrlOf(config) {
  if (config.signalingUrl !== '') return config.signalingUrl;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:${config.signalingPort}/`;
}

async function refresh() {
  let config;
  try {
    const res = await fetch('/api/config', {
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    config = await res.json();
    show('web-state', 'up', 'up');
  } catch {
    show('web-state', 'down', 'not answering');
    show('signaling-state', 'wait', 'unknown');
    return;
  }

  const signalingUrl = signalingUrlOf(config);
  setText('signaling-url', signalingUrl);
  setText('protocol-version', String(config.protocolVersion));

  // The signaling server sends no CORS headers, so the answer is opaque: it resolving at all
  // means the server is there; a refused or timed-out connection rejects.
  const healthUrl = new URL('healthz', signalingUrl.replace(/^ws/, 'http'));
  try {
    await fetch(healthUrl, {
      mode: 'no-cors',
      cache: 'no-store',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    show('signaling-state', 'up', 'reachable');
  } catch {
    show('signaling-state', 'down', 'not reachable');
  }
}

async function loop() {
  await refresh();
  setTimeout(loop, REFRESH_MS);
}

void loop();
