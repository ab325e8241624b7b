/**
 * The upgrade's `Origin` check for visitor tokens: a browser page may use a token issued to its
 * own origin, or any token when it is one of the web host's own pages; any other page is closed
 * with 4001 `origin` before a WebSocket joins anything. Clients without `Origin` (not browsers)
 * and agent tokens are not checked. A token without the claim is held to its company's list.
 */
import t, { type Test } from 'tap';
import { createCompany } from '../../db/companies.js';
import { setAllowedOrigins } from '../../db/company-settings.js';
import { webOriginsFor } from '../../server/upgrade-origin.js';
import { openTestDatabase } from '../db/helpers.js';
import {
  accessGuard,
  buildServer,
  metricSample,
  openClient,
  signToken,
  type TestServer,
} from '../helpers.js';

const SHOP = 'https://shop.acme.example';
const EVIL = 'https://evil.example';

/** Connects with `claims` and `origin` (none when undefined); resolves how it went. */
async function attempt(
  t: Test,
  srv: TestServer,
  claims: Record<string, unknown>,
  origin: string | undefined,
): Promise<'established' | string> {
  const client = openClient(srv.wsUrl, signToken(claims), origin === undefined ? {} : { origin });
  t.teardown(() => client.close());
  const first = await Promise.race([
    client.established().then(() => 'established' as const),
    client.closed.then(({ code, reason }) => `${code} ${reason}`),
  ]);
  if (first !== 'established') t.same(client.received, [], 'nothing is sent before the close');
  return first;
}

const visitor = (origin?: string) => ({ role: 'visitor', sub: 'v_1', origin });

t.test('a browser on the page the token was issued to is accepted', async (t) => {
  const srv = await buildServer(t);
  t.equal(await attempt(t, srv, visitor(SHOP), SHOP), 'established');
  t.equal(
    await attempt(t, srv, visitor(SHOP), 'HTTPS://Shop.Acme.Example:443'),
    'established',
    'compared normalised',
  );
  t.equal(await attempt(t, srv, visitor('null'), 'null'), 'established', 'an opaque origin too');
});

t.test("a browser on the web host's own page is accepted with any visitor token", async (t) => {
  const srv = await buildServer(t);
  // No WEB_ORIGINS: the Host's hostname (127.0.0.1) with WEB_PORT (3000).
  t.equal(await attempt(t, srv, visitor(SHOP), 'http://127.0.0.1:3000'), 'established');
  t.equal(await attempt(t, srv, visitor(SHOP), 'https://127.0.0.1:3000'), 'established');
  t.equal(
    await attempt(t, srv, visitor(SHOP), 'http://127.0.0.1:4000'),
    '4001 origin',
    'another port of the same host is another origin',
  );
});

t.test('a browser on another page is closed with 4001 origin, counted', async (t) => {
  const srv = await buildServer(t);
  t.equal(await attempt(t, srv, visitor(SHOP), EVIL), '4001 origin');
  t.equal(await attempt(t, srv, visitor(SHOP), 'http://shop.acme.example'), '4001 origin');
  t.equal(await attempt(t, srv, visitor(SHOP), 'null'), '4001 origin');
  t.equal(await attempt(t, srv, visitor('null'), EVIL), '4001 origin');
  t.equal(await metricSample(srv, 'calldocker_auth_failures_total{reason="origin"}'), 4);
  t.equal(await metricSample(srv, 'calldocker_closes_total{code="4001"}'), 4);
});

t.test('a client that sends no Origin is not checked', async (t) => {
  const srv = await buildServer(t);
  t.equal(await attempt(t, srv, visitor(SHOP), undefined), 'established');
});

t.test('agent tokens are not checked, with or without an origin claim', async (t) => {
  const srv = await buildServer(t);
  const agent = { role: 'agent', sub: 'agent-1', name: 'Alice' };
  t.equal(await attempt(t, srv, agent, EVIL), 'established');
  t.equal(await attempt(t, srv, { ...agent, sub: 'agent-2', origin: SHOP }, EVIL), 'established');
});

t.test("WEB_ORIGINS replaces the derived web host's origins", async (t) => {
  const srv = await buildServer(t, { webOrigins: ['https://calls.example'] });
  t.equal(await attempt(t, srv, visitor(SHOP), 'https://calls.example'), 'established');
  t.equal(await attempt(t, srv, visitor(SHOP), 'http://127.0.0.1:3000'), '4001 origin');
});

