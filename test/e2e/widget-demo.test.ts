/**
 * `/embed-demo`, the sample shop the web host serves with the one-line snippet: under its
 * strict CSP the button draws and opens (its styles need no `unsafe-inline`), the page's own
 * button opens the panel through the JS API and logs what it hears, and with the panel open
 * axe-core finds no serious or critical violation. Makes the `widget-button` and `widget-open`
 * screenshots (SCREENSHOTS=1).
 */
import t from 'tap';
import {
  chromiumOrSkip,
  launchBrowser,
  newPage,
  screenshot,
  seriousViolations,
  startStack,
} from './harness.js';
import { callFrame, loaderWarnings } from './widget-host.js';

t.test('the demo page over HTTP: the snippet, a strict CSP, a checked company', async (t) => {
  const stack = await startStack(t, { companyId: 'demo', companyName: 'Pedal & Co.' });
  const res = await fetch(`${stack.web}/embed-demo`);
  t.equal(res.status, 200);
  const csp = res.headers.get('content-security-policy') ?? '';
  t.match(csp, /script-src 'self'(;|$)/);
  t.match(csp, /frame-src 'self'(;|$)/);
  t.notMatch(csp, /unsafe-inline/);
  const html = await res.text();
  t.match(html, '<script src="/widget.js" data-company="demo" async></script>');
  t.match(
    html,
    `&lt;script src=&quot;${stack.web}/widget.js&quot; data-company=&quot;demo&quot; async&gt;`,
    'the one line, shown with this host',
  );
  const other = await fetch(`${stack.web}/embed-demo?company=acme`);
  t.match(await other.text(), 'data-company="acme"');
  const bad = await fetch(`${stack.web}/embed-demo?company=%22%3E%3Cscript%3E`);
  t.equal(bad.status, 400, 'a company that is not an id is refused');
});

t.test('the demo page in Chromium: button, panel, events, accessibility', async (t) => {
  const chromium = await chromiumOrSkip(t, 'widget-demo');
  if (chromium === undefined) return;
  const stack = await startStack(t, { companyId: 'demo', companyName: 'Pedal & Co.' });
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await newPage(t, browser);
  const warnings = loaderWarnings(page);
  await page.goto(`${stack.web}/embed-demo`);
  const button = page.getByRole('button', { name: 'Call us' });
  await button.waitFor();
  await page.waitForLoadState('networkidle');
  await screenshot(page, 'widget-button');

  await page.getByRole('button', { name: 'Call an expert' }).click();
  const dialog = page.getByRole('dialog', { name: 'Call Pedal & Co.' });
  await dialog.waitFor();
  const frame = await callFrame(page, stack.web, 'demo');
  await frame.getByRole('heading', { name: 'Pedal & Co.' }).waitFor();
  await page.getByRole('listitem').filter({ hasText: 'The call page is ready.' }).waitFor();
  t.pass("the page's own button opened the panel and the page heard ready");
  await page.waitForLoadState('networkidle');
  await screenshot(page, 'widget-open');

  const violations = await seriousViolations(page);
  t.same(
    violations.map((v) => `${v.id}: ${v.help} ${JSON.stringify(v.nodes.map((n) => n.target))}`),
    [],
    'no serious or critical accessibility violation with the panel open',
  );
  t.same(warnings, []);
  t.same(errors, [], 'no console error (no CSP refusal) or uncaught exception');
});
