/**
 * The embeddable call button's loader, served as `/widget.js` (a classic script, built by
 * `scripts/build-pages.mjs`). One line on a company's site:
 *
 *     <script src="https://HOST/widget.js" data-company="acme" async></script>
 *
 * Until the button is pressed it makes one request: whether this site may embed the company
 * (`GET /api/embed/:companyId?origin=`). Refused, it stays hidden and says why in one console
 * warning; allowed, it adds the button (`ui.ts`), whose first press makes the iframe of the
 * call page. `window.CallDocker` is the page's API (`api.ts`); the framed page talks to it by
 * postMessage (`../shared/embed-messages.ts`), and only the frame the loader made is heard.
 * Plain DOM, no dependency, under 3 KB gzipped (a test holds it there).
 */
import {
  EMBED_SOURCE,
  parseFrameMessage,
  type FrameMessage,
  type ParentMessage,
  type Tagged,
} from '../shared/embed-messages.js';
import type { CallDockerApi, CallDockerStub } from './api.js';
import { readOptions, type WidgetOptions } from './options.js';
import { badScriptWarning, failedWarning, NO_COMPANY, notAllowedWarning } from './strings.js';
import { mountWidget, type Widget } from './ui.js';

declare global {
  interface Window {
    /** The loader's API, or the queue a page set up before it ran. */
    CallDocker?: CallDockerApi | CallDockerStub;
  }
}

/** `window.CallDocker.version`. */
const API_VERSION = 1;

/** Tells the site's developer, in the browser's console, why the button is not there. */
function warn(message: string): void {
  // The one console use of the web host's code: this script runs on other people's pages,
  // where the console is the only place their developer will look.
  // eslint-disable-next-line no-console
  console.warn(`CallDocker: ${message}`);
}

/**
 * Asks the host whether this page's origin may embed the company: resolves with the company's
 * name, or undefined after one warning saying why not. Never rejects.
 */
async function checkEmbed({
  host_: host,
  company_: company,
}: WidgetOptions): Promise<string | undefined> {
  const origin = location.origin;
  let res: Response;
  let body: { allowed?: unknown; name?: unknown; error?: unknown } = {};
  try {
    // Fetch's default credentials send no cookie to another origin, and the answer says
    // `no-store`: no answer an administrator has since changed comes back from a cache.
    res = await fetch(`${host}/api/embed/${company}?origin=${encodeURIComponent(origin)}`);
    body = Object(await res.json().catch(() => 0));
  } catch (err) {
    warn(failedWarning(host, company, String(err)));
    return undefined;
  }
  if (res.ok && body.allowed === true && typeof body.name === 'string') return body.name;
  warn(
    res.ok && body.allowed === false
      ? notAllowedWarning(origin, company)
      : failedWarning(
          host,
          company,
          res.status === 404 ? NO_COMPANY : `HTTP ${res.status} ${body.error ?? ''}`,
        ),
  );
  return undefined;
}

/** Runs once per page: a second copy of the script leaves the first in charge. */
function start(): void {
  const stub = window.CallDocker;
  if (stub !== undefined && 'version' in stub) return;
  // `currentScript` while the script runs; the query for a copy bundled or run late.
  const script =
    document.currentScript ??
    document.querySelector<HTMLScriptElement>('script[src*="widget.js"][data-company]');
  const options = script instanceof HTMLScriptElement ? readOptions(script) : 'no data-company';

  const listeners = new Map<string, Set<(detail: FrameMessage) => void>>();
  let widget: Widget | undefined;
  // The button will never show (refused, or no company): open() does nothing.
  let refused = typeof options === 'string';
  // open() called before the check answered: honoured once the button is there.
  let openWhenReady = false;
  let callLive = false;

  const api: CallDockerApi = {
    version: API_VERSION,
    open() {
      if (widget !== undefined) widget.open();
      else openWhenReady = !refused;
    },
    close() {
      openWhenReady = false;
      // With no call live the frame goes too: no camera, no connection left behind.
      widget?.close(!callLive);
    },
    hangup() {
      const message: Tagged<ParentMessage> = { source: EMBED_SOURCE, type: 'hangup' };
      if (typeof options !== 'string') widget?.frame_()?.postMessage(message, options.host_);
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, new Set());
      listeners.get(event)!.add(listener as (detail: FrameMessage) => void);
    },
    off(event, listener) {
      listeners.get(event)?.delete(listener as (detail: FrameMessage) => void);
    },
  };
  window.CallDocker = api;
  // What the page queued before the loader ran, in order: [method, ...arguments].
  for (const [method, ...args] of stub?.q ?? []) {
    if (Object.hasOwn(api, method as string)) {
      (api[method as keyof CallDockerApi] as (...a: unknown[]) => void)(...args);
    }
  }
  if (typeof options === 'string') return warn(badScriptWarning(options));

  window.addEventListener('message', (event) => {
    // Only the frame this loader made, at the host it came from: not the page itself, not
    // another frame, not another site.
    const frame = widget?.frame_();
    const message =
      event.origin === options.host_ && frame != null && event.source === frame
        ? parseFrameMessage(event.data)
        : undefined;
    if (message === undefined) return;
    if (message.type === 'close_requested') return api.close();
    if (message.type !== 'ready') callLive = message.type === 'call_started';
    // A call that ended behind a closed panel takes its frame with it.
    if (message.type === 'call_ended' && !widget!.isOpen_()) widget!.close(true);
    for (const listener of listeners.get(message.type) ?? []) {
      try {
        listener(message);
      } catch (err) {
        // As the page's own uncaught error, with its stack; the other listeners still run.
        reportError(err);
      }
    }
  });

  void checkEmbed(options).then((name) => {
    refused = name === undefined;
    if (name === undefined) return;
    const mount = () => {
      widget = mountWidget(options, name, {
        toggle_: () => (widget!.isOpen_() ? api.close() : api.open()),
        close: api.close,
      });
      if (openWhenReady) widget.open();
    };
    // An async script in the head may run before the body exists.
    if (document.body !== null) mount();
    else document.addEventListener('DOMContentLoaded', mount, { once: true });
  });
}

start();
