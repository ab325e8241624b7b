/**
 * Rings on the dashboard, in Chromium against both real servers: with the tab hidden a system
 * notification is shown and the title blinks; the dialog counts down, takes focus and gives it
 * back; Decline tells the visitor; Accept with the test call page as the visitor brings the
 * call view with video frames decoded (read from getStats, not from the page).
 */
import type { BrowserContext } from 'playwright-core';
import t from 'tap';
import { serveCallPage } from '../browser/call-page-server.js';
import { agentsOf, describeViolations, openAgent, Visitor } from './agent-helpers.js';
import {
  chromiumOrSkip,
  framesFlowing,
  launchBrowser,
  newPage,
  recordPeerConnections,
  screenshot,
  seriousViolations,
  startStack,
  until,
} from './harness.js';

/**
 * Lets the test hide the page: headless Chromium reports every page visible whatever is in
 * front (a page brought forward, a popup, a minimised window all leave `visible`), so the
 * test stands in for the browser here and `window.__setHidden(true)` sets `visibilityState`
 * and fires `visibilitychange`, as the browser does when a tab goes to the background.
 */
async function emulateVisibility(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    let hidden = false;
    Object.defineProperty(Document.prototype, 'visibilityState', {
      configurable: true,
      get: () => (hidden ? 'hidden' : 'visible'),
    });
    Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
    (window as unknown as { __setHidden: (on: boolean) => void }).__setHidden = (on) => {
      hidden = on;
      document.dispatchEvent(new Event('visibilitychange'));
    };
  });
}

/** Records every `new Notification(title, options)` the page makes, on `window.__notes`. */
async function recordNotifications(context: BrowserContext): Promise<void> {
  await context.addInitScript(() => {
    const Native = window.Notification;
    const notes: Array<{ title: string; body?: string }> = [];
    (window as unknown as { __notes: typeof notes }).__notes = notes;
    window.Notification = class extends Native {
      constructor(title: string, options?: NotificationOptions) {
        super(title, options);
        notes.push({ title, ...(options?.body === undefined ? {} : { body: options.body }) });
      }
    } as typeof Notification;
  });
}

t.test('rings: hidden tab, dialog, decline, and accept with media', async (t) => {
  const chromium = await chromiumOrSkip(t, 'agent-ringing');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const { bob } = agentsOf(stack);
  const browser = await launchBrowser(t, chromium);
  const agent = await openAgent(t, browser, stack, bob, {}, async (context) => {
    await context.grantPermissions(['notifications'], { origin: stack.web });
    await recordNotifications(context);
    await emulateVisibility(context);
    await recordPeerConnections(context);
  });
  const { page } = agent;
  await page.getByText('Notifications are on.').waitFor();

  await t.test('a ring in a hidden tab: a system notification and a blinking title', async (t) => {
    const setHidden = (on: boolean) =>
      page.evaluate(
        (h) => (window as unknown as { __setHidden(h: boolean): void }).__setHidden(h),
        on,
      );
    await setHidden(true);
    await until(
      'the dashboard hidden',
      () => page.evaluate(() => document.visibilityState),
      (v) => v === 'hidden',
    );
    const rest = await page.title();
    const nina = await Visitor.connect(t, stack, 'Nina');
    const { callId } = await nina.client.requestCall('audio', {
      agentId: bob.id,
      purpose: 'Order 1234',
    });
    const notes = await until(
      'a notification',
      () => page.evaluate(() => (window as unknown as { __notes: unknown[] }).__notes),
      (n) => n.length > 0,
    );
    t.same(notes, [{ title: 'Call from Nina', body: 'Order 1234' }], 'who and why');
    await until(
      'the title blinks',
      () => page.title(),
      (title) => title === '☎ Nina is calling',
    );
    await until(
      'and blinks back',
      () => page.title(),
      (title) => title === rest,
    );
    await nina.client.cancelCall(callId);
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    t.equal(await page.title(), rest, 'the title rests once the caller hung up');
    await setHidden(false);
  });

  const focusedName = () => page.evaluate(() => document.activeElement?.textContent?.trim() ?? '');

  await t.test('the dialog counts down, takes focus, and Decline tells the visitor', async (t) => {
    await page.getByLabel('Status').focus();
    const vera = await Visitor.connect(t, stack, 'Vera');
    await vera.client.requestCall('video', { agentId: bob.id, purpose: 'Warranty question' });
    const dialog = page.getByRole('dialog', { name: 'Incoming call from Vera' });
    await dialog.waitFor();
    t.ok(await dialog.getByText('Warranty question').isVisible(), 'the purpose');
    // The dialog takes focus in an effect, after it is drawn: wait for it.
    await until('focus on Accept', focusedName, (name) => name === 'Accept');
    t.pass('focus on Accept');
    const countdown = dialog.getByText(/^Rings out in \d+ s$/);
    const first = await countdown.textContent();
    await until(
      'the countdown ticks',
      () => countdown.textContent(),
      (v) => v !== first,
    );
    const violations = await seriousViolations(page);
    t.same(
      violations,
      [],
      `no serious axe violation while ringing ${describeViolations(violations)}`,
    );
    await screenshot(page, 'agent-ringing');
    await dialog.getByRole('button', { name: 'Decline' }).click();
    await vera.next('call_declined');
    await dialog.waitFor({ state: 'detached' });
    // Focus goes back on the frame after the dialog leaves, when the page is no longer inert.
    await until(
      'focus back on the status picker',
      () => page.evaluate(() => document.activeElement?.id),
      (id) => id === 'agent-status',
    );
    t.pass('focus back where it was');
  });

  await t.test('Accept brings the call view with frames flowing', async (t) => {
    const origin = await serveCallPage(t);
    const res = await fetch(`${stack.web}/api/visitor-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ companyId: stack.companyId, name: 'Walter' }),
    });
    const { token } = (await res.json()) as { token: string };
    const visitor = await newPage(t, browser);
    const query = new URLSearchParams({
      signal: stack.signaling,
      token,
      role: 'visitor',
      agentId: bob.id,
      purpose: 'Frame is cracked',
    });
    await visitor.page.goto(`${origin}/call.html?${query}`);
    const dialog = page.getByRole('dialog', { name: 'Incoming call from Walter' });
    await dialog.getByRole('button', { name: 'Accept' }).click();
    const view = page.getByRole('region', { name: 'In a call with Walter' });
    await view.waitFor();
    t.ok(await view.getByText('Frame is cracked').isVisible(), 'the purpose under the name');
    t.ok((await framesFlowing(page)) > 0, 'video frames decoded on the agent’s side');
    const violations = await seriousViolations(page);
    t.same(
      violations,
      [],
      `no serious axe violation in the call ${describeViolations(violations)}`,
    );
    await screenshot(page, 'agent-in-call');
    await view.getByRole('button', { name: 'Hang up' }).click();
    await view.waitFor({ state: 'detached' });
    const startError = await visitor.page.evaluate(
      () =>
        (window as unknown as { __calldocker?: { startError?: unknown } }).__calldocker?.startError,
    );
    t.equal(startError, undefined, 'the visitor had camera and microphone');
  });

  t.same(agent.errors, [], 'no console error on the dashboard');
});
