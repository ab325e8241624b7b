/**
 * Losing the signaling connection mid-call, in Chromium against the real servers: the page's
 * WebSocket drops and the next attempts fail (as with the network down), the call view says
 * "Reconnecting…", and once the server can be reached again the page reconnects by itself and
 * the call goes on with video flowing, without anyone pressing anything.
 */
import type { BrowserContext } from 'playwright-core';
import t from 'tap';
import { chromiumOrSkip, framesFlowing, launchBrowser, startStack, until } from './harness.js';
import { openAgentPage, openVisitor } from './visitor-helpers.js';

/** What the init script keeps on `window`. */
interface Signaling {
  __sockets: WebSocket[];
  /** While true, new sockets go to a closed port: connecting fails as with no network. */
  __down: boolean;
}

/** Records the page's WebSockets and lets the test take the network to the server away. */
async function controlSignaling(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const Native = window.WebSocket;
    const w = window as unknown as Signaling;
    w.__sockets = [];
    w.__down = false;
    window.WebSocket = class extends Native {
      constructor(url: string | URL, protocols?: string | string[]) {
        super(w.__down ? 'ws://127.0.0.1:9/' : url, protocols);
        w.__sockets.push(this);
      }
    } as typeof WebSocket;
  });
}

t.test('the signaling link drops mid-call and comes back by itself', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-reconnect');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openVisitor(t, browser, stack, {
    beforeLoad: controlSignaling,
  });
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  const agent = await openAgentPage(t, browser, stack, stack.agents[1]!);
  await page.getByRole('heading', { name: 'Bob Agent' }).waitFor();
  await framesFlowing(page);

  const reconnecting = page.getByRole('status').getByText('Reconnecting…');
  t.equal(await reconnecting.count(), 0, 'no banner while connected');
  await page.evaluate(() => {
    const w = window as unknown as Signaling;
    w.__down = true;
    for (const socket of w.__sockets) socket.close();
  });
  await reconnecting.waitFor();
  t.pass('the call view says Reconnecting…');
  t.ok(await page.getByRole('button', { name: 'Hang up' }).isVisible(), 'the call stays');

  await page.evaluate(() => ((window as unknown as Signaling).__down = false));
  await reconnecting.waitFor({ state: 'detached' });
  const sockets = await page.evaluate(() =>
    (window as unknown as Signaling).__sockets.map((s) => ({ url: s.url, state: s.readyState })),
  );
  t.ok(
    // 1: OPEN
    sockets.some((s) => s.url.startsWith(stack.signaling) && s.state === 1),
    'a new connection to the signaling server is open',
  );
  await framesFlowing(page);
  t.pass('video still flows after the reconnect');
  const seen = await until(
    'the agent hears the visitor is back',
    () => agent.run((s) => s.events.map((e) => e.type)),
    (types) => types.includes('peer_reconnected'),
  );
  t.notOk(seen.includes('ended') || seen.includes('call_ended'), 'the call never ended');

  await page.getByRole('button', { name: 'Hang up' }).click();
  await page.getByRole('heading', { name: 'Call ended' }).waitFor();
  // The attempts made while the server was unreachable are logged by Chromium; nothing else.
  t.same(
    errors.filter((e) => !e.includes('ws://127.0.0.1:9/')),
    [],
    'no other console error',
  );
});
