/**
 * A visitor whose name and purpose are markup, in Chromium against both real servers: the
 * dashboard shows them as literal text in the queue, the ringing dialog and History, and no
 * script of theirs runs (no `window.__pwned`, no element built from them). The pages render
 * through Preact's text nodes only (issue 11: every page renders visitors' text as text).
 */
import type { Page } from 'playwright-core';
import t from 'tap';
import { agentsOf, openAgent, Visitor } from './agent-helpers.js';
import { chromiumOrSkip, launchBrowser, startStack } from './harness.js';

const NAME = '<img src=x onerror="window.__pwned=1">';
const PURPOSE =
  '<script>window.__pwned=2</script><b id="bold">bold</b>' +
  '<a href="javascript:window.__pwned=3">click</a><svg onload="window.__pwned=4"></svg>';
const RING_PURPOSE = '<iframe srcdoc="<script>parent.__pwned=5</script>"></iframe>';

/**
 * What the markup would have left behind had it been parsed, anywhere in the page: a run
 * script's flag, an element it names, an event handler or script URL in an attribute.
 */
async function traces(page: Page) {
  return page.evaluate(() => {
    const planted = [...document.querySelectorAll('*')].filter(
      (el) =>
        el.id === 'bold' ||
        (el.tagName === 'SCRIPT' && (el.textContent ?? '').includes('__pwned')) ||
        [...el.attributes].some(
          (a) =>
            a.name.startsWith('on') ||
            a.name === 'srcdoc' ||
            (a.name === 'src' && a.value === 'x') ||
            a.value.trim().toLowerCase().startsWith('javascript:'),
        ),
    );
    return {
      pwned: (window as { __pwned?: unknown }).__pwned,
      planted: planted.map((el) => el.outerHTML.slice(0, 80)),
    };
  });
}

const CLEAN = { pwned: undefined, planted: [] };

t.test("a visitor's markup shows as text and runs nowhere on the dashboard", async (t) => {
  const chromium = await chromiumOrSkip(t, 'agent-markup');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const { alice } = agentsOf(stack);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openAgent(t, browser, stack, alice);

  await t.test('in the queue: the name and purpose as literal text', async (t) => {
    const mallory = await Visitor.connect(t, stack, NAME);
    const { callId } = await mallory.client.requestCall('audio', { purpose: PURPOSE });
    const entry = page.getByRole('listitem').filter({ hasText: NAME });
    await entry.getByText(NAME, { exact: true }).waitFor();
    t.equal(await entry.getByText(PURPOSE, { exact: true }).count(), 1, 'the purpose, verbatim');
    t.equal(
      await page.getByRole('button', { name: `Accept call from ${NAME}` }).count(),
      1,
      'the accessible name holds the text too',
    );
    t.same(await traces(page), CLEAN, 'nothing was parsed or run');
    await mallory.client.cancelCall(callId);
    await page.getByText('No one is waiting').waitFor();
  });

  await t.test('ringing and in History: the same, text only', async (t) => {
    const caller = await Visitor.connect(t, stack, NAME);
    await caller.client.requestCall('video', { agentId: alice.id, purpose: RING_PURPOSE });
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    t.equal(
      await dialog.getByRole('heading').textContent(),
      `Incoming call from ${NAME}`,
      'the name in the ring, verbatim',
    );
    t.equal(await dialog.getByText(RING_PURPOSE).count(), 1, 'the purpose in the ring, verbatim');
    t.same(await traces(page), CLEAN, 'nothing was parsed or run');
    await dialog.getByRole('button', { name: 'Decline' }).click();
    await caller.next('call_declined');

    await page.getByRole('tab', { name: 'History' }).click();
    const row = page.getByRole('row').filter({ hasText: RING_PURPOSE });
    await row.waitFor();
    // The row's header cell is the name with the purpose under it.
    t.equal(
      await row.getByRole('rowheader').textContent(),
      `${NAME}${RING_PURPOSE}`,
      'the name and purpose in History, verbatim',
    );
    t.same(await traces(page), CLEAN, 'nothing was parsed or run');
  });

  t.same(errors, [], 'no console error');
});
