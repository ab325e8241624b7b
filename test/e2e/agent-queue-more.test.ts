/**
 * A queue longer than the server announces (issue 11), in Chromium against both real servers
 * with QUEUE_ANNOUNCE_MAX at 2: the dashboard shows the total, says it lists the callers who
 * waited longest, and "Show more" opens the rest page by page; the opened list follows the
 * queue when a caller gives up.
 */
import t from 'tap';
import { agentsOf, describeViolations, openAgent, Visitor } from './agent-helpers.js';
import {
  chromiumOrSkip,
  launchBrowser,
  screenshot,
  seriousViolations,
  startStack,
} from './harness.js';

const NAMES = ['Ada', 'Ben', 'Cy', 'Dee', 'Eve'];

t.test('the total, the longest-waiting callers, and Show more', async (t) => {
  const chromium = await chromiumOrSkip(t, 'agent-queue-more');
  if (chromium === undefined) return;
  const stack = await startStack(t, { env: { QUEUE_ANNOUNCE_MAX: '2' } });
  const { alice } = agentsOf(stack);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openAgent(t, browser, stack, alice);

  const callers: Array<{ visitor: Visitor; callId: string }> = [];
  for (const name of NAMES) {
    const visitor = await Visitor.connect(t, stack, name);
    const { callId } = await visitor.client.requestCall('audio', { purpose: `${name}'s question` });
    callers.push({ visitor, callId });
  }

  const list = page.getByRole('list', { name: 'Waiting callers' });
  const rows = list.getByRole('listitem');
  await page.getByText('5 waiting', { exact: true }).waitFor();
  await page.getByRole('tab', { name: /5 callers waiting/ }).waitFor();
  t.equal(await rows.count(), 2, 'the two announced callers are listed');
  t.ok(await rows.filter({ hasText: 'Ada' }).isVisible(), 'the one who waited longest');
  t.ok(await rows.filter({ hasText: 'Ben' }).isVisible());
  await page.getByText('Showing the 2 callers who have waited longest.').waitFor();
  const more = page.getByRole('button', { name: 'Show more' });
  const violations = await seriousViolations(page);
  t.same(violations, [], `no serious axe violation ${describeViolations(violations)}`);
  await screenshot(page, 'agent-queue-more');

  await more.click();
  await rows.filter({ hasText: 'Dee' }).waitFor();
  t.equal(await rows.count(), 4, 'one more page: as long as the announcement');
  await page.getByText('Showing the 4 callers who have waited longest.').waitFor();
  await more.click();
  await rows.filter({ hasText: "Eve's question" }).waitFor();
  t.equal(await rows.count(), 5, 'the whole queue');
  await more.waitFor({ state: 'detached' });
  t.pass('nothing more to show, so no Show more');
  t.ok(
    await page.getByRole('button', { name: 'Accept call from Eve' }).isVisible(),
    'a caller from a further page can be accepted like any other',
  );

  // Ben gives up: the opened list is read again, without him.
  await callers[1]!.visitor.client.cancelCall(callers[1]!.callId);
  await page.getByText('4 waiting', { exact: true }).waitFor();
  await rows.filter({ hasText: 'Ben' }).waitFor({ state: 'detached' });
  t.same(
    await rows.locator('.queue-name').allTextContents(),
    ['Ada', 'Cy', 'Dee', 'Eve'],
    'the rest, oldest first',
  );
  t.same(errors, [], 'no console error');
});
