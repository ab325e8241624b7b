import { generateKeyPairSync } from 'node:crypto';
import jwt from 'jsonwebtoken';
import t from 'tap';
import { verifyToken } from '../../auth/verify.js';
import { setAgentDisabled, setCompanyDisabled } from '../../db/access.js';
import { PASSWORD, TEST_JWT, bearer, claimsOf, errorOf, tokenFor, tokenOf } from './helpers.js';
import {
  AGENT_TTL_S,
  VISITOR_TTL_S,
  login,
  nowS,
  refresh,
  setup,
  visitorToken,
} from './accounts.js';

t.test(
  'a visitor token carries role visitor, a v_ id and the trimmed name, and is short-lived',
  async (t) => {
    const { app } = await setup(t);
    const before = nowS();
    const res = await visitorToken(app, { companyId: 'acme', name: '  Vera Visitor  ' });
    t.equal(res.statusCode, 200);
    const body = res.json();
    t.same(Object.keys(body).sort(), ['expiresAt', 'token', 'visitorId']);
    t.match(body.visitorId, /^v_[A-Za-z0-9_-]{16}$/);
    const claims = claimsOf(body.token);
    t.equal(claims.sub, body.visitorId);
    t.equal(claims.role, 'visitor');
    t.equal(claims.company_id, 'acme');
    t.equal(claims.name, 'Vera Visitor');
    t.ok(
      (claims.exp as number) - before >= VISITOR_TTL_S &&
        (claims.exp as number) - nowS() <= VISITOR_TTL_S,
    );
    t.equal(body.expiresAt, new Date((claims.exp as number) * 1000).toISOString());
    t.equal(verifyToken(body.token, TEST_JWT).name, 'Vera Visitor');

    const anonymous = await visitorToken(app, { companyId: 'acme' });
    t.equal(anonymous.statusCode, 200);
    t.notOk('name' in claimsOf(anonymous.json().token), 'no name claim without a name');
    t.equal(verifyToken(anonymous.json().token, TEST_JWT).name, 'Visitor');
    t.not(anonymous.json().visitorId, body.visitorId, 'every visitor gets its own id');

    const blank = await visitorToken(app, { companyId: 'acme', name: '   ' });
    t.notOk('name' in claimsOf(blank.json().token), 'a blank name is no name');

    const longest = await visitorToken(app, { companyId: 'acme', name: 'n'.repeat(100) });
    t.equal(longest.statusCode, 200, '100 characters is allowed');
  },
);

t.test('a visitor token for an unknown or disabled company is 404 not_found', async (t) => {
  const { app, database } = await setup(t);
  await setCompanyDisabled(database.db, 'globex', true);
  for (const companyId of ['nope', 'globex', 'ACME']) {
    const res = await visitorToken(app, { companyId });
    t.equal(res.statusCode, 404, companyId);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'not_found' }, companyId);
  }
  await setCompanyDisabled(database.db, 'globex', false);
  t.equal((await visitorToken(app, { companyId: 'globex' })).statusCode, 200, 're-enabled');
});

t.test('visitor-token rejects bad bodies with bad_request', async (t) => {
  const { app } = await setup(t);
  const cases: Record<string, unknown> = {
    'no company': { name: 'Vera' },
    'empty company': { companyId: '' },
    'company too long': { companyId: 'a'.repeat(65) },
    'name not a string': { companyId: 'acme', name: 7 },
    'name over 100 characters': { companyId: 'acme', name: 'n'.repeat(101) },
    'name with a control character': { companyId: 'acme', name: 'Vera\u0000' },
    'name with a newline': { companyId: 'acme', name: 'Vera\nVisitor' },
    'an unknown field': { companyId: 'acme', role: 'admin' },
  };
  for (const [name, payload] of Object.entries(cases)) {
    const res = await visitorToken(app, payload as Record<string, unknown>);
    t.equal(res.statusCode, 400, name);
    t.equal(errorOf(res.body).error, 'bad_request', name);
  }
});

t.test('refresh renews a valid agent token with the same subject and a new expiry', async (t) => {
  const { app, alice } = await setup(t);
  const old = tokenFor({
    sub: alice.id,
    role: 'agent',
    company_id: 'acme',
    name: 'Alice Agent',
    exp: nowS() + 60,
  });
  const before = nowS();
  const res = await refresh(app, bearer(old));
  t.equal(res.statusCode, 200);
  t.same(Object.keys(res.json()).sort(), ['expiresAt', 'token']);
  const claims = claimsOf(res.json().token);
  t.same(
    { sub: claims.sub, role: claims.role, company_id: claims.company_id, name: claims.name },
    { sub: alice.id, role: 'agent', company_id: 'acme', name: 'Alice Agent' },
  );
  t.ok((claims.exp as number) >= before + AGENT_TTL_S);
  t.equal(verifyToken(res.json().token, TEST_JWT).userId, alice.id);

  const lower = await refresh(app, { authorization: `bearer ${old}` });
  t.equal(lower.statusCode, 200, 'the scheme is case-insensitive');
});

t.test(
  'refresh renews a visitor token with the visitor TTL and keeps its id and name',
  async (t) => {
    const { app } = await setup(t);
    const issued = (await visitorToken(app, { companyId: 'acme', name: 'Vera' })).json();
    const res = await refresh(app, bearer(issued.token));
    t.equal(res.statusCode, 200);
    const claims = claimsOf(res.json().token);
    t.equal(claims.sub, issued.visitorId);
    t.equal(claims.role, 'visitor');
    t.equal(claims.name, 'Vera');
    t.equal(claims.company_id, 'acme');
    t.equal(claims.exp, (claims.iat as number) + VISITOR_TTL_S);
  },
);

