/**
 * Embed mode: the call page inside an iframe of another origin says `ready` to its parent,
 * at the parent's origin (never `*`), and its Close button posts `close_requested`.
 */
import { createServer } from 'node:http';
import t from 'tap';
import { chromiumOrSkip, launchBrowser, newPage, startStack, until } from './harness.js';

t.test('the embedded page talks to its parent only', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-embed');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const parent = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' }).end(`<!doctype html><html lang="en">
<title>Shop</title><body><script>
window.__got = [];
addEventListener('message', (e) => window.__got.push({ origin: e.origin, data: e.data }));
</script><iframe title="Call us" width="380" height="600" allow="camera; microphone"
src="${stack.web}/c/${stack.companyId}?embed=1"></iframe></body></html>`);
  });
  await new Promise<void>((resolve) => parent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => parent.close(() => resolve())));
  const address = parent.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  // Another origin than the web host's: localhost instead of 127.0.0.1.
  const parentOrigin = `http://localhost:${address.port}`;

  const { page, errors } = await newPage(t, browser);
  await page.goto(`${parentOrigin}/`);
  const got = () =>
    page.evaluate(
      () =>
        (window as unknown as { __got: Array<{ origin: string; data: { type: string } }> }).__got,
    );
  await until('ready', got, (list) => list.some((m) => m.data.type === 'ready'));
  const frame = page.frameLocator('iframe');
  await frame.getByRole('heading', { name: stack.companyName }).waitFor();
  await frame.getByRole('button', { name: 'Close' }).click();
  const list = await until('close_requested', got, (l) =>
    l.some((m) => m.data.type === 'close_requested'),
  );
  t.ok(
    list.every(
      (m) => m.origin === stack.web && (m.data as { source?: string }).source === 'calldocker',
    ),
    'every message comes from the call page, marked calldocker',
  );
  t.same(errors, [], 'no console error');
});
