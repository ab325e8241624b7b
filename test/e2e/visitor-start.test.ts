/**
 * The visitor page's start screen in Chromium against the real servers: the company's name,
 * the agents online now (live: an agent connecting or changing status shows up without a
 * reload), "nobody is online" before anyone is, and the failures that need no call: the
 * signaling server unreachable, and a disabled company.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, screenshot, startStack } from './harness.js';
import { checkA11y, nodeAgent, openVisitor } from './visitor-helpers.js';

t.test('the start screen lists the agents online, live', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-start');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openVisitor(t, browser, stack);

  await page.getByRole('heading', { level: 1, name: stack.companyName }).waitFor();
  await page.getByText(/Nobody is online right now/).waitFor();
  t.ok(await page.getByRole('radio', { name: 'Any available agent' }).isChecked());
  t.ok(await page.getByRole('radio', { name: 'Video' }).isChecked(), 'video by default');
  await checkA11y(t, page, 'start, nobody online');

  const [alice, bob] = stack.agents;
  const bobClient = await nodeAgent(t, stack, bob!);
  const bobRadio = page.getByRole('radio', { name: 'Bob Agent online' });
  await bobRadio.waitFor();
  t.ok(await bobRadio.isEnabled(), 'an online agent can be chosen');
  await page.getByText(/Nobody is online right now/).waitFor({ state: 'detached' });

  await nodeAgent(t, stack, alice!);
  await page.getByRole('radio', { name: 'Alice Agent online' }).waitFor();
  await page.getByText('2 agents online').waitFor();

  await bobRadio.check();
  await bobClient.updateAgentStatus('away');
  const bobAway = page.getByRole('radio', { name: 'Bob Agent away' });
  await bobAway.waitFor();
  t.ok(await bobAway.isDisabled(), 'an agent who is away cannot be rung');
  t.ok(
    await page.getByRole('radio', { name: 'Any available agent' }).isChecked(),
    'the choice of an agent who went away falls back to any agent',
  );

  bobClient.disconnect();
  await bobAway.waitFor({ state: 'detached' });
  t.equal(await page.getByRole('button', { name: 'Call', exact: true }).count(), 1);
  await page.getByLabel('Your name (optional)').fill('Vera');
  await screenshot(page, 'visitor-start');
  await checkA11y(t, page, 'start, agents online');
  t.same(errors, [], 'no console error');
});

t.test('a signaling server that cannot be reached is said plainly, with Try again', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-start');
  if (chromium === undefined) return;
  const stack = await startStack(t, { signaling: false });
  const browser = await launchBrowser(t, chromium);
  const { page } = await openVisitor(t, browser, stack);
  await page.getByRole('heading', { name: 'The call service cannot be reached' }).waitFor();
  await checkA11y(t, page, 'unreachable');
  await page.getByRole('button', { name: 'Try again' }).click();
  // Still nothing listening: the page tries, then says so again.
  await page.getByRole('heading', { name: 'The call service cannot be reached' }).waitFor();
});
