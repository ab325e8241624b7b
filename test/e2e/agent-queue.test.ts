/**
 * The dashboard with two agents and Node visitors, in Chromium against both real servers: the
 * team list follows statuses live, Today reads its figures again when a call finishes, a
 * queued caller shows with a ticking wait, two agents race to accept and the loser just sees
 * the entry go, and the finished call shows in History with its duration.
 */
import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import t from 'tap';
import { agentsOf, describeViolations, openAgent, Visitor } from './agent-helpers.js';
import {
  chromiumOrSkip,
  launchBrowser,
  screenshot,
  seriousViolations,
  startStack,
  until,
} from './harness.js';

/** The text of the figure labelled `label` on the Today tab. */
const figure = (page: Page, label: string) =>
  page.locator('.figure', { has: page.getByText(label, { exact: true }) }).locator('.figure-value');

t.test('team, today, the queue race and the history', async (t) => {
  const chromium = await chromiumOrSkip(t, 'agent-queue');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const { alice, bob } = agentsOf(stack);
  const browser = await launchBrowser(t, chromium);
  const a = await openAgent(t, browser, stack, alice);
  const b = await openAgent(t, browser, stack, bob);

  await t.test('the team list follows a colleague live, in words', async (t) => {
    await a.page.getByRole('tab', { name: 'Team' }).click();
    const team = a.page.getByRole('list', { name: 'Your team' });
    const bobRow = team.getByRole('listitem').filter({ hasText: bob.name });
    await bobRow.getByText('Online').waitFor();
    await b.page.getByLabel('Status').selectOption('away');
    await bobRow.getByText('Away').waitFor();
    await b.page.getByLabel('Status').selectOption('online');
    await bobRow.getByText('Online').waitFor();
    t.pass('Bob online, away, online again on Alice’s screen');

    // Bob signed in after Alice; Alice was already there when Bob connected.
    await b.page.getByRole('tab', { name: 'Team' }).click();
    const bobsTeam = b.page.getByRole('list', { name: 'Your team' });
    await bobsTeam
      .getByRole('listitem')
      .filter({ hasText: alice.name })
      .getByText('Online')
      .waitFor();
    t.pass('a colleague already signed in is listed at once');
    await b.page.getByRole('tab', { name: /Queue/ }).click();
  });

  await t.test('Today is read again when a call finishes, with no polling', async (t) => {
    await a.page.getByRole('tab', { name: 'Today' }).click();
    await until(
      'offered 0',
      () => figure(a.page, 'Offered').textContent(),
      (v) => v === '0',
    );
    const nina = await Visitor.connect(t, stack, 'Nina');
    const { callId } = await nina.client.requestCall('audio');
    await nina.client.cancelCall(callId);
    await until(
      'abandoned 1',
      () => figure(a.page, 'Abandoned').textContent(),
      (v) => v === '1',
    );
    t.equal(await figure(a.page, 'Offered').textContent(), '1');
    t.same(await seriousViolations(a.page), [], 'no serious axe violation on Today');
    await screenshot(a.page, 'agent-today');
    await a.page.getByRole('tab', { name: /Queue/ }).click();
  });

  let winner: typeof a | undefined;
  let loser: typeof a | undefined;
  const vera = await Visitor.connect(t, stack, 'Vera');

  await t.test('a queued caller shows with name, purpose and a ticking wait', async (t) => {
    await vera.client.requestCall('video', { purpose: 'My e-bike battery will not charge' });
    for (const { page } of [a, b]) {
      const entry = page.getByRole('listitem').filter({ hasText: 'Vera' });
      await entry.getByText('My e-bike battery will not charge').waitFor();
      t.ok(await entry.getByText('Video call').isVisible(), 'the call type');
      const wait = entry.getByText(/^Waiting \d+:\d\d$/);
      const first = await wait.textContent();
      await until(
        'the wait ticks',
        () => wait.textContent(),
        (text) => text !== first,
      );
    }
    t.same(await seriousViolations(a.page), [], 'no serious axe violation on the queue');
    await screenshot(a.page, 'agent-queue');
  });

  await t.test('two agents race to accept: one call view, one vanished entry', async (t) => {
    const accept = (page: Page) =>
      page
        .getByRole('button', { name: 'Accept call from Vera' })
        .click({ timeout: 5_000 })
        .catch(() => undefined); // the entry may already be gone: that is losing too
    await Promise.all([accept(a.page), accept(b.page)]);
    const callView = (page: Page) => page.getByRole('region', { name: 'In a call with Vera' });
    await until(
      'one agent in the call',
      async () => [await callView(a.page).count(), await callView(b.page).count()],
      ([x, y]) => x + y === 1,
    );
    [winner, loser] = (await callView(a.page).count()) === 1 ? [a, b] : [b, a];
    await loser.page.getByText('No one is waiting').waitFor();
    t.equal(await loser.page.getByRole('alert').count(), 0, 'no error for the loser');
    t.equal(await loser.page.locator('.notice-bad').count(), 0, 'no error notice either');
    t.equal(await callView(loser.page).count(), 0, 'the loser is not in a call');
    await vera.next('call_started');
  });

  await t.test('the finished call shows in History with its duration', async (t) => {
    if (winner === undefined) return t.fail('nobody won the race');
    const { page } = winner;
    await until(
      'a second of call time',
      () =>
        page
          .getByText(/^\d+:\d\d$/)
          .first()
          .textContent(),
      (v) => v !== '0:00',
    );
    await page.getByRole('button', { name: 'Hang up' }).click();
    await page
      .getByRole('main')
      .getByText(/The call with Vera ended after \d+:\d\d/)
      .waitFor();
    const { callId } = await vera.next('call_ended');
    // The rating route answers call_not_ended until the call log has the final row.
    await until(
      'the rating stored',
      async () =>
        (
          await fetch(`${stack.web}/api/calls/${callId}/rating`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              authorization: `Bearer ${vera.token}`,
            },
            body: JSON.stringify({ stars: 4, comment: 'Sorted it out fast' }),
          })
        ).status,
      (status) => status === 201,
    );
    await page.getByRole('tab', { name: 'History' }).click();
    const row = page.getByRole('row').filter({ hasText: 'Vera' });
    await row.waitFor();
    t.ok(await row.getByText('Ended').isVisible(), 'state Ended');
    t.match(await row.textContent(), /0:0[1-9]|0:[1-5]\d/, 'a duration of some seconds');
    t.ok(await row.getByText('My e-bike battery will not charge').isVisible(), 'the purpose');
    t.ok(await row.getByRole('img', { name: '4 of 5' }).isVisible(), 'the rating');
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const csvPath = await download.path();
    const csv = await readFile(csvPath, 'utf8');
    t.match(csv, /Vera/, 'the export has the call');
    t.match(csv, /Sorted it out fast/, 'and its rating comment');
    const violations = await seriousViolations(page);
    t.same(violations, [], `no serious axe violation on History ${describeViolations(violations)}`);
    await screenshot(page, 'agent-history');
  });

  t.same(a.errors, [], 'Alice: no console error');
  t.same(b.errors, [], 'Bob: no console error');
});
