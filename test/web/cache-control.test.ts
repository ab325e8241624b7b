/**
 * `Cache-Control: no-store` on every API answer over real HTTP: each route that carries a token
 * or personal data (tokens, the call log, its statistics and export, ratings, the embed check),
 * the rest of `/api`, preflights and errors; a route that sets its own caching keeps it, and
 * pages and hashed assets keep theirs.
 */
import t from 'tap';
import { PASSWORD, bearer, insertCall, listenOn, tokenFor, tokenOf } from './helpers.js';
import { setup } from './accounts.js';

const VERA = { id: 'v_vera', name: 'Vera' };

t.test('every API route answers with no-store, errors and preflights too', async (t) => {
  const s = await setup(t);
  s.app.get('/api/test/cached', async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=60').send({ cached: true }),
  );
  const { url } = await listenOn(s.app);
  const callId = await insertCall(s.database, {
    companyId: 'acme',
    createdAt: Date.now() - 200_000,
    state: 'ended',
    agent: s.alice,
    answeredAfterS: 10,
    endedAfterS: 100,
    endReason: 'hangup',
    visitor: VERA,
  });
  const admin = bearer(tokenOf(s.ada));
  const json = { 'content-type': 'application/json' };
  const visitor = bearer(tokenFor({ sub: VERA.id, role: 'visitor', company_id: 'acme' }));
  const requests: Array<[string, string, RequestInit, number]> = [
    [
      'login',
      '/api/auth/login',
      {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          companyId: 'acme',
          email: 'alice@example.test',
          password: PASSWORD,
        }),
      },
      200,
    ],
    [
      'visitor token',
      '/api/visitor-token',
      { method: 'POST', headers: json, body: JSON.stringify({ companyId: 'acme', name: 'Vera' }) },
      200,
    ],
    ['refresh', '/api/token/refresh', { method: 'POST', headers: admin }, 200],
    ['call log', '/api/calls', { headers: admin }, 200],
    ['statistics', '/api/calls/stats', { headers: admin }, 200],
    ['export', '/api/calls/export.csv', { headers: admin }, 200],
    [
      'rating',
      `/api/calls/${callId}/rating`,
      { method: 'POST', headers: { ...visitor, ...json }, body: JSON.stringify({ stars: 5 }) },
      201,
    ],
    ['embed check', '/api/embed/acme?origin=https%3A%2F%2Fshop.example', {}, 200],
    ['config', '/api/config', {}, 200],
    ['health', '/api/health', {}, 200],
    ['OpenAPI document', '/api/docs/json', {}, 200],
    [
      'preflight',
      '/api/visitor-token',
      {
        method: 'OPTIONS',
        headers: { origin: 'https://shop.example', 'access-control-request-method': 'POST' },
      },
      204,
    ],
    ['call log without a token', '/api/calls', {}, 401],
    ['unknown API path', '/api/nope', {}, 404],
    ['login with a bad body', '/api/auth/login', { method: 'POST', headers: json, body: '{' }, 400],
  ];
  for (const [name, path, init, status] of requests) {
    const res = await fetch(`${url}${path}`, init);
    t.equal(res.status, status, `${name}: ${status}`);
    t.equal(res.headers.get('cache-control'), 'no-store', `${name}: no-store`);
  }

  const cached = await fetch(`${url}/api/test/cached`);
  t.equal(cached.headers.get('cache-control'), 'public, max-age=60', 'a route may opt in');
});

t.test('pages revalidate and files keep their own caching', async (t) => {
  const s = await setup(t);
  const { url } = await listenOn(s.app);
  t.equal((await fetch(`${url}/agent`)).headers.get('cache-control'), 'no-cache');
  t.equal((await fetch(`${url}/widget.js`)).headers.get('cache-control'), 'public, max-age=300');
  t.equal((await fetch(`${url}/status.js`)).headers.get('cache-control'), 'public, max-age=0');
});
