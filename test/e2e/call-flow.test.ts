/**
 * The product end to end, as people use it: the visitor's call page and the agent's dashboard,
 * each in its own Chromium context, against both real servers. Controls are found by role and
 * name only; media is checked by getStats() on both pages, never by what a page says.
 *
 * One visitor and one agent go through, in order: a call to any agent answered from the queue
 * with video both ways, chat each way, Mute seen on the other side and a screen share that keeps
 * frames flowing; a reload of each page mid-call that resumes it; a hang-up from each side; a
 * rating that the agent's History and Today then show; a named agent who declines, and the
 * visitor calling again.
 */
import type { Page } from 'playwright-core';
import t from 'tap';
import { openAgent } from './agent-helpers.js';
import {
  chromiumOrSkip,
  framesFlowing,
  launchBrowser,
  recordPeerConnections,
  startStack,
  until,
} from './harness.js';
import { openVisitor } from './visitor-helpers.js';

/** Fills the start form and goes through the device check; the call is then placed. */
async function placeCall(page: Page, options: { agent?: string } = {}): Promise<void> {
  if (options.agent !== undefined) {
    await page.getByRole('radio', { name: new RegExp(`^${options.agent}`) }).check();
  }
  await page.getByRole('button', { name: 'Call', exact: true }).click();
  await page.getByRole('button', { name: 'Start call' }).click();
}

/** The text of the figure labelled `label` on the dashboard's Today tab. */
const figure = (page: Page, label: string) =>
  page.locator('.figure', { has: page.getByText(label, { exact: true }) }).locator('.figure-value');

