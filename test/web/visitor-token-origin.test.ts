/**
 * `POST /api/visitor-token` from browsers: same-origin pages and server-side callers as before,
 * pages of other sites only where the company allows them (CORS), the preflight, and the
 * `origin` claim every visitor token carries when its request had an `Origin`.
 */
import t from 'tap';
import { verifyToken } from '../../auth/verify.js';
import { AuthError, AuthFailure } from '../../server/errors.js';
import { setAllowedOrigins } from '../../db/company-settings.js';
import { PREFLIGHT_MAX_AGE_S } from '../../web/cors.js';
import { TEST_JWT, bearer, claimsOf, errorOf, tokenFor, tokenOf } from './helpers.js';
import { setup, type App } from './accounts.js';

const SHOP = 'https://shop.acme.example';

/** `POST /api/visitor-token` with extra headers (inject's Host is `localhost:80`). */
function post(app: App, companyId: string, headers: Record<string, string> = {}) {
  return app.inject({
    method: 'POST',
    url: '/api/visitor-token',
    payload: { companyId },
    headers,
  });
}

/** A host where acme lists only {@link SHOP}; globex lists none. */
async function listed(t: Parameters<typeof setup>[0], options: Parameters<typeof setup>[1] = {}) {
  const built = await setup(t, options);
  await setAllowedOrigins(built.database.db, 'acme', [SHOP]);
  return built;
}

t.test('a request without Origin gets a token without an origin claim, as before', async (t) => {
  const { app } = await listed(t);
  const res = await post(app, 'acme');
  t.equal(res.statusCode, 200);
  t.notOk('origin' in claimsOf(res.json().token), 'no origin claim');
  t.equal(res.headers['access-control-allow-origin'], undefined, 'no CORS header');
  t.equal(res.headers['vary'], 'origin');
});

t.test('a same-origin page gets a token whose origin claim is the host itself', async (t) => {
  const { app } = await listed(t);
  const res = await post(app, 'acme', {
    host: 'calls.example:3000',
    origin: 'http://calls.example:3000',
  });
  t.equal(res.statusCode, 200, 'allowed although acme does not list its own host');
  t.equal(claimsOf(res.json().token).origin, 'http://calls.example:3000');
  t.equal(res.headers['access-control-allow-origin'], undefined, 'same origin needs no CORS');
  t.equal(verifyToken(res.json().token, TEST_JWT).origin, 'http://calls.example:3000');
});

t.test('behind a trusted proxy the own origin is the forwarded scheme and host', async (t) => {
  const { app } = await listed(t, { trustProxy: true });
  const res = await post(app, 'acme', {
    host: 'web:3000',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'calls.example',
    origin: 'https://calls.example',
  });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['access-control-allow-origin'], undefined);
  t.equal(claimsOf(res.json().token).origin, 'https://calls.example');

  const untrusted = await setup(t);
  await setAllowedOrigins(untrusted.database.db, 'acme', [SHOP]);
  const spoofed = await post(untrusted.app, 'acme', {
    host: 'web:3000',
    'x-forwarded-proto': 'https',
    'x-forwarded-host': 'calls.example',
    origin: 'https://calls.example',
  });
  t.equal(spoofed.statusCode, 403, 'without trustProxy the forwarded headers are not believed');
});

t.test('a listed cross-origin page gets a token it can read, with its origin claim', async (t) => {
  const { app } = await listed(t);
  const res = await post(app, 'acme', { origin: SHOP });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['access-control-allow-origin'], SHOP);
  t.equal(res.headers['vary'], 'origin');
  t.equal(claimsOf(res.json().token).origin, SHOP);
});

t.test('a company listing no origins serves a page of any site', async (t) => {
  const { app } = await listed(t);
  for (const origin of ['https://anywhere.example', 'null']) {
    const res = await post(app, 'globex', { origin });
    t.equal(res.statusCode, 200, origin);
    t.equal(res.headers['access-control-allow-origin'], origin);
    t.equal(claimsOf(res.json().token).origin, origin);
  }
});