t.test(
  'refresh refuses missing, malformed, expired and foreign tokens with 401 unauthorized',
  async (t) => {
    const { app, alice } = await setup(t);
    const claims = { sub: alice.id, role: 'agent', company_id: 'acme', name: 'Alice Agent' };
    const cases: Record<string, Record<string, string>> = {
      'no header': {},
      'an empty header': { authorization: '' },
      'another scheme': { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` },
      'no token after Bearer': { authorization: 'Bearer ' },
      'not a JWT': bearer('not-a-jwt'),
      expired: bearer(tokenFor({ ...claims, exp: nowS() - 10 })),
      'signed with another secret': bearer(
        tokenFor(claims, 'another-secret-entirely-0123456789abcdef'),
      ),
      'no exp': bearer(jwt.sign(claims, TEST_JWT.secret!, { algorithm: 'HS256' })),
      'alg none': bearer(jwt.sign({ ...claims, exp: nowS() + 60 }, '', { algorithm: 'none' })),
    };
    for (const [name, headers] of Object.entries(cases)) {
      const res = await refresh(app, headers);
      t.equal(res.statusCode, 401, name);
      t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'unauthorized' }, name);
      t.match(res.headers['www-authenticate'], /^Bearer/, name);
    }
  },
);

t.test('refresh refuses a deleted or disabled agent and a disabled company', async (t) => {
  const { app, database, alice, ada, globexAlice } = await setup(t);
  const aliceToken = tokenOf(alice);
  const visitor = (await visitorToken(app, { companyId: 'globex' })).json().token as string;

  await setAgentDisabled(database.db, 'acme', 'alice@example.test', true);
  const disabled = await refresh(app, bearer(aliceToken));
  t.equal(disabled.statusCode, 401, 'disabled agent');
  t.equal(errorOf(disabled.body).error, 'token_revoked');
  t.equal(disabled.json().message, 'token revoked: account disabled');
  t.equal((await refresh(app, bearer(tokenOf(ada)))).statusCode, 200, 'her colleague is fine');

  const unknown = tokenFor({ sub: 'no-such-agent', role: 'agent', company_id: 'acme' });
  t.equal((await refresh(app, bearer(unknown))).statusCode, 401, 'unknown agent');

  const crossed = tokenFor({ sub: globexAlice.id, role: 'admin', company_id: 'acme' });
  t.equal((await refresh(app, bearer(crossed))).statusCode, 401, "another company's agent id");

  await setCompanyDisabled(database.db, 'globex', true);
  for (const [name, token] of [
    ['disabled company', tokenOf(globexAlice)],
    ['visitor of a disabled company', visitor],
  ]) {
    const res = await refresh(app, bearer(token!));
    t.equal(res.statusCode, 401, name);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'token_revoked' }, name);
    t.equal(res.json().message, 'token revoked: company disabled', name);
  }
  const login2 = await login(app, {
    email: 'alice@example.test',
    password: PASSWORD,
    companyId: 'globex',
  });
  t.equal(login2.statusCode, 403, 'nor can its agents log in');
  t.equal(login2.json().error, 'company_disabled', 'and the right password is told why');
});

t.test('a refreshed admin token takes its role from the account as it is now', async (t) => {
  const { app, database, alice } = await setup(t);
  // A token claiming admin for an account that is an agent (a stale or forged claim).
  const claimed = tokenFor({ sub: alice.id, role: 'admin', company_id: 'acme' });
  const res = await refresh(app, bearer(claimed));
  t.equal(res.statusCode, 200);
  t.equal(claimsOf(res.json().token).role, 'agent');
  t.equal(claimsOf(res.json().token).name, 'Alice Agent');
  t.ok(database);
});

t.test('tokens carry the issuer and audience the deployment requires', async (t) => {
  const jwtConfig = { ...TEST_JWT, issuer: 'https://id.example.test', audience: 'calldocker' };
  const { app } = await setup(t, { jwt: jwtConfig });
  const res = await login(app, {
    email: 'alice@example.test',
    password: PASSWORD,
    companyId: 'acme',
  });
  t.equal(res.statusCode, 200);
  const claims = claimsOf(res.json().token);
  t.equal(claims.iss, 'https://id.example.test');
  t.equal(claims.aud, 'calldocker');
  t.equal(verifyToken(res.json().token, jwtConfig).role, 'agent');
  const renewed = await refresh(app, bearer(res.json().token));
  t.equal(renewed.statusCode, 200);
  t.equal(claimsOf(renewed.json().token).aud, 'calldocker');
});

t.test(
  'without a JWT secret the token routes answer 503 and the call log still reads',
  async (t) => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwtConfig = {
      secret: undefined,
      publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      issuer: undefined,
      audience: undefined,
    };
    const { app, alice } = await setup(t, { jwt: jwtConfig });
    const external = jwt.sign(
      { sub: alice.id, role: 'agent', company_id: 'acme', exp: nowS() + 60 },
      privateKey,
      { algorithm: 'ES256' },
    );
    const attempts = [
      login(app, { email: 'alice@example.test', password: PASSWORD, companyId: 'acme' }),
      visitorToken(app, { companyId: 'acme' }),
      refresh(app, bearer(external)),
    ];
    for (const res of await Promise.all(attempts)) {
      t.equal(res.statusCode, 503);
      t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'token_signing_unavailable' });
    }
    const calls = await app.inject({ method: 'GET', url: '/api/calls', headers: bearer(external) });
    t.equal(calls.statusCode, 200, 'a token from the identity provider reads the log');
  },
);
