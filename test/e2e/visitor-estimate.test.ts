/**
 * The expected wait, in Chromium against the real servers: once the company has three recent
 * calls answered from the queue (made here by Node visitors and a Node agent, each answered at
 * once), the server sends `estimatedWaitSec` and the waiting view announces it in its live
 * region.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, startStack } from './harness.js';
import { nodeAgent, nodeVisitor, openVisitor } from './visitor-helpers.js';

t.test('a queued visitor hears the expected wait once there is history', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-estimate');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const bob = await nodeAgent(t, stack, stack.agents[1]!);
  for (let i = 0; i < 3; i++) {
    const visitor = await nodeVisitor(t, stack);
    const ack = await visitor.requestCall('audio');
    t.equal(ack.status, 'queued', `history call ${i + 1} waits in the queue`);
    await bob.acceptCall(ack.callId);
    await bob.endCall(ack.callId);
    visitor.disconnect();
  }

  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openVisitor(t, browser, stack);
  await page.getByRole('radio', { name: 'Audio only' }).check();
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  const live = page.locator('[aria-live="polite"]');
  // Answered at once, the median wait is under a second: the estimate is "under a minute".
  await live.getByText('Expected wait: under a minute.').waitFor();
  await live.getByText('You are next in line.').waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();
  t.same(errors, [], 'no console error');
});
