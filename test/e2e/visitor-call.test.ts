/**
 * A whole call from the visitor's page in Chromium, against the real servers, with the client
 * library's test page as the agent: the device check, the wait in the queue (announced), the
 * answer with video really flowing (getStats), Mute, Camera and Share screen reaching the agent
 * as media_state, chat both ways with the unread count, hang up, the duration and the rating.
 */
import t from 'tap';
import {
  chromiumOrSkip,
  framesFlowing,
  launchBrowser,
  screenshot,
  startStack,
  until,
} from './harness.js';
import { parseDatabaseUrl } from '../../config/config.js';
import { openDatabase } from '../../db/database.js';
import { checkA11y, openAgentPage, openVisitor } from './visitor-helpers.js';

/** The ratings stored in the stack's call log, read from its SQLite file. */
async function ratingsOf(stack: { databasePath: string }) {
  const database = openDatabase(parseDatabaseUrl(`sqlite:${stack.databasePath}`));
  try {
    return await database.db
      .selectFrom('calls')
      .select(['rating', 'rating_comment'])
      .where('rating', 'is not', null)
      .execute();
  } finally {
    await database.close();
  }
}

t.test('a visitor calls any agent, talks, chats, hangs up and rates', async (t) => {
  const chromium = await chromiumOrSkip(t, 'visitor-call');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const browser = await launchBrowser(t, chromium);
  const { page, errors } = await openVisitor(t, browser, stack);

  await page.getByLabel('Your name (optional)').fill('Vera Visitor');
  await page.getByLabel('What is it about? (optional)').fill('A flat tyre');
  await page.getByRole('button', { name: 'Call', exact: true }).click();

  // The device check: preview, level, and the stream it got is the one the call sends.
  await page.getByRole('heading', { name: 'Check your camera and microphone' }).waitFor();
  await page.getByRole('meter', { name: 'Microphone level' }).waitFor();
  await page.getByRole('combobox', { name: 'Camera' }).waitFor();
  await screenshot(page, 'visitor-device-check');
  await checkA11y(t, page, 'device check');
  await page.getByRole('button', { name: 'Start call' }).click();

  // Nobody is online: the call waits in the queue, and the place is announced.
  const status = page.locator('[aria-live="polite"]', { hasText: 'next in line' });
  await status.waitFor();
  await page.getByRole('button', { name: 'Cancel' }).waitFor();
  await screenshot(page, 'visitor-waiting');
  await checkA11y(t, page, 'waiting');

  const agent = await openAgentPage(t, browser, stack, stack.agents[1]!);
  await page.getByRole('heading', { name: 'Bob Agent' }).waitFor();
  await framesFlowing(page);
  t.pass('the agent video flows on the visitor page (frames decoded grow)');

  const mute = page.getByRole('button', { name: 'Mute' });
  const camera = page.getByRole('button', { name: 'Camera' });
  const share = page.getByRole('button', { name: 'Share screen' });
  t.equal(await mute.getAttribute('aria-pressed'), 'false');
  t.equal(await camera.getAttribute('aria-pressed'), 'true', 'camera on');
  await mute.click();
  t.equal(await mute.getAttribute('aria-pressed'), 'true', 'Mute keeps its name, pressed');
  await until('agent sees the visitor muted', agent.remoteMediaState, (m) => m?.audio === false);
  await camera.click();
  t.equal(await camera.getAttribute('aria-pressed'), 'false');
  await until('agent sees the camera off', agent.remoteMediaState, (m) => m?.video === false);
  await share.click();
  await until(
    'share pressed',
    () => share.getAttribute('aria-pressed'),
    (v) => v === 'true',
  );
  await until('agent sees the share', agent.remoteMediaState, (m) => m?.screen === true);
  await share.click();
  await until('agent sees the share end', agent.remoteMediaState, (m) => m?.screen === false);
  await camera.click();
  await mute.click();
  await until('agent sees audio back', agent.remoteMediaState, (m) => m?.audio === true);

  await page.getByText(/Connection: (Good|Fair|Poor)/).waitFor();
  await screenshot(page, 'visitor-in-call');
  await checkA11y(t, page, 'in call');

  // Chat: the agent writes while the panel is closed, the button counts it.
  await agent.sendChat('Hello, this is Bob');
  await page.getByRole('button', { name: 'Chat 1 unread' }).click();
  await page.getByRole('log').getByText('Hello, this is Bob').waitFor();
  await page.getByRole('textbox', { name: 'Message' }).fill('My tyre is flat');
  await page.getByRole('button', { name: 'Send' }).click();
  await until('agent got the chat', agent.chatReceived, (lines) =>
    lines.includes('My tyre is flat'),
  );
  await checkA11y(t, page, 'in call with chat');
  await page.getByRole('button', { name: 'Close chat' }).click();
  t.equal(await page.getByRole('button', { name: 'Chat', exact: true }).count(), 1);

  await page.getByRole('button', { name: 'Hang up' }).click();
  await page.getByRole('heading', { name: 'Call ended' }).waitFor();
  await page.getByText(/^Duration \d+:\d\d$/).waitFor();
  await page.getByRole('radio', { name: '4 stars' }).check({ force: true });
  await page.getByLabel('Comment (optional)').fill('Quick and kind');
  await screenshot(page, 'visitor-after-call');
  await checkA11y(t, page, 'after the call');
  await page.getByRole('button', { name: 'Send rating' }).click();
  await page.getByText('Thank you for your rating').waitFor();
  const stored = await until(
    'the rating is in the call log',
    () => ratingsOf(stack),
    (rows) => rows.length === 1,
  );
  t.same(stored, [{ rating: 4, rating_comment: 'Quick and kind' }], 'stored with the call');
  await page.getByRole('button', { name: 'Call again' }).click();
  await page.getByRole('button', { name: 'Call', exact: true }).waitFor();
  t.same(errors, [], 'no console error');
});