t.test('a visitor and an agent, each on their real page, through a whole day', async (t) => {
  const chromium = await chromiumOrSkip(t, 'call-flow');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const alice = stack.agents[0]!;
  const browser = await launchBrowser(t, chromium);
  const agent = await openAgent(t, browser, stack, alice, {}, recordPeerConnections);
  const visitor = await openVisitor(t, browser, stack);
  const v = visitor.page;
  const a = agent.page;

  await t.test('1. a call to any agent: video both ways, chat, mute, screen', async (t) => {
    await v.getByLabel('Your name (optional)').fill('Vera');
    await v.getByLabel('What is it about? (optional)').fill('A flat tyre');
    await placeCall(v);
    await a.getByRole('button', { name: /Accept call from Vera/ }).click();
    await v.getByRole('heading', { name: alice.name }).waitFor();
    await a.getByRole('heading', { name: 'Vera' }).waitFor();
    await Promise.all([framesFlowing(v), framesFlowing(a)]);
    t.pass('frames decoded grow on both pages');

    await v.getByRole('button', { name: 'Chat', exact: true }).click();
    await v.getByRole('textbox', { name: 'Message' }).fill('Hello from Vera');
    await v.getByRole('button', { name: 'Send' }).click();
    await a.getByRole('button', { name: 'Chat 1 unread' }).click();
    await a.getByRole('log').getByText('Hello from Vera').waitFor();
    await a.getByRole('textbox', { name: 'Message' }).fill('Hello Vera, Alice here');
    await a.getByRole('button', { name: 'Send' }).click();
    await v.getByRole('log').getByText('Hello Vera, Alice here').waitFor();
    t.pass('a chat message each way');

    await v.getByRole('button', { name: 'Mute' }).click();
    await a.getByText('Vera is muted').waitFor();
    await v.getByRole('button', { name: 'Mute' }).click();
    await a.getByText('Vera is muted').waitFor({ state: 'detached' });
    t.pass("the visitor's Mute shows on the agent's page, and its end too");

    await v.getByRole('button', { name: 'Share screen' }).click();
    await a.getByText('Vera is sharing their screen').waitFor();
    await framesFlowing(a);
    t.pass('frames keep flowing to the agent while the visitor shares the screen');
    await v.getByRole('button', { name: 'Share screen' }).click();
    await a.getByText('Vera is sharing their screen').waitFor({ state: 'detached' });
  });

  await t.test('4. the visitor reloads mid-call, then the agent: the call resumes', async (t) => {
    await v.reload();
    await v.getByRole('heading', { name: alice.name }).waitFor();
    await Promise.all([framesFlowing(v), framesFlowing(a)]);
    t.pass("after the visitor's reload, frames flow both ways again");
    await a.reload();
    await a.getByRole('heading', { name: 'Vera' }).waitFor();
    await Promise.all([framesFlowing(v), framesFlowing(a)]);
    t.pass("after the agent's reload, frames flow both ways again");
  });

  await t.test(
    '5. a hang-up from each side ends both views; ratings reach the agent',
    async (t) => {
      await until(
        'a second of call time',
        () =>
          v
            .getByText(/^\d+:\d\d$/)
            .first()
            .textContent(),
        (text) => text !== '0:00',
      );
      await a.getByRole('button', { name: 'Hang up' }).click();
      await v.getByRole('heading', { name: 'Call ended' }).waitFor();
      await a.getByRole('heading', { name: 'Vera' }).waitFor({ state: 'detached' });
      t.pass("the agent's hang-up ends both views");
      await v.getByRole('radio', { name: '5 stars' }).check({ force: true });
      await v.getByLabel('Comment (optional)').fill('Fixed in no time');
      await v.getByRole('button', { name: 'Send rating' }).click();
      await v.getByText('Thank you for your rating').waitFor();

      await v.getByRole('button', { name: 'Call again' }).click();
      await placeCall(v);
      await a.getByRole('button', { name: /Accept call from Vera/ }).click();
      await v.getByRole('heading', { name: alice.name }).waitFor();
      await framesFlowing(v);
      await v.getByRole('button', { name: 'Hang up' }).click();
      await v.getByRole('heading', { name: 'Call ended' }).waitFor();
      await a.getByRole('heading', { name: 'Vera' }).waitFor({ state: 'detached' });
      t.pass("the visitor's hang-up ends both views");

      await a.getByRole('tab', { name: 'History' }).click();
      const rows = a.getByRole('row').filter({ hasText: 'Vera' });
      await until(
        'both calls listed',
        () => rows.count(),
        (n) => n === 2,
      );
      const rated = rows.filter({ has: a.getByRole('img', { name: '5 of 5' }) });
      await rated.waitFor();
      t.match(await rated.textContent(), /Ended/, 'the rated call ended');
      t.match(await rated.textContent(), /\d+:\d\d/, 'with its duration');

      await a.getByRole('tab', { name: 'Today' }).click();
      await until(
        'Today counts both',
        () => figure(a, 'Answered').textContent(),
        (n) => n === '2',
      );
      t.equal(await figure(a, 'Offered').textContent(), '2', 'offered 2');
      t.match(await a.getByText('Average rating').locator('..').textContent(), /5/, 'rating 5');
    },
  );

  await t.test('2. a named agent declines; the visitor sees it and calls again', async (t) => {
    await v.getByRole('button', { name: 'Call again' }).click();
    await placeCall(v, { agent: alice.name });
    await v.getByText(`Ringing ${alice.name}…`).waitFor();
    const ring = a.getByRole('dialog');
    await ring.getByRole('button', { name: 'Decline' }).click();
    await v.getByRole('heading', { name: 'The agent could not take your call' }).waitFor();
    await v.getByRole('button', { name: 'Try again' }).click();
    await placeCall(v, { agent: alice.name });
    await ring.getByRole('button', { name: 'Accept' }).click();
    await v.getByRole('heading', { name: alice.name }).waitFor();
    t.pass('the second try is answered');
    await a.getByRole('button', { name: 'Hang up' }).click();
    await v.getByRole('heading', { name: 'Call ended' }).waitFor();
  });

  t.same(visitor.errors, [], "no console error on the visitor's page");
  t.same(agent.errors, [], "no console error on the agent's page");
});
