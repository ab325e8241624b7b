/**
 * A disabled company, in Chromium against the real servers: disabled before the page loads (the
 * host's boot flag), the page says so and offers no call; disabled while the page is open, the
 * call is refused when the visitor places it (the visitor token is refused), the page says why,
 * and Try again brings the call form back once the company is enabled again.
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
  // A name needs a new visitor token, which the host now refuses (404).
  await page.getByLabel('Your name (optional)').fill('Vera Visitor');
  await page.getByRole('radio', { name: 'Audio only' }).check();
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  await page.getByRole('heading', { name: 'Calls are switched off' }).waitFor();
  await checkA11y(t, page, 'company disabled while open');

  // Still disabled: Try again reloads into the same answer.
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('heading', { name: 'Calls are switched off' }).waitFor();
  await setDisabled(stack, false);
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('button', { name: 'Call', exact: true }).waitFor();
  t.pass('the call form is back once the company takes calls again');
});
