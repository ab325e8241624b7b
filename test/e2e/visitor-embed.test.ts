/**
 * Embed mode: the call page inside an iframe of another origin says `ready` to its parent,
 * at the parent's origin (never `*`), and Escape in it posts `close_requested`. It draws no
 * header of its own (the call button's panel has the name and Close): its one h1, the company's
 * name, is for screen readers only, and it has no close control. In a call
 * it tells the parent `call_started` and `call_ended`, and obeys the parent's `hangup`, but
 * not a `hangup` from a frame of another origin.
 */
import { createServer } from 'node:http';
import type { Page } from 'playwright-core';
import t, { type Test } from 'tap';
import {
  chromiumOrSkip,
  launchBrowser,
  newPage,
  startStack,
  until,
  type Stack,
} from './harness.js';
import { nodeAgent } from './visitor-helpers.js';

/** What the shop's page received from the call page. */
type Got = Array<{ origin: string; data: { source?: string; type: string; callId?: string } }>;

/**
 * A shop's page at another origin (localhost, not the host's 127.0.0.1) with the call page in
 * an iframe titled "Call us"; `/other` is a page of a third origin (127.0.0.1 at the shop's
 * port) that posts a `hangup` to the call page, then tells the shop it did.
 */
async function shop(t: Test, stack: Stack) {
  const server = createServer((req, res) => {
    const html =
      req.url === '/other'
        ? `<!doctype html><html lang="en"><title>Other</title><body><script>
parent.frames[0].postMessage({ source: 'calldocker', type: 'hangup' }, '*');
parent.postMessage({ source: 'other', type: 'posted' }, '*');
</script></body></html>`
        : `<!doctype html><html lang="en">
<title>Shop</title><body><script>
window.__got = [];
addEventListener('message', (e) => window.__got.push({ origin: e.origin, data: e.data }));
</script><iframe title="Call us" width="380" height="600" allow="camera; microphone"
src="${stack.web}/c/${stack.companyId}?embed=1"></iframe></body></html>`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { origin: `http://localhost:${address.port}`, other: `http://127.0.0.1:${address.port}` };
}

const received = (page: Page) => page.evaluate(() => (window as unknown as { __got: Got }).__got);

t.test('the embedded page talks to its parent only', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-embed');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { origin } = await shop(t, stack);

  const { page, errors } = await newPage(t, browser);
  await page.goto(`${origin}/`);
  const got = () => received(page);
  await until('ready', got, (list) => list.some((m) => m.data.type === 'ready'));
  const frame = page.frameLocator('iframe');
  const h1 = frame.getByRole('heading', { level: 1, name: stack.companyName });
  await h1.waitFor();
  t.same(
    await h1.evaluate((el) => {
      const { width, height } = el.getBoundingClientRect();
      return { width, height, className: el.className };
    }),
    { width: 1, height: 1, className: 'visually-hidden' },
    "the company's name is a heading for screen readers, not drawn (the panel shows it)",
  );
  t.equal(
    await frame.getByRole('button', { name: /close|×/i }).count(),
    0,
    'no close control of its own: the panel has one',
  );
  await frame.getByRole('heading', { name: 'Talk to us' }).press('Escape');
  const list = await until('close_requested', got, (l) =>
    l.some((m) => m.data.type === 'close_requested'),
  );
  t.ok(
    list.every(
      (m) => m.origin === stack.web && (m.data as { source?: string }).source === 'calldocker',
    ),
    'every message comes from the call page, marked calldocker',
  );
  t.same(errors, [], 'no console error');
});

t.test('in a call, the parent hears of it and hangs up; another origin cannot', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-embed');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const bob = await nodeAgent(t, stack, stack.agents[1]!);
  const accepted = new Set<string>();
  bob.on('queue_updated', (m) => {
    for (const { callId } of m.calls) {
      if (!accepted.has(callId)) void bob.acceptCall(callId).catch(() => undefined);
      accepted.add(callId);
    }
  });
  const endedForBob: string[] = [];
  bob.on('call_ended', (m) => endedForBob.push(m.callId));
  const { origin, other } = await shop(t, stack);
  const { page, errors } = await newPage(t, browser);
  await page.goto(`${origin}/`);
  const got = () => received(page);
  const frame = page.frameLocator('iframe[title="Call us"]');

  await frame.getByRole('radio', { name: 'Audio only' }).check();
  await frame.getByRole('button', { name: 'Call', exact: true }).click();
  await frame.getByRole('button', { name: 'Start call' }).click();
  await frame.getByRole('button', { name: 'Hang up' }).waitFor();
  const started = await until('call_started', got, (l) =>
    l.some((m) => m.data.type === 'call_started'),
  );
  const callId = started.find((m) => m.data.type === 'call_started')!.data.callId;
  t.ok(accepted.has(callId!), 'call_started names the call Bob answered');
  // The compact call view is the frame's height, whatever that is: the stage grows into what the
  // call's header and controls leave: nothing scrolls, no empty band above the controls.
  for (const height of [600, 1000]) {
    await page.locator('iframe[title="Call us"]').evaluate((el, h) => {
      (el as HTMLIFrameElement).height = String(h);
    }, height);
    const fit = await frame.getByRole('button', { name: 'Hang up' }).evaluate(
      (el, h) =>
        new Promise<{ below: number; belowStage: number; scrolls: boolean }>((resolve) => {
          const measure = () => {
            if (innerHeight !== h) return requestAnimationFrame(measure);
            const view = el.closest('.call-view')!;
            const stage = view.querySelector('.call-stage')!.getBoundingClientRect();
            const controls = view.querySelector('.call-controls')!.getBoundingClientRect();
            resolve({
              below: innerHeight - view.getBoundingClientRect().bottom,
              belowStage: controls.top - stage.bottom,
              scrolls: document.documentElement.scrollHeight > innerHeight,
            });
          };
          measure();
        }),
      height,
    );
    t.ok(
      fit.below >= 0 && fit.below <= 24 && fit.belowStage <= 16 && !fit.scrolls,
      `the call fills a frame ${height}px high (${JSON.stringify(fit)})`,
    );
  }

  // A frame of a third origin posts a hangup to the call page: it is not the parent.
  await page.evaluate((src) => {
    const el = document.createElement('iframe');
    el.title = 'Other';
    el.src = src;
    document.body.append(el);
  }, `${other}/other`);
  await until('the other frame posted', got, (l) => l.some((m) => m.data.type === 'posted'));
  // A message the call page posts to itself is handled after the other frame's, already queued.
  await page.frame({ url: (u) => u.origin === stack.web })!.evaluate(
    () =>
      new Promise<void>((resolve) => {
        const seen = (e: MessageEvent) => {
          if (e.data !== 'probe') return;
          removeEventListener('message', seen);
          resolve();
        };
        addEventListener('message', seen);
        postMessage('probe', location.origin);
      }),
  );
  t.ok(await frame.getByRole('button', { name: 'Hang up' }).isVisible(), 'still in the call');
  t.notOk(
    (await got()).some((m) => m.data.type === 'call_ended'),
    'no call_ended after the other origin',
  );

  // The parent's hangup, at the call page's origin, ends the call.
  await page.evaluate(
    (target) =>
      document
        .querySelector<HTMLIFrameElement>('iframe[title="Call us"]')!
        .contentWindow!.postMessage({ source: 'calldocker', type: 'hangup' }, target),
    stack.web,
  );
  await frame.getByRole('heading', { name: 'Call ended' }).waitFor();
  const list = await until('call_ended', got, (l) => l.some((m) => m.data.type === 'call_ended'));
  const ended = list.find((m) => m.data.type === 'call_ended')!;
  t.equal(ended.data.callId, callId, 'call_ended names the call');
  t.equal(ended.origin, stack.web, 'from the call page');
  await until(
    'Bob hears the end',
    async () => endedForBob,
    (l) => l.includes(callId!),
  );
  t.same(errors, [], 'no console error');
});
