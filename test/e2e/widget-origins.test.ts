/**
 * A company that lists the sites allowed to embed it: on a site not on its list the button
 * stays hidden and the loader gives exactly one console warning naming the fix, and the call
 * page itself refuses to be framed there (the browser enforces its CSP `frame-ancestors`).
 * Once the site is listed, both work, with no restart: the servers read the list per request.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, newPage, startStack, until } from './harness.js';
import { callFrame, hostPage, loaderWarnings, serveHostSite, setOrigins } from './widget-host.js';

const chromium = await chromiumOrSkip(t, 'widget-origins');
const stack = chromium === undefined ? undefined : await startStack(t);
const browser = chromium === undefined ? undefined : await launchBrowser(t, chromium);

t.test('a site off the list gets no button, one warning, and no framed call page', async (t) => {
  if (stack === undefined || browser === undefined) return;
  const shop = 'https://shop.example.com';
  await setOrigins(stack.databasePath, stack.companyId, [shop]);
  const direct = `<!doctype html><html lang="en"><title>Framing directly</title><body>
<iframe title="Call page" width="380" height="600" src="${stack.web}/c/${stack.companyId}?embed=1"></iframe>`;
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId),
    '/direct': direct,
  });

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
  t.equal(
    warnings[0],
    `CallDocker: this site (${site}) may not embed company "${stack.companyId}", so the call ` +
      `button stays hidden. Add it with: npm run admin -- set-origins ${stack.companyId} ` +
      `<origins already listed> ${site}`,
  );
  t.equal(await page.getByRole('button').count(), 0, 'no button');
  t.equal(page.frames().length, 1, 'no frame');

  // The call page framed by hand on the same site: the browser refuses it (frame-ancestors).
  const refused = await newPage(t, browser);
  const csp: string[] = [];
  refused.page.on('console', (msg) => {
    if (/frame-ancestors/.test(msg.text())) csp.push(msg.text());
  });
  const answer = refused.page.waitForResponse(`${stack.web}/c/${stack.companyId}?embed=1`);
  await refused.page.goto(`${site}/direct`);
  t.match((await answer).headers()['content-security-policy'], `frame-ancestors 'self' ${shop}`);
  await until(
    'the refusal',
    async () => csp.length,
    (n) => n > 0,
  );
  t.match(
    csp[0],
    /violates the following Content Security Policy directive/,
    'the browser reports the refusal',
  );
  t.notOk(
    refused.page.frames().some((f) => f.url() === `${stack.web}/c/${stack.companyId}?embed=1`),
    'the frame holds no call page',
  );

  // Listed now: the same pages work, no restart.
  await setOrigins(stack.databasePath, stack.companyId, [shop, site]);
  const allowed = await newPage(t, browser);
  const none = loaderWarnings(allowed.page);
  await allowed.page.goto(site);
  await allowed.page.getByRole('button', { name: 'Call us' }).click();
  const frame = await callFrame(allowed.page, stack.web, stack.companyId);
  await frame.getByRole('heading', { name: stack.companyName }).waitFor();
  t.same(none, [], 'no warning once listed');
  await allowed.page.goto(`${site}/direct`);
  await allowed.page
    .frameLocator('iframe')
    .getByRole('heading', { name: stack.companyName })
    .waitFor();
  t.pass('framed by hand too');
  await setOrigins(stack.databasePath, stack.companyId, []);
});
