/**
 * Revocation as the dashboard lives it, in Chromium against both real servers, each change made
 * by the real admin CLI in its own process: a disabled agent lands on the login form with a
 * plain message within seconds, and a demoted admin's dashboard carries on as an agent's, its
 * admin-only filter gone, without logging in again.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { agentsOf, openAgent } from './agent-helpers.js';
import { chromiumOrSkip, launchBrowser, screenshot, startStack, type Stack } from './harness.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** "Within a few seconds": the servers close within one; the page's refresh and render follow. */
const SIGNED_OUT_MS = 5000;

/** Runs `npm run admin -- <args>`'s script on the stack's database; resolves with its exit. */
function admin(stack: Stack, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', import.meta.resolve('tsx'), join(ROOT, 'scripts', 'admin.ts'), ...args],
      {
        // The database's folder: no stray .env is read.
        cwd: dirname(stack.databasePath),
        env: { PATH: process.env['PATH'] ?? '', DATABASE_URL: `sqlite:${stack.databasePath}` },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += String(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (output += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

t.test('revoked access signs the agent out; a demoted admin carries on', async (t) => {
  const chromium = await chromiumOrSkip(t, 'agent-revoked');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const { alice, bob } = agentsOf(stack);
  const browser = await launchBrowser(t, chromium, { grantMedia: false });

  await t.test('disable-agent: the sign-in screen with a plain message', async (t) => {
    const { page, errors } = await openAgent(t, browser, stack, bob);
    const run = await admin(stack, ['disable-agent', stack.companyId, bob.email]);
    t.equal(run.code, 0, run.output);
    const changed = performance.now();
    await page
      .getByText('You were signed out: your access changed. Please log in again.')
      .waitFor({ timeout: SIGNED_OUT_MS });
    t.comment(`signed out ${Math.round(performance.now() - changed)} ms after the CLI exited`);
    t.ok(await page.getByRole('button', { name: 'Log in' }).isVisible(), 'the login form');
    await screenshot(page, 'agent-revoked');
    t.equal(await page.getByRole('tab', { name: /Queue/ }).count(), 0, 'no dashboard left');
    t.same(errors, [], 'no page errors');
  });

  await t.test('set-role agent: the dashboard stays, the admin filter goes', async (t) => {
    const { page, errors } = await openAgent(t, browser, stack, alice);
    await page.getByRole('tab', { name: /History/ }).click();
    const agentFilter = page.getByLabel('Agent', { exact: true });
    await agentFilter.waitFor();
    const run = await admin(stack, ['set-role', stack.companyId, alice.email, 'agent']);
    t.equal(run.code, 0, run.output);
    await agentFilter.waitFor({ state: 'detached', timeout: SIGNED_OUT_MS });
    t.pass('the admin-only agent filter is gone');
    await page.getByText('Connecting…').waitFor({ state: 'detached' });
    t.ok(await page.getByRole('tab', { name: /History/ }).isVisible(), 'still on the dashboard');
    t.equal(await page.getByRole('button', { name: 'Log in' }).count(), 0, 'not signed out');
    const role = await page.evaluate(
      () =>
        (
          JSON.parse(sessionStorage.getItem('calldocker.agent.auth') ?? '{}') as {
            agent?: { role?: string };
          }
        ).agent?.role,
    );
    t.equal(role, 'agent', 'the session holds the new role');
    t.same(errors, [], 'no page errors');
  });
});
