/**
 * A page refresh in the middle of a call resumes it: the token, call id, role and answer time
 * are kept in sessionStorage, the server hands the call back (`call_resumed`), and video flows
 * again, read from getStats().
 */
import t from 'tap';
import { chromiumOrSkip, framesFlowing, launchBrowser, startStack } from './harness.js';
import { openAgentPage, openVisitor } from './visitor-helpers.js';

t.test('reloading the page mid-call resumes the call and its video', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-resume');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  await openAgentPage(t, browser, stack, stack.agents[0]!);
  const { page, errors } = await openVisitor(t, browser, stack);

  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  await page.getByRole('heading', { name: 'Alice Agent' }).waitFor();
  await framesFlowing(page);
  // Long enough for the timer to show it continues rather than restarts.
  await page.getByRole('timer', { name: /Call time 0:0[4-9]/ }).waitFor();

  await page.reload();
  await page.getByRole('heading', { name: 'Alice Agent' }).waitFor();
  await framesFlowing(page);
  t.pass('video flows again after the reload');
  const after = (await page.getByRole('timer').textContent()) ?? '';
  const [min, sec] = after.split(':').map(Number);
  t.ok(min! * 60 + sec! >= 4, `the timer goes on from the answer (${after})`);
  await page.getByRole('button', { name: 'Hang up' }).click();
  await page.getByRole('heading', { name: 'Call ended' }).waitFor();
  t.same(errors, [], 'no console error');
});
