/**
 * The call button's loader on a company's own site (another origin than the web host): its
 * weight, the one request it makes before it is pressed, and the call page it frames on the
 * first press, not before.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import t from 'tap';
import { COMPANY_ID_PATTERN } from '../../db/companies.js';
import { COMPANY_ID } from '../../web/pages/widget/options.js';
import { PAGES_DIR } from '../../scripts/build-pages.mjs';
import { chromiumOrSkip, launchBrowser, newPage, startStack, until } from './harness.js';
import { callFrame, hostPage, loaderWarnings, serveHostSite } from './widget-host.js';

/**
 * The loader's budget: 3 KB gzipped, as every site pays it on every page view. 1 KB is 1000
 * bytes here, as the bench reports sizes.
 */
const MAX_GZIPPED_BYTES = 3000;

t.test('the loader weighs at most 3 KB gzipped', async (t) => {
  const script = await readFile(join(PAGES_DIR, 'widget.js'));
  const gzipped = gzipSync(script, { level: 9 }).length;
  t.ok(gzipped <= MAX_GZIPPED_BYTES, `widget.js is ${gzipped} bytes gzipped`);
  const served = await readFile(join(PAGES_DIR, 'widget.js.gz'));
  t.ok(served.length <= MAX_GZIPPED_BYTES, `widget.js.gz as served is ${served.length} bytes`);
  t.notMatch(script.toString(), /preact/i, 'no Preact in the loader');
});

t.test("the loader's company id pattern is the web host's", async (t) => {
  t.equal(COMPANY_ID.source, COMPANY_ID_PATTERN.source);
  t.equal(COMPANY_ID.flags, COMPANY_ID_PATTERN.flags);
});

// One stack and one browser for the file; each test has its own site and browser context.
const chromium = await chromiumOrSkip(t, 'widget-loader');
const stack = chromium === undefined ? undefined : await startStack(t);
const browser = chromium === undefined ? undefined : await launchBrowser(t, chromium);

t.test(
  'before the press only the embed check is asked; the press frames the call page',
  async (t) => {
    if (stack === undefined || browser === undefined) return;
    const site = await serveHostSite(t, { '/': hostPage(stack.web, stack.companyId) });
    const { page, errors } = await newPage(t, browser);
    const warnings = loaderWarnings(page);
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));

    await page.goto(site);
    const button = page.getByRole('button', { name: 'Call us' });
    await button.waitFor();
    // Idle for a moment: nothing else may be fetched while the button just sits there.
    await page.waitForLoadState('networkidle');
    t.same(
      requests.filter((url) => !url.startsWith(site)),
      [
        `${stack.web}/widget.js`,
        `${stack.web}/api/embed/${stack.companyId}?origin=${encodeURIComponent(site)}`,
      ],
      'the loader and its embed check, nothing else from the host',
    );
    t.equal(page.frames().length, 1, 'no frame before the press');

    await button.click();
    const dialog = page.getByRole('dialog', { name: `Call ${stack.companyName}` });
    await dialog.waitFor();
    t.ok(
      requests.includes(`${stack.web}/c/${stack.companyId}?embed=1`),
      'the call page is loaded on the press',
    );
    const frame = await callFrame(page, stack.web, stack.companyId);
    await frame.getByRole('heading', { name: stack.companyName }).waitFor();
    t.equal(
      await page.locator('iframe').getAttribute('allow'),
      'camera; microphone; display-capture; autoplay',
    );
    t.same(warnings, [], 'no warning on an allowed site');
    t.same(errors, [], 'no console error or uncaught exception');
  },
);

t.test('a second copy of the script adds no second button', async (t) => {
  if (stack === undefined || browser === undefined) return;
  const twice = hostPage(stack.web, stack.companyId, {
    body: `<script src="${stack.web}/widget.js" data-company="${stack.companyId}" async></script>`,
  });
  const site = await serveHostSite(t, { '/': twice });
  const { page } = await newPage(t, browser);
  await page.goto(site);
  await page.getByRole('button', { name: 'Call us' }).waitFor();
  await page.waitForLoadState('networkidle');
  t.equal(await page.getByRole('button', { name: 'Call us' }).count(), 1);
});

t.test('an unknown company gets one warning that names it and no button', async (t) => {
  if (stack === undefined || browser === undefined) return;
  const site = await serveHostSite(t, { '/': hostPage(stack.web, 'no-such-company') });
  const { page } = await newPage(t, browser);
  const warnings = loaderWarnings(page);
  await page.goto(site);
  await until(
    'the warning',
    async () => warnings.length,
    (n) => n > 0,
  );
  await page.waitForLoadState('networkidle');
  t.equal(warnings.length, 1, 'exactly one warning');
  t.match(warnings[0], /company "no-such-company".*no such company: check data-company/);
  t.equal(await page.getByRole('button').count(), 0, 'no button');
});
