/**
 * The dashboard's login and session, in Chromium against both real servers: every refusal says
 * what it is (wrong password, locked account, disabled company), a stale or refused token in
 * the tab lands on the login with a message, and the chosen status survives a reload.
 */
import t from 'tap';
import { setCompanyDisabled } from '../../db/access.js';
import { openDatabase } from '../../db/database.js';
import { parseDatabaseUrl } from '../../config/config.js';
import { agentsOf, fillLogin, Visitor } from './agent-helpers.js';
import {
  chromiumOrSkip,
  launchBrowser,
  newPage,
  screenshot,
  seriousViolations,
  startStack,
  until,
} from './harness.js';

/** An unsigned-looking JWT with `exp` (seconds): enough for the page, refused by the server. */
function fakeToken(exp: number): string {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'x', exp })}.${'A'.repeat(43)}`;
}

t.test('login, lockout, a disabled company, stale tokens and the status', async (t) => {
  const chromium = await chromiumOrSkip(t, 'agent-login');
  if (chromium === undefined) return;
  const stack = await startStack(t);
  const { alice, bob } = agentsOf(stack);
  const browser = await launchBrowser(t, chromium, { grantMedia: false });
  const { page, errors } = await newPage(t, browser);
  await page.goto(`${stack.web}/agent`);

  t.equal(await page.getByLabel('Company').inputValue(), 'demo', 'the demo company by default');
  t.same(await seriousViolations(page), [], 'no serious axe violation on the login form');
  await screenshot(page, 'agent-login');

  await t.test('a wrong password says so and keeps the form', async (t) => {
    await fillLogin(page, stack.companyId, alice.email, 'not-her-password');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    t.match(await alert.textContent(), /email or password is not right/);
    t.equal(await page.getByLabel('Password').inputValue(), '', 'the password is cleared');
  });

  await t.test('a locked account says when to try again', async (t) => {
    // docs/API.md: 5 failed attempts per account in 15 minutes, then 429 until they are over.
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${stack.web}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ companyId: stack.companyId, email: bob.email, password: 'nope' }),
      });
      t.equal(res.status, 401);
    }
    await fillLogin(page, stack.companyId, bob.email, bob.password);
    await until(
      'the lockout message',
      () => page.getByRole('alert').textContent(),
      (text) => /Too many attempts/.test(text ?? ''),
    );
    t.match(await page.getByRole('alert').textContent(), /try again in 1[45] minutes/);
  });

  await t.test('a disabled company is told apart only with the right password', async (t) => {
    const database = openDatabase(parseDatabaseUrl(`sqlite:${stack.databasePath}`));
    t.teardown(() => database.close());
    await setCompanyDisabled(database.db, stack.companyId, true);
    await fillLogin(page, stack.companyId, alice.email, alice.password);
    await until(
      'the disabled message',
      () => page.getByRole('alert').textContent(),
      (text) => /company’s account is disabled/.test(text ?? ''),
    );
    await setCompanyDisabled(database.db, stack.companyId, false);
    t.pass('disabled company message shown');
  });

  await t.test('a good login shows the dashboard; logging out comes back here', async (t) => {
    await fillLogin(page, stack.companyId, alice.email, alice.password);
    await page.getByRole('tab', { name: /Queue/, selected: true }).waitFor();
    t.ok(await page.getByLabel('Status').isVisible(), 'the Status control');
    t.ok(await page.getByText(alice.name).first().isVisible(), 'the agent name in the header');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    t.equal(await page.getByLabel('Company').inputValue(), 'acme', 'the company is remembered');
  });

  await t.test('an expired or refused token in the tab returns to the login', async (t) => {
    await fillLogin(page, stack.companyId, alice.email, alice.password);
    await page.getByRole('tab', { name: /Queue/ }).waitFor();
    const setToken = (token: string) =>
      page.evaluate((tok) => {
        const key = 'calldocker.agent.auth';
        const saved = JSON.parse(sessionStorage.getItem(key) ?? '{}') as { token: string };
        sessionStorage.setItem(key, JSON.stringify({ ...saved, token: tok }));
      }, token);

    await setToken(fakeToken(Math.floor(Date.now() / 1000) - 60));
    await page.reload();
    await page.getByText('Your session has expired').waitFor();
    t.ok(await page.getByRole('button', { name: 'Log in' }).isVisible(), 'expired: the login');

    await fillLogin(page, stack.companyId, alice.email, alice.password);
    await page.getByRole('tab', { name: /Queue/ }).waitFor();
    await setToken(fakeToken(Math.floor(Date.now() / 1000) + 3600));
    await page.reload();
    await page.getByText('Your session is no longer valid').waitFor();
    t.ok(await page.getByRole('button', { name: 'Log in' }).isVisible(), 'refused: the login');
  });

  await t.test('the chosen status survives a reload and a new tab', async (t) => {
    await fillLogin(page, stack.companyId, alice.email, alice.password);
    await page.getByRole('tab', { name: /Queue/ }).waitFor();
    const visitor = await Visitor.connect(t, stack, 'Watcher');
    const aliceStatus = () =>
      visitor.frames
        .filter((f) => f.type === 'agent_status_changed' && f['agentId'] === alice.id)
        .map((f) => f['status'])
        .at(-1);
    await page.getByLabel('Status').selectOption('away');
    await until(
      'Alice away',
      async () => aliceStatus(),
      (s) => s === 'away',
    );
    await page.reload();
    await page.getByRole('tab', { name: /Queue/ }).waitFor();
    t.equal(await page.getByLabel('Status').inputValue(), 'away', 'the control shows Away');
    const fresh = await Visitor.connect(t, stack, 'Newcomer');
    const list = await fresh.next('agent_list');
    t.equal(list.agents.find((a) => a.id === alice.id)?.status, 'away', 'the server agrees');

    // A reload may open the new connection before the old one is gone; closing the tab takes
    // Alice offline for sure, and a new tab must apply her choice again after connecting.
    const context = page.context();
    await page.close();
    await until(
      'Alice offline',
      async () => aliceStatus(),
      (s) => s === 'offline',
    );
    const second = await context.newPage();
    second.on('pageerror', (err) => errors.push(`pageerror: ${err.message}`));
    await second.goto(`${stack.web}/agent`);
    await fillLogin(second, stack.companyId, alice.email, alice.password);
    await second.getByRole('tab', { name: /Queue/ }).waitFor();
    t.equal(await second.getByLabel('Status').inputValue(), 'away', 'the new tab shows Away');
    await until(
      'Alice away again',
      async () => aliceStatus(),
      (s) => s === 'away',
    );
    t.pass('the server has Alice away again');
  });

  // The refusals above are the API answering 401/403/429 on purpose; Chromium logs each one.
  const unexpected = errors.filter((e) => !/status of (401|403|429)/.test(e));
  t.same(unexpected, [], 'no console error or uncaught exception');
});
