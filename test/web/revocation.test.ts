/**
 * Revocation on the web host: each change is made through the data layer the admin CLI uses, on
 * a second connection to the host's SQLite file (as the CLI's own process would). Within a second
 * every bearer route refuses the old token with 401 `token_revoked` saying why, and a refresh
 * refuses it too, except after a role change, where it issues a token with the new role.
 */
import t, { type Test } from 'tap';
import {
  resetPassword,
  setAgentDisabled,
  setAgentRole,
  setCompanyDisabled,
} from '../../db/access.js';
import { openDatabase } from '../../db/database.js';
import { until } from '../helpers.js';
import { refresh, setup, visitorToken, type App } from './accounts.js';
import { bearer, claimsOf, errorOf, PASSWORD, tokenOf, type Teardown } from './helpers.js';

/** The promise: a change reaches every route within this long. */
const WITHIN_MS = 1000;

/** The host (with its own access guard, as `buildWebApp` makes it) and a second connection. */
async function revocable(t: Teardown) {
  const host = await setup(t);
  const other = openDatabase(host.database.config);
  t.teardown(() => other.close());
  return { ...host, db: other.db };
}

/** Every route that takes a staff token. */
const STAFF_ROUTES = ['/api/calls', '/api/calls/stats', '/api/calls/export.csv'];

/** Each of {@link STAFF_ROUTES} with `token`. */
const staffRoutes = (app: App, token: string) =>
  Promise.all(
    STAFF_ROUTES.map((url) => app.inject({ method: 'GET', url, headers: bearer(token) })),
  );

/**
 * Makes `change`, then waits until `GET /api/calls` refuses `token`; resolves with how long that
 * took after the change committed.
 */
async function refusedAfter(app: App, token: string, change: () => Promise<unknown>) {
  const get = () => app.inject({ method: 'GET', url: '/api/calls', headers: bearer(token) });
  if ((await get()).statusCode !== 200) throw new Error('the token was refused before');
  await change();
  const committed = performance.now();
  await until(async () => (await get()).statusCode === 401, WITHIN_MS * 2);
  return Math.round(performance.now() - committed);
}

/** Asserts every staff route answers 401 `token_revoked: why`. */
async function allRefused(t: Test, app: App, token: string, why: string) {
  for (const [i, res] of (await staffRoutes(app, token)).entries()) {
    t.equal(res.statusCode, 401, STAFF_ROUTES[i]);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'token_revoked' });
    t.equal(res.json().message, `token revoked: ${why}`);
    t.match(res.headers['www-authenticate'], /^Bearer/);
  }
}

t.test('a password reset: every route and refresh refuse the old token', async (t) => {
  const { app, db, alice, ada } = await revocable(t);
  const old = tokenOf(alice);
  const ms = await refusedAfter(app, old, () =>
    resetPassword(db, 'acme', alice.email, 'new-password-1'),
  );
  t.ok(ms < WITHIN_MS, `refused ${ms} ms after the reset`);
  await allRefused(t, app, old, 'credentials changed');
  const renewed = await refresh(app, bearer(old));
  t.equal(renewed.statusCode, 401);
  t.equal(renewed.json().error, 'token_revoked', 'a refresh does not renew it');
  const colleague = await staffRoutes(app, tokenOf(ada));
  t.same(
    colleague.map((r) => r.statusCode),
    [200, 200, 200],
    'a colleague is untouched',
  );

  const login = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { companyId: 'acme', email: alice.email, password: 'new-password-1' },
  });
  t.equal(login.statusCode, 200);
  t.equal(claimsOf(login.json().token).ver, 1, 'login issues the current version');
  t.same(
    (await staffRoutes(app, login.json().token)).map((r) => r.statusCode),
    [200, 200, 200],
    'and its token works',
  );
});

