/**
 * The pages as the web host serves them, from the real entries: each page's shell loads its
 * hashed bundle under a strict CSP, an unknown company gets a 404 page that loads no script,
 * and the bundles are sent compressed with immutable caching.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, newPage, startStack } from './harness.js';

t.test('a company page, an unknown company and the bundles over HTTP', async (t) => {
  const stack = await startStack(t);
  const page = await fetch(`${stack.web}/c/${stack.companyId}`);
  t.equal(page.status, 200);
  const csp = page.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'(;|$)/, 'scripts only from the host');
  t.notMatch(csp, /unsafe-inline/, 'no inline script or style allowed');
  const html = await page.text();
  t.match(html, new RegExp(`<title>Call ${stack.companyName}</title>`));
  const script = /<script type="module" src="(\/assets\/visitor-[A-Z0-9]+\.js)">/.exec(html)?.[1];
  t.ok(script, 'the shell loads the hashed visitor bundle');

  const asset = await fetch(`${stack.web}${script}`, { headers: { 'accept-encoding': 'br' } });
  t.equal(asset.status, 200);
  t.equal(asset.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.equal(asset.headers.get('content-encoding'), 'br', 'sent precompressed');

  const missing = await fetch(`${stack.web}/c/no-such-company`);
  t.equal(missing.status, 404);
  const missingHtml = await missing.text();
  t.match(missingHtml, /Company not found/);
  t.notMatch(missingHtml, /<script/, 'the 404 page runs no script, so nothing connects');

  const loader = await fetch(`${stack.web}/widget.js`);
  t.equal(loader.status, 200);
  t.match(loader.headers.get('content-type') ?? '', /javascript/);
  t.equal(loader.headers.get('cache-control'), 'public, max-age=300');
});

t.test('the company page draws the company name in Chromium with no console error', async (t) => {
  const chromium = await chromiumOrSkip(t, 'pages-served');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await newPage(t, browser);
  await page.goto(`${stack.web}/c/${stack.companyId}`);
  await page.getByRole('heading', { name: stack.companyName }).waitFor();
  t.same(errors, [], 'no console error or uncaught exception');
});

t.test('the status page runs under its CSP: styled, both servers checked, no error', async (t) => {
  const chromium = await chromiumOrSkip(t, 'pages-served');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await newPage(t, browser);
  await page.goto(`${stack.web}/status.html`);
  // status.js fetched /api/config and the signaling server's /healthz across ports.
  await page.locator('#web-state[data-state="up"]').waitFor();
  await page.locator('#signaling-state[data-state="up"]').waitFor();
  const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  t.not(background, 'rgba(0, 0, 0, 0)', 'the style sheet applied');
  t.same(errors, [], 'no CSP violation, console error or uncaught exception');
});
