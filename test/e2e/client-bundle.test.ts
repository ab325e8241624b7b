/**
 * The `@calldocker/client` browser bundle as a site without a bundler uses it (issue #12): a
 * plain HTML page on another origin imports `/client/v1/calldocker.js` from the web host with
 * `<script type="module">` and places a call through the real signaling server, which an
 * agent answers.
 */
import { createServer } from 'node:http';
import t, { type Test } from 'tap';
import { PROTOCOL_VERSION } from '@calldocker/client';
import { chromiumOrSkip, launchBrowser, newPage, startStack, WAIT_MS } from './harness.js';
import { nodeAgent } from './visitor-helpers.js';

/** Serves one HTML page from its own origin (another port than the web host). */
async function servePage(t: Test, html: string): Promise<string> {
  const server = createServer((req, res) => {
    if (new URL(req.url ?? '/', 'http://localhost').pathname !== '/') {
      return void res.writeHead(404).end();
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}/`;
}

t.test('the bundle is served versioned, immutable, as JavaScript, to any origin', async (t) => {
  const stack = await startStack(t);
  const url = `${stack.web}/client/v${PROTOCOL_VERSION}/calldocker.js`;
  const bundle = await fetch(url, { headers: { origin: 'https://shop.example' } });
  t.equal(bundle.status, 200);
  t.equal(bundle.headers.get('content-type'), 'text/javascript; charset=utf-8');
  t.equal(bundle.headers.get('x-content-type-options'), 'nosniff');
  t.equal(bundle.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  t.equal(bundle.headers.get('access-control-allow-origin'), '*');
  t.match(await bundle.text(), /sourceMappingURL=calldocker\.js\.map/);

  const compressed = await fetch(url, { headers: { 'accept-encoding': 'br' } });
  t.equal(compressed.headers.get('content-encoding'), 'br', 'sent precompressed');

  const map = await fetch(`${url}.map`);
  t.equal(map.status, 200);
  t.match(map.headers.get('content-type') ?? '', /^application\/json/);
  t.match((await map.json()) as object, { version: 3, sources: Array });

  const missing = await fetch(`${stack.web}/client/v${PROTOCOL_VERSION}/nope.js`);
  t.ok(missing.status >= 400 && missing.status < 500, `no such file: ${missing.status}`);
  const assetMissing = await fetch(`${stack.web}/assets/nope.js`);
  t.equal(missing.status, assetMissing.status, 'as for a missing file under /assets/');
});

t.test('a page without a bundler loads the bundle and its visitor is answered', async (t) => {
  const chromium = await chromiumOrSkip(t, 'client-bundle');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const agent = await nodeAgent(t, stack, stack.agents[1]!);
  const res = await fetch(`${stack.web}/api/visitor-token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ companyId: stack.companyId, name: 'Plain Page' }),
  });
  const { token } = (await res.json()) as { token: string };

  // The page's own script is inline: it is this test's page, not the web host's (whose CSP
  // allows no inline script); what it imports comes from the web host, another origin.
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A shop</title><link rel="icon" href="data:,"></head>
<body><p>Call us</p>
<script type="module">
  import { WebSocketClient, PROTOCOL_VERSION } from '${stack.web}/client/v1/calldocker.js';
  const client = new WebSocketClient({ url: ${JSON.stringify(stack.signaling)}, token: ${JSON.stringify(token)} });
  window.started = new Promise((resolve) => client.on('call_started', resolve));
  window.placed = client.connect().then(async (established) => {
    const { callId, status } = await client.requestCall('audio');
    return { callId, status, protocol: PROTOCOL_VERSION, server: established.protocolVersion };
  });
</script>
</body></html>`;
  const pageUrl = await servePage(t, html);

  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await newPage(t, browser);
  const agentStarted = new Promise<{ callId: string }>((resolve) =>
    agent.on('call_started', resolve),
  );
  await page.goto(pageUrl);
  await page.waitForFunction(() => 'placed' in window, undefined, { timeout: WAIT_MS });
  const placed = (await page.evaluate(() => (window as unknown as { placed: unknown }).placed)) as {
    callId: string;
    status: string;
    protocol: number;
    server: number;
  };
  t.same(placed, { callId: placed.callId, status: 'queued', protocol: 1, server: 1 });

  await agent.acceptCall(placed.callId);
  const pageStarted = (await page.evaluate(
    () => (window as unknown as { started: unknown }).started,
  )) as { callId: string; peer: { id: string } };
  t.equal(pageStarted.callId, placed.callId, 'the page sees call_started');
  t.equal(pageStarted.peer.id, stack.agents[1]!.id, 'with the agent as its peer');
  t.equal((await agentStarted).callId, placed.callId, 'the agent sees call_started');
  t.same(errors, [], 'no console error or uncaught exception');
});