t.test('an unlisted cross-origin page is refused 403 origin_not_allowed', async (t) => {
  const { app } = await listed(t);
  for (const origin of ['https://evil.example', 'http://shop.acme.example', 'null']) {
    const res = await post(app, 'acme', { origin });
    t.equal(res.statusCode, 403, origin);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'origin_not_allowed' });
    t.notOk('token' in res.json(), 'no token');
    t.equal(res.headers['access-control-allow-origin'], origin, 'the page may read why');
  }
});

t.test('an Origin header that is not an origin is 400 bad_request', async (t) => {
  const { app } = await listed(t);
  for (const origin of ['https://shop.acme.example/path', 'ftp://x', '*', `${SHOP}, ${SHOP}`]) {
    const res = await post(app, 'globex', { origin });
    t.equal(res.statusCode, 400, origin);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'bad_request' }, origin);
    t.equal(res.headers['access-control-allow-origin'], undefined);
  }
});

t.test('other errors of a cross-origin request are readable by the page', async (t) => {
  const { app } = await listed(t);
  const res = await post(app, 'nope', { origin: SHOP });
  t.equal(res.statusCode, 404);
  t.equal(res.headers['access-control-allow-origin'], SHOP);
});

t.test('the preflight allows POST with a JSON body from any origin', async (t) => {
  const { app } = await listed(t);
  const res = await app.inject({
    method: 'OPTIONS',
    url: '/api/visitor-token',
    headers: {
      origin: 'https://evil.example',
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'content-type',
    },
  });
  t.equal(res.statusCode, 204);
  t.equal(res.body, '');
  t.equal(res.headers['access-control-allow-origin'], 'https://evil.example');
  t.equal(res.headers['access-control-allow-methods'], 'POST');
  t.equal(res.headers['access-control-allow-headers'], 'content-type');
  t.equal(res.headers['access-control-max-age'], String(PREFLIGHT_MAX_AGE_S));
  t.equal(res.headers['vary'], 'origin');

  const plain = await app.inject({ method: 'OPTIONS', url: '/api/visitor-token' });
  t.equal(plain.statusCode, 204, 'OPTIONS without Origin is no preflight');
  t.equal(plain.headers['access-control-allow-origin'], undefined);
  t.equal(plain.headers['allow'], 'POST, OPTIONS');
});

t.test('the preflight is answered on a deployment that cannot issue tokens', async (t) => {
  const { app } = await listed(t, { jwt: { ...TEST_JWT, secret: undefined } });
  const preflight = await app.inject({
    method: 'OPTIONS',
    url: '/api/visitor-token',
    headers: { origin: SHOP, 'access-control-request-method': 'POST' },
  });
  t.equal(preflight.statusCode, 204);
  const res = await post(app, 'acme', { origin: SHOP });
  t.equal(res.statusCode, 503);
  t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'token_signing_unavailable' });
  t.equal(res.headers['access-control-allow-origin'], SHOP, 'and the 503 is readable');
});

t.test('refresh keeps a visitor token origin claim; agent tokens get none', async (t) => {
  const { app, alice } = await listed(t);
  const visitor = tokenFor({ sub: 'v_abc', role: 'visitor', company_id: 'acme', origin: SHOP });
  const refreshed = await app.inject({
    method: 'POST',
    url: '/api/token/refresh',
    headers: bearer(visitor),
  });
  t.equal(refreshed.statusCode, 200);
  t.equal(claimsOf(refreshed.json().token).origin, SHOP);

  const agent = await app.inject({
    method: 'POST',
    url: '/api/token/refresh',
    headers: { ...bearer(tokenOf(alice)), origin: SHOP },
  });
  t.equal(agent.statusCode, 200);
  t.notOk('origin' in claimsOf(agent.json().token));
});

t.test('a token whose origin claim is not an origin is refused as a bad claim', async (t) => {
  for (const origin of ['https://x/path', 42, '*']) {
    const token = tokenFor({ sub: 'v_abc', role: 'visitor', company_id: 'acme', origin });
    t.throws(
      () => verifyToken(token, TEST_JWT),
      new AuthError(AuthFailure.BadClaim),
      String(origin),
    );
  }
  const upper = tokenFor({
    sub: 'v',
    role: 'visitor',
    company_id: 'acme',
    origin: 'HTTPS://A.B:443',
  });
  t.equal(verifyToken(upper, TEST_JWT).origin, 'https://a.b', 'a valid one reads normalised');
});
