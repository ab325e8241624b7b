/**
 * A whole call through the button on a company's site (another origin): the visitor presses
 * Call in the framed call page, an agent answers, and the site's listener hears `call_started`;
 * closing the panel mid-call keeps the call, and `CallDocker.hangup()` ends it, which the site
 * hears as `call_ended`.
 */
import t from 'tap';
import type { FrameMessage } from '../../web/pages/shared/embed-messages.js';
import { chromiumOrSkip, launchBrowser, newPage, startStack, until } from './harness.js';
import { openAgentPage } from './visitor-helpers.js';
import { callFrame, hostPage, serveHostSite } from './widget-host.js';

const RECORD = `<script>
window.__events = [];
window.CallDocker = window.CallDocker || { q: [] };
for (const type of ['ready', 'call_started', 'call_ended']) {
  CallDocker.q.push(['on', type, (e) => window.__events.push(e)]);
}
</script>`;

t.test('a call from the button reaches the site as call_started and call_ended', async (t) => {
  const chromium = await chromiumOrSkip(t, 'widget-call');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId, { head: RECORD }),
  });
  const agent = await openAgentPage(t, browser, stack, stack.agents[1]!);

  const { page, errors } = await newPage(t, browser);
  const events = () =>
    page.evaluate(() => (window as unknown as { __events: FrameMessage[] }).__events);
  await page.goto(site);
  await page.getByRole('button', { name: 'Call us' }).click();
  const dialog = page.getByRole('dialog', { name: `Call ${stack.companyName}` });
  await dialog.waitFor();
  const frame = await callFrame(page, stack.web, stack.companyId);
  await frame.getByRole('button', { name: 'Call', exact: true }).click();
  await frame.getByRole('button', { name: 'Start call' }).click();

  const started = await until('call_started on the site', events, (list) =>
    list.some((e) => e.type === 'call_started'),
  );
  await until('the agent in the call', agent.inCall, (inCall) => inCall);
  const start = started.find((e) => e.type === 'call_started');
  t.match(start, { type: 'call_started', callId: /^[0-9a-f-]{36}$/ }, 'with the call id');
  const callId = start?.type === 'call_started' ? start.callId : undefined;
  await frame.getByRole('heading', { name: 'Bob Agent' }).waitFor();

  // Closing the panel does not cut the call; opening it again shows it still going.
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });
  t.notOk(frame.isDetached(), 'the call page stays loaded');
  await page.getByRole('button', { name: 'Call us' }).click();
  await frame.getByRole('heading', { name: 'Bob Agent' }).waitFor();
  t.notOk(
    (await events()).some((e) => e.type === 'call_ended'),
    'the call went on while the panel was closed',
  );

  await page.evaluate(() =>
    (window as unknown as { CallDocker: { hangup(): void } }).CallDocker.hangup(),
  );
  const ended = await until('call_ended on the site', events, (list) =>
    list.some((e) => e.type === 'call_ended'),
  );
  const end = ended.find((e) => e.type === 'call_ended');
  t.ok(end?.type === 'call_ended' && end.callId === callId, 'for the same call');
  t.ok(end?.type === 'call_ended' && end.durationSec >= 0, 'with its duration');
  t.same(errors, [], 'no console error or uncaught exception on the site');
});