t.test('a disabled agent is refused; enabled again, only a new login works', async (t) => {
  const { app, db, alice } = await revocable(t);
  const old = tokenOf(alice);
  const ms = await refusedAfter(app, old, () => setAgentDisabled(db, 'acme', alice.email, true));
  t.ok(ms < WITHIN_MS, `refused ${ms} ms after disable-agent`);
  await allRefused(t, app, old, 'account disabled');
  t.equal((await refresh(app, bearer(old))).json().message, 'token revoked: account disabled');

  // A refusal is always read afresh: enabled again counts at once, not a poll later.
  await setAgentDisabled(db, 'acme', alice.email, false);
  await allRefused(t, app, old, 'credentials changed');
  t.equal((await refresh(app, bearer(old))).json().error, 'token_revoked');
  const again = await app.inject({
    method: 'POST',
    url: '/api/auth/login',
    payload: { companyId: 'acme', email: alice.email, password: PASSWORD },
  });
  t.equal(again.statusCode, 200, 'enabled: the agent logs in');
  t.equal((await refresh(app, bearer(again.json().token))).statusCode, 200, 'and refreshes');
});

t.test(
  'a disabled company refuses its staff and visitors; enabled, the same tokens work',
  async (t) => {
    const { app, db, ada, globexAlice } = await revocable(t);
    const admin = tokenOf(ada);
    const visitor = (await visitorToken(app, { companyId: 'acme' })).json().token as string;
    const rate = () =>
      app.inject({
        method: 'POST',
        url: '/api/calls/00000000-0000-7000-8000-000000000001/rating',
        headers: bearer(visitor),
        payload: { stars: 5 },
      });
    t.equal((await rate()).statusCode, 404, 'before: the rating route looks for the call');
    const ms = await refusedAfter(app, admin, () => setCompanyDisabled(db, 'acme', true));
    t.ok(ms < WITHIN_MS, `refused ${ms} ms after disable-company`);
    await allRefused(t, app, admin, 'company disabled');
    const rated = await rate();
    t.equal(rated.statusCode, 401, 'the visitor rating route');
    t.same(errorOf(rated.body), { keys: ['error', 'message'], error: 'token_revoked' });
    t.equal(rated.json().message, 'token revoked: company disabled');
    for (const token of [admin, visitor]) {
      t.equal((await refresh(app, bearer(token))).json().error, 'token_revoked', 'no refresh');
    }
    t.same(
      (await staffRoutes(app, tokenOf(globexAlice))).map((r) => r.statusCode),
      [200, 200, 200],
      'another company is untouched',
    );

    await setCompanyDisabled(db, 'acme', false);
    t.equal((await rate()).statusCode, 404, 'enabled again: at once');
    t.same(
      (await staffRoutes(app, admin)).map((r) => r.statusCode),
      [200, 200, 200],
      'enabled again: the same tokens work',
    );
  },
);

t.test('a demoted admin is refused as admin; refresh issues an agent token', async (t) => {
  const { app, db, ada } = await revocable(t);
  const old = tokenOf(ada);
  const ms = await refusedAfter(app, old, () => setAgentRole(db, 'acme', ada.email, 'agent'));
  t.ok(ms < WITHIN_MS, `refused ${ms} ms after set-role`);
  await allRefused(t, app, old, 'role changed');
  const renewed = await refresh(app, bearer(old));
  t.equal(renewed.statusCode, 200, 'a refresh mends a changed role');
  const claims = claimsOf(renewed.json().token);
  t.match(claims, { sub: ada.id, role: 'agent', ver: 0 }, 'with the role as it is now');
  const asAgent = await staffRoutes(app, renewed.json().token);
  t.same(
    asAgent.map((r) => r.statusCode),
    [200, 200, 200],
    'the new token works',
  );
  const others = await app.inject({
    method: 'GET',
    url: `/api/calls?agentId=someone-else`,
    headers: bearer(renewed.json().token),
  });
  t.equal(others.statusCode, 403, "and no longer sees others' calls");
});
