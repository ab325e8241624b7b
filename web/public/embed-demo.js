/* global document, window */
/**
 * The embed demo's own script (`/embed-demo`), as a company's site would use the call button's
 * JS API: a page button that opens the call panel, and a log of the call events. The queue
 * (`CallDocker.q`) lets it run before or after `/widget.js`, whichever loads first.
 */
window.CallDocker = window.CallDocker || { q: [] };

/** Calls `CallDocker[method](...args)` now, or once the loader has run (the stub has `q`). */
function call(method, ...args) {
  const api = window.CallDocker;
  if (api.q) api.q.push([method, ...args]);
  else api[method](...args);
}

/** Adds a line to the page's event log (an aria-live list). */
function log(text) {
  const list = document.getElementById('events');
  if (list === null) return;
  if (list.dataset.started === undefined) {
    list.dataset.started = '';
    list.textContent = '';
  }
  const item = document.createElement('li');
  item.textContent = text;
  list.append(item);
}

call('on', 'ready', () => log('The call page is ready.'));
call('on', 'call_started', ({ callId }) => log(`Call started (${callId}).`));
call('on', 'call_ended', ({ durationSec }) => log(`Call ended after ${durationSec} s.`));

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('open-call')?.addEventListener('click', () => call('open'));
});
