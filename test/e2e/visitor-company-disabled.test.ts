/**
 * A disabled company, in Chromium against the real servers: disabled before the page loads (the
 * host's boot flag), the page says so and offers no call; disabled while the page is open, the
 * server closes the page's connection (4003, within a second: issue 11's revocation) and the page
 * says why by itself, and Try again brings the call form back once the company is enabled again.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, startStack } from './harness.js';
import { checkA11y, openVisitor, setDisabled } from './visitor-helpers.js';

t.test('a company disabled before the page loads: the page says so, no call', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-company-disabled');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  await setDisabled(stack, true);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openVisitor(t, browser, stack);

  await page.getByRole('heading', { name: 'Calls are switched off' }).waitFor();
  await page.getByText('This company is not taking calls at the moment.').waitFor();
  t.equal(await page.getByRole('button', { name: 'Call', exact: true }).count(), 0, 'no Call');
  t.equal(await page.getByRole('textbox').count(), 0, 'no call form');
  await checkA11y(t, page, 'company disabled');
  t.same(errors, [], 'no console error');
});

t.test('a company disabled while the page is open: refused, said, and tried again', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-company-disabled');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { page } = await openVisitor(t, browser, stack);
  await page.getByText('Nobody is online right now.', { exact: false }).waitFor();

  await setDisabled(stack, true);
  // The open connection is closed 4003 within a second: nothing to click for the page to know.
  await page.getByRole('heading', { name: 'Calls are switched off' }).waitFor({ timeout: 5000 });
  await checkA11y(t, page, 'company disabled while open');

  // Still disabled: Try again reloads into the same answer.
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('heading', { name: 'Calls are switched off' }).waitFor();
  await setDisabled(stack, false);
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('button', { name: 'Call', exact: true }).waitFor();
  t.pass('the call form is back once the company takes calls again');
});
