/**
 * How the visitor page fails, in Chromium against the real servers: a named agent declines
 * (and the visitor calls again), nobody answers before the ring times out, the camera is
 * blocked (the way forward, then a call with audio only), the named agent is already being
 * rung (busy: the queue instead), and the limits on anonymous load refuse a call (a full
 * queue, too many calls a minute). Each failure screen passes axe-core.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, screenshot, startStack, until } from './harness.js';
import { checkA11y, nodeAgent, nodeVisitor, openVisitor } from './visitor-helpers.js';

t.test('a named agent declines, the visitor sees it and calls again', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-failures');
  if (chromium === undefined) return;
  const stack = await startStack(t, { env: { RING_TIMEOUT_MS: '4000' } });
  const browser = await launchBrowser(t, chromium);
  const bob = await nodeAgent(t, stack, stack.agents[1]!);
  const rings: string[] = [];
  bob.on('call_incoming', (m) => {
    rings.push(m.callId);
    // The first ring is declined; the second one is left to ring out.
    if (rings.length === 1) void bob.declineCall(m.callId);
  });
  const { page, errors } = await openVisitor(t, browser, stack);

  await page.getByRole('radio', { name: 'Bob Agent online' }).check();
  await page.getByRole('radio', { name: 'Audio only' }).check();
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('heading', { name: 'Check your microphone' }).waitFor();
  await page.getByRole('button', { name: 'Start call' }).click();
  await page.getByRole('heading', { name: 'The agent could not take your call' }).waitFor();
  await checkA11y(t, page, 'declined');
  t.equal(rings.length, 1, 'Bob was rung once');

  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('radio', { name: 'Bob Agent online' }).check();
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  await page.getByText('Ringing Bob Agent…').waitFor();
  await checkA11y(t, page, 'ringing');

  // Nobody answers: the ring times out.
  await page.getByRole('heading', { name: 'Nobody answered' }).waitFor({ timeout: 15_000 });
  await page.getByRole('button', { name: 'Try again' }).waitFor();
  await checkA11y(t, page, 'ring timeout');
  t.equal(rings.length, 2, 'the visitor called again');
  t.same(errors, [], 'no console error');
});

t.test('a blocked camera: how to allow it, then a call with audio only', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-failures');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium, { grantMedia: false });
  const bob = await nodeAgent(t, stack, stack.agents[1]!);
  const queued: string[] = [];
  bob.on('queue_updated', (m) => m.calls.forEach((c) => queued.push(c.callType)));
  const { page, context } = await openVisitor(t, browser, stack, { grant: false });

  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('heading', { name: 'Camera or microphone blocked' }).waitFor();
  await page.getByText(/address bar/).waitFor();
  t.ok(
    await page.getByRole('button', { name: 'Start call' }).isDisabled(),
    'no call without media',
  );
  await checkA11y(t, page, 'permission denied');

  // The visitor allows the microphone only, and talks without video.
  await context.grantPermissions(['microphone'], { origin: stack.web });
  await page.getByRole('button', { name: 'Call with audio only' }).click();
  await page.getByRole('heading', { name: 'Waiting for an agent' }).waitFor();
  await page.getByText('You are next in line.').waitFor();
  await until(
    'the call reaches the queue',
    async () => queued,
    (q) => q.length > 0,
  );
  t.same([...new Set(queued)], ['audio'], 'the call in the queue is an audio call');
  await page.getByRole('button', { name: 'Cancel' }).click();
  await page.getByRole('button', { name: 'Call', exact: true }).waitFor();
});

t.test('a named agent already being rung: busy, and a call to anyone instead', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-failures');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const bob = await nodeAgent(t, stack, stack.agents[1]!);
  const rings: string[] = [];
  bob.on('call_incoming', (m) => rings.push(m.callId));
  const queued: string[] = [];
  bob.on('queue_updated', (m) => m.calls.forEach((c) => queued.push(c.callId)));
  // Someone else rings Bob first, and Bob lets it ring.
  const other = await nodeVisitor(t, stack);
  await other.requestCall('audio', { agentId: stack.agents[1]!.id });
  const { page, errors } = await openVisitor(t, browser, stack);

  await page.getByRole('radio', { name: 'Bob Agent online' }).check();
  await page.getByRole('radio', { name: 'Audio only' }).check();
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  await page.getByRole('heading', { name: 'Bob Agent is on another call right now.' }).waitFor();
  await page.getByText('Call any available agent instead?').waitFor();
  await checkA11y(t, page, 'busy');
  await screenshot(page, 'visitor-busy');
  t.equal(rings.length, 1, 'Bob was not rung a second time');

  await page.getByRole('button', { name: 'Call any available agent' }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
  await page.getByRole('heading', { name: 'Waiting for an agent' }).waitFor();
  await until(
    'the call reaches the queue',
    async () => queued,
    (q) => q.length > 0,
  );
  t.equal(rings.length, 1, 'queued for anyone, not ringing Bob');
  t.same(errors, [], 'no console error');
});

t.test('a full queue, then too many calls a minute: what to do, and Try again', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-failures');
  if (chromium === undefined) return;
  const stack = await startStack(t, {
    env: { MAX_QUEUED_CALLS_PER_COMPANY: '1', CALL_REQUESTS_PER_VISITOR_PER_MIN: '2' },
  });
  const browser = await launchBrowser(t, chromium);
  const other = await nodeVisitor(t, stack);
  const queued = await other.requestCall('audio');
  const { page, errors } = await openVisitor(t, browser, stack);
  const call = async () => {
    await page.getByRole('radio', { name: 'Audio only' }).check();
    await page.getByRole('button', { name: 'Call', exact: true }).click();
    await page.getByRole('button', { name: 'Start call' }).click();
  };

  await call(); // the visitor's first call request: the queue is full
  await page.getByRole('heading', { name: 'The line is full' }).waitFor();
  await page.getByText('Too many callers are waiting right now.', { exact: false }).waitFor();
  await checkA11y(t, page, 'queue full');
  await screenshot(page, 'visitor-queue-full');
  await page.getByRole('button', { name: 'Try again' }).click();

  await other.cancelCall(queued.callId);
  await call(); // the second: a place is free
  await page.getByRole('heading', { name: 'Waiting for an agent' }).waitFor();
  await page.getByRole('button', { name: 'Cancel' }).click();

  await call(); // the third in a minute, one past CALL_REQUESTS_PER_VISITOR_PER_MIN
  await page.getByRole('heading', { name: 'Too many calls in a short while' }).waitFor();
  await page.getByText('Please wait a minute, then try again.').waitFor();
  await checkA11y(t, page, 'rate limited');
  await screenshot(page, 'visitor-rate-limited');
  await page.getByRole('button', { name: 'Try again' }).click();
  await page.getByRole('button', { name: 'Call', exact: true }).waitFor();
  t.same(errors, [], 'no console error');
});
