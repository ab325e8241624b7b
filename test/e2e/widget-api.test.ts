/**
 * `window.CallDocker` on a company's site: `open()` and `close()`, calls queued before the
 * loader ran, and events heard only from the call page's frame the loader made: a message
 * forged by the site itself or by another frame of the CallDocker host is ignored, even when
 * it carries `source: 'calldocker'`. A live call keeps its frame behind a closed panel.
 */
import t from 'tap';
import type { FrameMessage } from '../../web/pages/shared/embed-messages.js';
import { chromiumOrSkip, launchBrowser, newPage, startStack, until } from './harness.js';
import { callFrame, hostPage, serveHostSite } from './widget-host.js';

/** The site queues its listeners before the loader runs, as docs/EMBED.md shows. */
const QUEUE = `<script>
window.__events = [];
window.CallDocker = window.CallDocker || { q: [] };
const record = (e) => window.__events.push(e);
window.__record = record;
CallDocker.q.push(['on', 'ready', record], ['on', 'call_started', record], ['on', 'call_ended', record]);
</script>`;

const chromium = await chromiumOrSkip(t, 'widget-api');
const stack = chromium === undefined ? undefined : await startStack(t);
const browser = chromium === undefined ? undefined : await launchBrowser(t, chromium);

t.test('open, close and events only from the frame the loader made', async (t) => {
  if (stack === undefined || browser === undefined) return;
  // Another frame of the CallDocker host on the same page: the right origin, the wrong window.
  // It is a second call page, the one kind of page the host lets other sites frame (the status
  // page, like everything else, refuses to be framed).
  const siblingUrl = `${stack.web}/c/${stack.companyId}?embed=1&sibling=1`;
  const sibling = `<iframe title="Another call page" src="${siblingUrl}"></iframe>`;
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId, { head: QUEUE, body: sibling }),
  });
  const { page, errors } = await newPage(t, browser);
  await page.goto(site);
  const events = () =>
    page.evaluate(() => (window as unknown as { __events: FrameMessage[] }).__events);
  const api = (method: 'open' | 'close' | 'hangup') =>
    page.evaluate(
      (m) => (window as unknown as { CallDocker: Record<string, () => void> }).CallDocker[m]!(),
      method,
    );
  await page.getByRole('button', { name: 'Call us' }).waitFor();
  const dialog = page.getByRole('dialog', { name: `Call ${stack.companyName}` });

  await api('open');
  await dialog.waitFor();
  t.pass('CallDocker.open() opens the panel');
  await until('ready from the call page', events, (list) => list.some((e) => e.type === 'ready'));
  const frame = await callFrame(page, stack.web, stack.companyId);
  // The sibling loads on its own time: wait for it rather than assume it is there yet.
  const siblingFrame = (await until(
    'the sibling frame',
    async () => page.frames().find((f) => f.url() === siblingUrl),
    (f) => f !== undefined,
  ))!;

  const forged = { source: 'calldocker', type: 'call_started', callId: 'forged' };
  await page.evaluate((m) => window.postMessage(m, '*'), forged);
  await siblingFrame.evaluate((m) => window.parent.postMessage(m, '*'), forged);
  await frame.evaluate(() =>
    window.parent.postMessage({ source: 'calldocker', type: 'chat', callId: 'x' }, '*'),
  );
  await frame.evaluate(() =>
    window.parent.postMessage(
      { source: 'calldocker', type: 'call_started', callId: 'from-frame' },
      '*',
    ),
  );
  const heard = await until('call_started from the frame', events, (list) =>
    list.some((e) => e.type === 'call_started'),
  );
  t.same(
    heard.filter((e) => e.type !== 'ready'),
    [{ type: 'call_started', callId: 'from-frame' }],
    "the site's and the sibling frame's forgeries and an unknown type are ignored",
  );

  // A live call: closing hides the panel and keeps the frame (and so the call).
  await api('close');
  await dialog.waitFor({ state: 'hidden' });
  t.equal(await page.locator('iframe[title^="Call"]').count(), 1, 'the frame stays');
  t.notOk(frame.isDetached(), 'the call page is still loaded');

  // The call ends behind the closed panel: the frame goes with it.
  await frame.evaluate(() =>
    window.parent.postMessage(
      { source: 'calldocker', type: 'call_ended', callId: 'from-frame', durationSec: 42 },
      '*',
    ),
  );
  await until('call_ended', events, (list) => list.some((e) => e.type === 'call_ended'));
  t.same((await events()).at(-1), { type: 'call_ended', callId: 'from-frame', durationSec: 42 });
  await until(
    'the frame dropped',
    () => page.locator('iframe[title^="Call"]').count(),
    (n) => n === 0,
  );

  // off() stops a listener; close_requested from the frame closes the panel.
  await page.evaluate(() => {
    const w = window as unknown as {
      CallDocker: { off(e: string, l: unknown): void };
      __record: unknown;
    };
    w.CallDocker.off('ready', w.__record);
  });
  const readyCount = (await events()).filter((e) => e.type === 'ready').length;
  await api('open');
  const second = await callFrame(page, stack.web, stack.companyId);
  await second.getByRole('heading', { name: stack.companyName }).waitFor();
  // The call page says ready once drawn; give it the time a message takes, then count.
  await second.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)));
  t.equal(
    (await events()).filter((e) => e.type === 'ready').length,
    readyCount,
    'off() removed the ready listener',
  );

  // hangup() reaches the frame, from the site's origin.
  await second.evaluate(() => {
    const w = window as unknown as { __got: unknown[] };
    w.__got = [];
    window.addEventListener('message', (e) => w.__got.push([e.origin, e.data]));
  });
  await api('hangup');
  const got = await until(
    'hangup in the frame',
    () => second.evaluate(() => (window as unknown as { __got: unknown[] }).__got),
    (list) => list.length > 0,
  );
  t.same(got, [[site, { source: 'calldocker', type: 'hangup' }]]);

  await second.evaluate(() =>
    window.parent.postMessage({ source: 'calldocker', type: 'close_requested' }, '*'),
  );
  await dialog.waitFor({ state: 'hidden' });
  t.pass('close_requested from the frame closes the panel');
  t.same(errors, [], 'no console error or uncaught exception');
});

t.test('open() before the embed check has answered opens the panel once it has', async (t) => {
  if (stack === undefined || browser === undefined) return;
  const early = `<script>
window.CallDocker = { q: [['open']] };
</script>`;
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId, { head: early }),
  });
  const { page } = await newPage(t, browser);
  await page.goto(site);
  await page.getByRole('dialog', { name: `Call ${stack.companyName}` }).waitFor();
  t.pass('the queued open() ran');
});
