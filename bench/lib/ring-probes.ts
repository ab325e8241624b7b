/**
 * What the ring benchmark adds to the two pages to time a call: init scripts that record
 * moments with the page's own clock, and readers of what they recorded. The pages' code is
 * untouched.
 *
 * The scripts are JavaScript source, not functions handed to Playwright: under tsx, a function's
 * source carries esbuild's `__name(...)` calls, which the page does not define.
 */
import type { Page } from 'playwright-core';
import { median } from './stats.js';

/**
 * What both probes share: the page's clock (wall time in milliseconds, with
 * `performance.now()`'s resolution), and `window.__ringBench` with the marks, `reset()`, and
 * `until(keys, ms)`, a promise of whether every one of `keys` got marked within `ms`. Waiting
 * on a promise, not polling a predicate: Playwright polls with `new Function`, which the pages'
 * Content-Security-Policy (no `unsafe-eval`) refuses.
 */
function probeBase(keys: readonly string[]): string {
  return `
  const now = () => performance.timeOrigin + performance.now();
  const keys = ${JSON.stringify(keys)};
  const marks = Object.fromEntries(keys.map((k) => [k, null]));
  let waiters = [];
  const mark = (key, value) => {
    marks[key] = value;
    const woken = waiters;
    waiters = [];
    for (const wake of woken) wake();
  };
  window.__ringBench = {
    marks,
    reset() { for (const k of keys) marks[k] = null; },
    until(wanted, ms) {
      return new Promise((resolve) => {
        const check = () => {
          if (wanted.every((k) => typeof marks[k] === 'number')) resolve(true);
          else waiters.push(check);
        };
        check();
        setTimeout(() => resolve(false), ms);
      });
    },
  };`;
}

/**
 * The visitor's page: the click on the button labelled `label` (capture phase on `window`, so
 * before the page's own handler), the moment the `call_request` frame leaves on the WebSocket,
 * and the moment its `ack` arrives (a listener added when the socket is made, so it runs before
 * the client's `onmessage`).
 */
export function visitorProbe(label: string): string {
  return `(() => {${probeBase(['clickAt', 'sentAt', 'ackAt', 'requestId'])}
  window.addEventListener('click', (event) => {
    const button = event.target instanceof Element ? event.target.closest('button') : null;
    if (button !== null && button.textContent.trim() === ${JSON.stringify(label)}) mark('clickAt', now());
  }, true);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.addEventListener('message', (event) => {
        if (marks.requestId === null || marks.ackAt !== null || typeof event.data !== 'string') return;
        const frame = JSON.parse(event.data);
        if (frame.type === 'ack' && frame.id === marks.requestId) mark('ackAt', now());
      });
    }
    send(data) {
      if (typeof data === 'string' && data.startsWith('{"type":"call_request"')) {
        marks.requestId = JSON.parse(data).id;
        mark('sentAt', now());
      }
      super.send(data);
    }
  };
})();`;
}

/**
 * The agent's page: a MutationObserver on the whole document that records the first moment,
 * since the last reset, at which an element with `role="dialog"` whose text holds `callerName`
 * is in the document. Its callback runs at the microtask checkpoint of the task that changed
 * the DOM, before that frame is painted.
 */
export function agentProbe(callerName: string): string {
  return `(() => {${probeBase(['ringAt'])}
  const name = ${JSON.stringify(callerName)};
  new MutationObserver(() => {
    if (marks.ringAt !== null) return;
    for (const dialog of document.querySelectorAll('[role="dialog"]')) {
      if (dialog.textContent.includes(name)) mark('ringAt', now());
    }
  }).observe(document, { childList: true, subtree: true, characterData: true });
})();`;
}

/** Clears what a probe recorded, before the next call. */
export async function resetProbe(page: Page): Promise<void> {
  await page.evaluate('window.__ringBench.reset()');
}

/**
 * Waits until the probe on `page` has recorded every one of `keys`, and returns them.
 * @throws Error when one is still missing after `timeoutMs`.
 */
export async function probeMarks<K extends string>(
  page: Page,
  keys: readonly K[],
  timeoutMs: number,
): Promise<Record<K, number>> {
  const test = `[${keys.map((k) => `window.__ringBench.marks[${JSON.stringify(k)}]`).join(', ')}]`;
  const marked: unknown = await page.evaluate(
    `window.__ringBench.until(${JSON.stringify(keys)}, ${timeoutMs})`,
  );
  if (marked !== true) {
    const seen: unknown = await page.evaluate('JSON.stringify(window.__ringBench.marks)');
    throw new Error(
      `the page recorded ${keys.join(', ')} only in part within ${timeoutMs} ms: ${String(seen)}`,
    );
  }
  const values: unknown = await page.evaluate(test);
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'number')) {
    throw new Error(`unexpected marks ${JSON.stringify(values)}`);
  }
  return Object.fromEntries(keys.map((k, i) => [k, values[i] as number])) as Record<K, number>;
}

/**
 * How far apart the two pages' clocks are: each page's `performance.timeOrigin +
 * performance.now()` read against `Date.now()` (the one wall clock of the machine): the median
 * difference of the two offsets over `samples` readings, in milliseconds.
 */
export async function clockSkewMs(a: Page, b: Page, samples = 20): Promise<number> {
  const offset = async (page: Page) => {
    const value: unknown = await page.evaluate(
      // Spins to the start of a Date.now() millisecond, so its truncation does not count.
      '(() => { const d = Date.now(); while (Date.now() === d); const t = Date.now(); ' +
        'return performance.timeOrigin + performance.now() - t; })()',
    );
    if (typeof value !== 'number') throw new Error('no clock reading');
    return value;
  };
  const differences: number[] = [];
  for (let i = 0; i < samples; i++)
    differences.push(Math.abs((await offset(a)) - (await offset(b))));
  return median(differences);
}