t.test(
  "on port 80 or 443 the web host's origins include both schemes without a port",
  async (t) => {
    for (const webPort of [80, 443]) {
      t.same(webOriginsFor({ webOrigins: [], webPort }, 'calls.example:8081'), [
        webPort === 80 ? 'http://calls.example' : 'http://calls.example:443',
        webPort === 80 ? 'https://calls.example:80' : 'https://calls.example',
        webPort === 80 ? 'https://calls.example' : 'http://calls.example',
      ]);
    }
    t.same(webOriginsFor({ webOrigins: [], webPort: 3000 }, '[::1]:8081'), [
      'http://[::1]:3000',
      'https://[::1]:3000',
    ]);
    t.same(webOriginsFor({ webOrigins: [], webPort: 3000 }, undefined), [], 'no Host, none');
    t.same(webOriginsFor({ webOrigins: [], webPort: 3000 }, 'a@b'), [], 'nor for a bad one');
    const srv = await buildServer(t, { webPort: 443 });
    t.equal(await attempt(t, srv, visitor(SHOP), 'https://127.0.0.1'), 'established');
  },
);

t.test("a token without an origin claim is held to its company's list", async (t) => {
  const { db } = await openTestDatabase(t);
  await createCompany(db, 'acme', 'Acme');
  await createCompany(db, 'open', 'Open');
  await setAllowedOrigins(db, 'acme', [SHOP]);
  const srv = await buildServer(t, {}, { access: accessGuard(t, db) });
  const acme = { role: 'visitor', sub: 'v_2', company_id: 'acme' };
  t.equal(await attempt(t, srv, acme, SHOP), 'established', 'a listed origin');
  t.equal(await attempt(t, srv, acme, 'http://127.0.0.1:3000'), 'established', 'the web host');
  t.equal(await attempt(t, srv, acme, undefined), 'established', 'no Origin');
  t.equal(await attempt(t, srv, acme, EVIL), '4001 origin', 'an unlisted origin');
  t.equal(await attempt(t, srv, acme, 'null'), '4001 origin', 'an opaque one');
  t.equal(await metricSample(srv, 'calldocker_auth_failures_total{reason="origin"}'), 2);
  const open = { role: 'visitor', sub: 'v_3', company_id: 'open' };
  t.equal(await attempt(t, srv, open, EVIL), 'established', 'a company listing none');
  const unknown = { role: 'visitor', sub: 'v_4', company_id: 'own-idp-co' };
  t.equal(await attempt(t, srv, unknown, EVIL), 'established', 'a company the database lacks');
});

t.test('a failing list lookup refuses the upgrade as not admitted', async (t) => {
  const srv = await buildServer(
    t,
    {},
    {
      allowedOrigins: () => Promise.reject(new Error('database gone')),
    },
  );
  t.equal(await attempt(t, srv, { role: 'visitor', sub: 'v_5' }, EVIL), '4003 not admitted');
  t.equal(
    await attempt(t, srv, { role: 'visitor', sub: 'v_6' }, undefined),
    'established',
    'the lookup is made only when it decides something',
  );
});

t.test('one cached company answer serves admission and origins, until set-origins', async (t) => {
  const { db } = await openTestDatabase(t);
  await createCompany(db, 'acme', 'Acme');
  await setAllowedOrigins(db, 'acme', [SHOP]);
  const guard = accessGuard(t, db, { pollMs: 60_000 });
  const visitor = { userId: 'v', role: 'visitor' as const, companyId: 'acme', name: 'V', exp: 0 };
  t.same(await guard.allowedOrigins('acme'), [SHOP]);
  // A hand edit of the row writes no journal row: the cached answer holds for its lifetime.
  await db
    .updateTable('companies')
    .set({ disabled: 1, settings: '{}' })
    .where('id', '=', 'acme')
    .execute();
  t.same(await guard.allowedOrigins('acme'), [SHOP], 'within the cache time, unchanged');
  t.equal(await guard.check(visitor), 'ok', 'and admission reads the same cached row');
  await setAllowedOrigins(db, 'acme', []);
  await guard.poll();
  t.same(await guard.allowedOrigins('acme'), [], 'set-origins journals its change: read anew');
  t.equal(await guard.check(visitor), 'company_disabled', 'admission too');
});
